#include "conflict/push_apply.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <set>

#include "conflict/rules.h"
#include "ext/named_constants.h"
#include "sync/row_store.h"
#include "base/catalog.h"
#include "base/connection_state.h"
#include "base/table_definition.h"

namespace zumero::conflict {
namespace {

using sync::Row;
using sync::RowState;
using sync::RowStore;
using sync::Value;

const std::string kMain = "main";

nlohmann::ordered_json value_json(const Value &value) {
  switch (value.type) {
    case Value::Integer: return value.integer;
    case Value::Real: return value.real;
    case Value::Text: return value.bytes;
    case Value::Blob: {
      static const char digits[] = "0123456789abcdef";
      std::string hex;
      for (unsigned char c : value.bytes) {
        hex += digits[c >> 4];
        hex += digits[c & 15];
      }
      return "x'" + hex + "'";
    }
    default: return nullptr;
  }
}

std::string row_json(const std::vector<std::string> &columns, const std::optional<Row> &row) {
  if (!row) return "null";
  nlohmann::ordered_json object = nlohmann::ordered_json::object();
  for (size_t i = 0; i < columns.size() && i < row->size(); ++i) object[columns[i]] = value_json((*row)[i]);
  return object.dump();
}

// What the server decided for one row identity.
struct Outcome {
  std::int64_t recid = 0;
  std::optional<Row> state;  // nullopt: deleted
  bool echo = false;         // exactly what the client sent, under the same identity
  bool was_live = false;     // a live version exists now and moves to history
  std::int64_t old_rv = 0;   // the version of that live version
};

struct AuditRecord {
  std::string table, ancestor, already, incoming, result;
};

class PushApplier {
public:
  PushApplier(sqlite3 *db, std::int64_t base, std::int64_t version)
      : db_(db), base_(base), version_(version), rules_(Rules::load(db, kMain)) {}

  sync::Package run(sync::Package package);

private:
  RowStore &store(const std::string &table);
  void apply_schema(const sync::SchemaEntry &entry);
  void plan_renumbering(const std::vector<sync::TableSection> &sections);
  // Returns, per row, whether its identity or a reference was changed.
  std::vector<bool> rewrite_references(sync::TableSection &section);
  // May move the incoming values into the outcome.
  std::optional<Outcome> resolve(RowStore &store, RowState &incoming);
  std::optional<Row> merge_columns(RowStore &store, const Row &ancestor, const Row &already, const Row &incoming);
  void write(RowStore &store, const std::vector<Outcome> &outcomes);
  void write_audit();
  [[noreturn]] void reject_constraint(const Error &error, const std::string &table, const std::optional<Row> &row);
  void check_foreign_keys();

  sqlite3 *db_;
  std::int64_t base_;
  std::int64_t version_;
  Rules rules_;
  std::map<std::string, std::unique_ptr<RowStore>> stores_;
  std::map<std::string, std::map<std::int64_t, std::int64_t>> renumbered_;  // table -> old -> new
  std::vector<AuditRecord> audit_;
  std::set<std::string> touched_;
  bool audit_stores_checked_ = false;
  bool has_audit_ = false;
};

RowStore &PushApplier::store(const std::string &table) {
  auto found = stores_.find(table);
  if (found != stores_.end()) return *found->second;
  auto created = std::make_unique<RowStore>(db_, kMain, table);
  created->ensure_server_indexes();
  return *stores_.emplace(table, std::move(created)).first->second;
}

void PushApplier::apply_schema(const sync::SchemaEntry &entry) {
  if (entry.kind == "create_table") {
    std::vector<std::string> arguments = arguments_from_json(entry.detail);
    auto existing = load_table_definition(db_, kMain, entry.table);
    if (existing) {
      std::vector<std::string> existing_arguments = existing->arguments();
      if (existing_arguments.size() < arguments.size()) throw Rejection("column_definition_mismatch", "{}");
      for (size_t i = 0; i < arguments.size(); ++i)
        if (existing_arguments[i] != arguments[i])
          throw Rejection("column_definition_mismatch", nlohmann::json{{"table", entry.table}}.dump());
      return;  // the same table, created on another client too
    }
    exec(db_, create_virtual_table_sql(kMain, entry.table, parse_table_definition(arguments)));
  } else if (entry.kind == "add_column") {
    std::string definition = nlohmann::json::parse(entry.detail).value("definition", "");
    auto existing = load_table_definition(db_, kMain, entry.table);
    if (!existing) throw Rejection("column_definition_mismatch", "{}");
    ColumnDefinition column = parse_column_definition(definition);
    int index = existing->column_index(column.name);
    if (index >= 0) {
      if (existing->arguments()[index + (existing->strict_types ? 1 : 0)] != definition)
        throw Rejection("column_definition_mismatch",
                        nlohmann::json{{"table", entry.table}, {"column", column.name}}.dump());
      return;
    }
    Statement add(db_, "SELECT zumero_alter_table_add_column('main', ?1, ?2)");
    add.bind(1, entry.table).bind(2, definition).run();
    stores_.erase(entry.table);
  } else if (entry.kind != "row_rule" && entry.kind != "column_rule") {
    throw Rejection("invalid_argument", "{}");
  }
  record_schema_change(db_, kMain, entry.kind,
                       entry.table.empty() ? std::nullopt : std::optional<std::string>(entry.table), entry.detail,
                       version_);
  if (entry.kind == "row_rule" || entry.kind == "column_rule") rules_ = Rules::load(db_, kMain);
}

// An inserted row whose identity the server already gave to another row created after
// the client's base gets a fresh identity, unless its table keeps INTEGER PRIMARY KEY
// values (z_ipk_no_change_on_sync): then it stays, and the insert fails as UNIQUE.
void PushApplier::plan_renumbering(const std::vector<sync::TableSection> &sections) {
  for (const sync::TableSection &section : sections) {
    RowStore &rows = store(section.name);
    bool may_renumber = rows.definition().integer_primary_key < 0 || rows.definition().renumber_on_sync;
    if (!may_renumber) continue;
    std::int64_t next = rows.max_recid();
    for (const RowState &row : section.rows) next = std::max(next, row.recid);
    for (const RowState &row : section.rows) {
      if (row.kind != RowState::Live) continue;
      std::optional<sync::VersionInfo> current = rows.version(row.recid);
      if (!current || current->rv <= base_) continue;
      if (rows.state_as_of(row.recid, base_)) continue;  // the client knew this row
      renumbered_[section.name][row.recid] = ++next;
    }
  }
}

// References to renumbered INTEGER PRIMARY KEY values follow them.
std::vector<bool> PushApplier::rewrite_references(sync::TableSection &section) {
  const TableDefinition &definition = store(section.name).definition();
  auto own = renumbered_.find(section.name);
  std::vector<bool> changed(section.rows.size(), false);
  for (size_t r = 0; r < section.rows.size(); ++r) {
    RowState &row = section.rows[r];
    if (own != renumbered_.end()) {
      auto moved = own->second.find(row.recid);
      if (moved != own->second.end()) {
        changed[r] = true;
        row.recid = moved->second;
        if (definition.integer_primary_key >= 0 && row.kind == RowState::Live)
          row.values[definition.integer_primary_key] = Value{Value::Integer, row.recid, 0, {}};
      }
    }
    if (row.kind != RowState::Live) continue;
    for (size_t i = 0; i < definition.columns.size() && i < row.values.size(); ++i) {
      const auto &reference = definition.columns[i].reference;
      if (!reference || row.values[i].type != Value::Integer) continue;
      auto target = renumbered_.find(reference->table);
      if (target == renumbered_.end()) continue;
      const TableDefinition &parent = store(reference->table).definition();
      bool to_key = parent.integer_primary_key >= 0 &&
                    (reference->columns.empty() ||
                     iequals(reference->columns[0], parent.columns[parent.integer_primary_key].name));
      if (!to_key) continue;
      auto moved = target->second.find(row.values[i].integer);
      if (moved != target->second.end()) {
        row.values[i].integer = moved->second;
        changed[r] = true;
      }
    }
  }
  return changed;
}

bool same_row(const Row &a, const Row &b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!a[i].same_as(b[i]) || a[i].type != b[i].type) return false;
  return true;
}

std::optional<Row> PushApplier::merge_columns(RowStore &rows, const Row &ancestor, const Row &already,
                                              const Row &incoming) {
  Row merged = already;
  const auto &columns = rows.definition().columns;
  for (size_t i = 0; i < columns.size() && i < incoming.size(); ++i) {
    bool ours = i >= ancestor.size() || !incoming[i].same_as(ancestor[i]);
    bool theirs = i >= ancestor.size() || !already[i].same_as(ancestor[i]);
    if (!ours) continue;
    if (!theirs || incoming[i].same_as(already[i])) {
      merged[i] = incoming[i];
      continue;
    }
    std::int64_t chosen = rules_.column_action(rows.name(), columns[i].name);
    if ((chosen & action::kAttemptTextMerge) && i < ancestor.size() && ancestor[i].type == Value::Text &&
        already[i].type == Value::Text && incoming[i].type == Value::Text) {
      std::optional<std::string> text = merge_text(ancestor[i].bytes, already[i].bytes, incoming[i].bytes);
      if (text) {
        merged[i] = Value{Value::Text, 0, 0, *text};
        continue;
      }
    }
    chosen &= ~action::kAttemptTextMerge;
    if (chosen == action::kReject) throw Rejection("package_rejected", nlohmann::json{{"table", rows.name()}}.dump());
    if (chosen == action::kAccept || chosen == action::kDefault) merged[i] = incoming[i];
  }
  return merged;
}

std::optional<Outcome> PushApplier::resolve(RowStore &rows, RowState &incoming) {
  Outcome outcome;
  outcome.recid = incoming.recid;
  bool deleting = incoming.kind == RowState::Deleted;
  std::optional<sync::VersionInfo> current = rows.version(incoming.recid);
  std::optional<Row> now = current && !current->deleted ? rows.live_row(incoming.recid) : std::nullopt;
  outcome.was_live = now.has_value();
  outcome.old_rv = current ? current->rv : 0;
  auto take_incoming = [&]() -> std::optional<Outcome> {
    if (!deleting && now && same_row(*now, incoming.values)) return std::nullopt;  // nothing changes
    if (deleting && !now) return std::nullopt;
    if (!deleting) outcome.state = std::move(incoming.values);
    outcome.echo = true;
    return outcome;
  };
  if (!current || current->rv <= base_) return take_incoming();

  std::optional<RowState> ancestor = rows.state_as_of(incoming.recid, base_);
  if (!ancestor) {
    // The server gave this identity to a row created after the client's base.
    if (deleting) return std::nullopt;  // the client inserted and deleted a row of its own
    // Renumbering would have moved it: this table keeps its INTEGER PRIMARY KEY values.
    nlohmann::ordered_json details;
    details["table"] = rows.name();
    details["constraint"] = "UNIQUE constraint failed: " + rows.name() + "." +
                            rows.definition().columns[std::max(rows.definition().integer_primary_key, 0)].name;
    details["row"] = nlohmann::ordered_json::parse(row_json(rows.column_names(), incoming.values));
    throw Rejection("unique_constraint_violation", details.dump());
  }
  bool ancestor_live = ancestor->kind == RowState::Live;
  std::int64_t situation;
  if (!now && deleting) return std::nullopt;  // deleted on both sides
  if (!now) situation = situation::kModAfterDel;
  else if (deleting) situation = situation::kDelAfterMod;
  else situation = situation::kModAfterMod;

  std::int64_t chosen = rules_.row_action(rows.name(), situation);
  std::optional<Row> result;
  bool changed = false;
  if (chosen == action::kReject) {
    throw Rejection("package_rejected", nlohmann::json{{"table", rows.name()}, {"situation", situation}}.dump());
  } else if (chosen == action::kAccept) {
    if (!deleting) result = incoming.values;
    changed = true;
  } else if (chosen == action::kColumnMerge && situation == situation::kModAfterMod) {
    Row base_row = ancestor_live ? ancestor->values : Row();
    result = merge_columns(rows, base_row, *now, incoming.values);
    changed = !same_row(*result, *now);
  } else {
    result = now;  // ignore
  }
  if (!audit_stores_checked_) {
    audit_stores_checked_ = true;
    has_audit_ = load_table_definition(db_, kMain, "z_audit").has_value();
  }
  if (has_audit_ && rows.name() != "z_audit") {
    std::vector<std::string> columns = rows.column_names();
    audit_.push_back({rows.name(), row_json(columns, ancestor_live ? std::optional<Row>(ancestor->values) : std::nullopt),
                      row_json(columns, now), row_json(columns, deleting ? std::nullopt : std::optional<Row>(incoming.values)),
                      row_json(columns, result)});
  }
  if (!changed) return std::nullopt;  // the server keeps its row; the pull tells the client
  outcome.echo = result.has_value() == !deleting && (!result || same_row(*result, incoming.values));
  outcome.state = std::move(result);
  return outcome;
}

[[noreturn]] void PushApplier::reject_constraint(const Error &error, const std::string &table,
                                                const std::optional<Row> &row) {
  int code = error.code();
  std::string identifier = "check_constraint_violation";
  if (code == SQLITE_CONSTRAINT_UNIQUE || code == SQLITE_CONSTRAINT_PRIMARYKEY) identifier = "unique_constraint_violation";
  if (code == SQLITE_CONSTRAINT_FOREIGNKEY) identifier = "foreign_key_constraint_violation";
  if ((code & 0xff) != SQLITE_CONSTRAINT) throw error;
  nlohmann::ordered_json details;
  details["table"] = table;
  details["constraint"] = user_facing_message(table, error.what());
  details["row"] = nlohmann::ordered_json::parse(row_json(store(table).column_names(), row));
  throw Rejection(identifier, details.dump());
}

void PushApplier::write(RowStore &rows, const std::vector<Outcome> &outcomes) {
  for (const Outcome &outcome : outcomes) {
    if (!outcome.was_live) continue;
    rows.archive_live(outcome.recid, outcome.old_rv, version_, !outcome.state.has_value());
    rows.delete_live(outcome.recid);
  }
}

// Rows removed first, then inserted: swaps of unique values inside one package work.
void insert_outcomes(RowStore &rows, const std::vector<Outcome> &outcomes, std::int64_t version,
                     const std::function<void(const Error &, const std::optional<Row> &)> &on_error) {
  for (const Outcome &outcome : outcomes) {
    if (outcome.state) {
      try {
        rows.insert_live(outcome.recid, *outcome.state);
      } catch (const Error &error) {
        on_error(error, outcome.state);
      }
    }
    rows.set_version(outcome.recid, version, !outcome.state.has_value());
  }
}

void PushApplier::check_foreign_keys() {
  std::optional<ForeignKeyViolation> violation =
      find_foreign_key_violation(db_, kMain, std::vector<std::string>(touched_.begin(), touched_.end()));
  if (!violation) return;
  RowStore &rows = store(violation->table);
  nlohmann::ordered_json details;
  details["table"] = violation->table;
  details["constraint"] = "FOREIGN KEY constraint failed";
  details["row"] = nlohmann::ordered_json::parse(row_json(rows.column_names(), rows.live_row(violation->recid)));
  throw Rejection("foreign_key_constraint_violation", details.dump());
}

// Incoming values in the table's column order; columns the client does not know yet
// keep the server's value (or NULL for a new row).
Row align_values(RowStore &rows, const sync::TableSection &section, const RowState &row) {
  const TableDefinition &definition = rows.definition();
  std::optional<Row> current;
  Row values(definition.columns.size());
  std::vector<int> positions;
  for (size_t i = 0; i < definition.columns.size(); ++i) {
    int found = -1;
    for (size_t j = 0; j < section.columns.size(); ++j)
      if (iequals(section.columns[j], definition.columns[i].name)) found = static_cast<int>(j);
    if (found >= 0 && static_cast<size_t>(found) < row.values.size()) {
      values[i] = row.values[found];
    } else {
      if (!current) current = rows.live_row(row.recid);
      if (current) values[i] = (*current)[i];
    }
  }
  return values;
}

sync::Package PushApplier::run(sync::Package package) {
  for (const sync::SchemaEntry &entry : package.schema) apply_schema(entry);
  std::vector<sync::TableSection> sections = std::move(package.tables);
  for (sync::TableSection &section : sections) {
    if (section.name.find('$') != std::string::npos) throw Rejection("invalid_argument", "{}");
    RowStore &rows = store(section.name);
    for (RowState &row : section.rows) {
      if (row.kind == RowState::History) throw Rejection("invalid_argument", "{}");
      if (row.kind == RowState::Live) row.values = align_values(rows, section, row);
    }
  }
  plan_renumbering(sections);
  std::vector<std::vector<bool>> rewritten;
  for (sync::TableSection &section : sections) rewritten.push_back(rewrite_references(section));

  std::vector<std::pair<RowStore *, std::vector<Outcome>>> decided;
  for (size_t t = 0; t < sections.size(); ++t) {
    RowStore &rows = store(sections[t].name);
    std::vector<Outcome> outcomes;
    std::set<std::int64_t> seen;
    for (size_t r = 0; r < sections[t].rows.size(); ++r) {
      RowState &row = sections[t].rows[r];
      if (!seen.insert(row.recid).second) throw Rejection("invalid_argument", "{}");
      std::optional<Outcome> outcome = resolve(rows, row);
      if (!outcome) continue;
      if (rewritten[t][r]) outcome->echo = false;  // the client holds other values or another id
      outcomes.push_back(std::move(*outcome));
    }
    if (!outcomes.empty()) touched_.insert(rows.name());
    decided.emplace_back(&rows, std::move(outcomes));
  }
  if (!audit_.empty()) {
    RowStore &audit = store("z_audit");
    std::vector<Outcome> outcomes;
    std::int64_t next = audit.max_recid();
    for (const AuditRecord &record : audit_) {
      Outcome outcome;
      outcome.recid = ++next;
      outcome.state = Row{Value{Value::Text, 0, 0, record.table}, Value{Value::Text, 0, 0, record.ancestor},
                          Value{Value::Text, 0, 0, record.already}, Value{Value::Text, 0, 0, record.incoming},
                          Value{Value::Text, 0, 0, record.result}};
      outcomes.push_back(outcome);
    }
    decided.emplace_back(&audit, std::move(outcomes));
  }
  for (auto &entry : decided) write(*entry.first, entry.second);
  for (auto &entry : decided) {
    RowStore &rows = *entry.first;
    insert_outcomes(rows, entry.second, version_,
                    [&](const Error &error, const std::optional<Row> &row) { reject_constraint(error, rows.name(), row); });
  }
  check_foreign_keys();

  sync::Package reply;
  for (auto &entry : decided) {
    sync::TableSection differs;
    differs.name = entry.first->name();
    differs.columns = entry.first->column_names();
    sync::EchoedRanges echoed;
    echoed.table = differs.name;
    std::vector<Outcome> outcomes = entry.second;
    std::sort(outcomes.begin(), outcomes.end(), [](const Outcome &a, const Outcome &b) { return a.recid < b.recid; });
    for (const Outcome &outcome : outcomes) {
      if (outcome.echo) {
        if (!echoed.ranges.empty() && echoed.ranges.back().second + 1 == outcome.recid) echoed.ranges.back().second++;
        else echoed.ranges.emplace_back(outcome.recid, outcome.recid);
        continue;
      }
      RowState state;
      state.recid = outcome.recid;
      state.rv = version_;
      state.kind = outcome.state ? RowState::Live : RowState::Deleted;
      if (outcome.state) state.values = *outcome.state;
      differs.rows.push_back(std::move(state));
    }
    if (!differs.rows.empty()) reply.tables.push_back(std::move(differs));
    if (!echoed.ranges.empty()) reply.echoed.push_back(std::move(echoed));
  }
  return reply;
}

}  // namespace

sync::Package apply_push(sqlite3 *db, sync::Package package, std::int64_t base, std::int64_t version) {
  ConnectionState *connection = ConnectionState::find(db);
  if (connection) connection->applying_remote = true;
  try {
    PushApplier applier(db, base, version);
    sync::Package reply = applier.run(std::move(package));
    if (connection) connection->applying_remote = false;
    return reply;
  } catch (...) {
    if (connection) connection->applying_remote = false;
    throw;
  }
}

}  // namespace zumero::conflict
