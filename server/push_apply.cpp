#include "base/json_text.h"
#include "server/push_apply.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <memory>

#include "base/catalog.h"
#include "base/connection_state.h"
#include "base/table_definition.h"
#include "conflict/resolver.h"
#include "sync/row_store.h"
#include "sync/schema_apply.h"

namespace zumero::server {
namespace {

using conflict::Decision;
using conflict::RowVersions;
using sync::IdRange;
using sync::PackageReader;
using sync::PackageWriter;
using sync::Renumbering;
using sync::Row;
using sync::RowState;
using sync::RowStore;
using sync::Value;

const std::string kMain = "main";
constexpr std::size_t kMaxPostponed = 100000;

nlohmann::ordered_json parsed_json(const std::string &text) {
  return parse_json<nlohmann::ordered_json>(text);
}

[[noreturn]] void malformed(const std::string &why) { throw Error(SQLITE_ERROR, "zumero:invalid_argument (" + why + ")"); }

// Everything the push does to one table.
struct TablePush {
  std::unique_ptr<RowStore> store;
  bool renumbers = false;
  std::optional<std::int64_t> last_recid;  // identities must increase within a push
  std::int64_t highest_incoming = INT64_MIN;
  std::vector<std::int64_t> moved_from;     // sorted: identities that get a new one
  std::vector<std::int64_t> moved_to;       // in the same order
  std::vector<std::int64_t> already_there;  // restored rows the server holds as sent
  std::vector<IdRange> echoed;
  PackageWriter differs;
  bool differs_open = false;
  std::unique_ptr<Statement> defaults;
  std::unique_ptr<Statement> find_origin, set_origin;

  std::optional<std::int64_t> moved(std::int64_t recid) const {
    auto at = std::lower_bound(moved_from.begin(), moved_from.end(), recid);
    if (at == moved_from.end() || *at != recid) return std::nullopt;
    return moved_to[at - moved_from.begin()];
  }
  bool restored_as_is(std::int64_t recid) const {
    return std::binary_search(already_there.begin(), already_there.end(), recid);
  }
};

// Rows clients offered again after the server lost the versions they came from: the
// lost version each came from, so the same row restored by two clients stays one row.
std::optional<std::int64_t> restored_origin(sqlite3 *db, TablePush &push, std::int64_t recid) {
  if (!push.find_origin)
    push.find_origin = std::make_unique<Statement>(db, "SELECT origin FROM \"t$restored\" WHERE tbl = ?1 AND recid = ?2");
  Statement &select = *push.find_origin;
  select.bind(1, push.store->name()).bind(2, recid);
  std::optional<std::int64_t> origin;
  if (select.step()) origin = select.column_int(0);
  select.reset();
  return origin;
}

void remember_origin(sqlite3 *db, TablePush &push, std::int64_t recid, std::int64_t origin) {
  if (!push.set_origin)
    push.set_origin = std::make_unique<Statement>(
        db, "INSERT INTO \"t$restored\" (tbl, recid, origin) VALUES (?1, ?2, ?3) "
            "ON CONFLICT (tbl, recid) DO UPDATE SET origin = max(origin, excluded.origin)");
  push.set_origin->bind(1, push.store->name()).bind(2, recid).bind(3, origin).run();
}

struct Postponed {
  TablePush *table;
  std::int64_t recid;
  Row values;
};

class PushApplier {
public:
  PushApplier(sqlite3 *db, std::int64_t base, std::int64_t version, PushObserver *observer)
      : db_(db), base_(base), version_(version), observer_(observer), rules_(conflict::Rules::load(db, kMain)),
        resolver_(rules_) {}

  std::string run(const PartSource &parts);

private:
  TablePush &table(const std::string &name);
  void apply_schema(const PartSource &parts);
  void plan(const PartSource &parts);
  void plan_row(TablePush &push, const std::vector<int> &columns, const RowState &row);
  void allocate_new_identities();
  void apply_rows(const PartSource &parts);
  void apply_row(TablePush &push, const std::vector<int> &columns, RowState &row);
  bool prepare_incoming(TablePush &push, const std::vector<int> &columns, const RowState &row, std::int64_t stored,
                        const std::optional<Row> &now, Row &values);
  bool follow_references(TablePush &push, Row &values);
  Row default_values(TablePush &push);
  void store_state(TablePush &push, std::int64_t recid, const std::optional<Row> &result, bool was_live,
                   std::int64_t old_rv);
  void add_differs(TablePush &push, std::int64_t recid, std::int64_t rv, const std::optional<Row> &state);
  void add_echo(TablePush &push, std::int64_t recid);
  void audit(TablePush &push, const RowVersions &versions, const std::optional<Row> &result);
  void retry_postponed();
  [[noreturn]] void reject_constraint(const Error &error, TablePush &push, const std::optional<Row> &row);
  [[noreturn]] void reject_identity(TablePush &push, const Row &row);
  void check_foreign_keys();
  std::string reply();

  sqlite3 *db_;
  std::int64_t base_;
  std::int64_t version_;
  PushObserver *observer_;
  conflict::Rules rules_;
  conflict::Resolver resolver_;
  NameMap<std::unique_ptr<TablePush>> tables_;
  std::vector<TablePush *> order_;  // tables in the order they first appeared
  std::vector<Postponed> postponed_;
  NameSet touched_;
  std::optional<bool> has_audit_;
  std::int64_t next_audit_ = 0;
};

TablePush &PushApplier::table(const std::string &name) {
  auto found = tables_.find(name);
  if (found != tables_.end()) return *found->second;
  if (!stored_table_name(db_, kMain, name)) malformed("no table named " + name);
  auto push = std::make_unique<TablePush>();
  push->store = std::make_unique<RowStore>(db_, kMain, name);
  push->store->ensure_server_indexes();
  const TableDefinition &definition = push->store->definition();
  push->renumbers = definition.integer_primary_key < 0 || definition.renumber_on_sync;
  TablePush &result = *push;
  order_.push_back(push.get());
  tables_.emplace(push->store->name(), std::move(push));
  return result;
}

void PushApplier::apply_schema(const PartSource &parts) {
  ConnectionState *connection = ConnectionState::find(db_).get();
  if (!connection) throw Error(SQLITE_MISUSE, "zumero: the dbfile connection has no zumero state");
  bool rules_changed = false;
  for (std::size_t i = 0; i < parts.count; ++i) {
    std::string part = parts.load(i);
    PackageReader reader(part);
    for (auto section = reader.next(); section != PackageReader::Section::End; section = reader.next()) {
      if (section != PackageReader::Section::Schema) continue;
      const sync::SchemaEntry &entry = reader.schema();
      if (observer_) observer_->schema_entry(entry);
      try {
        sync::apply_schema_entry(db_, *connection, kMain, entry, version_, std::nullopt);
      } catch (const Error &error) {
        if (std::string(error.what()) == "zumero:column_definition_mismatch")
          throw Rejection("column_definition_mismatch", nlohmann::json{{"table", entry.table}}.dump());
        throw;
      }
      rules_changed |= entry.kind == "row_rule" || entry.kind == "column_rule";
      tables_.erase(entry.table);  // an added column changes the table's shape
    }
  }
  order_.clear();
  tables_.clear();
  if (rules_changed) rules_ = conflict::Rules::load(db_, kMain);
}

// An inserted row whose identity the server gave to another row created after the
// client's base gets a fresh identity, unless its table keeps INTEGER PRIMARY KEY
// values (z_ipk_no_change_on_sync): then it stays, and the insert fails as UNIQUE.
void PushApplier::plan_row(TablePush &push, const std::vector<int> &columns, const RowState &row) {
  if (row.kind == RowState::History) malformed("history rows cannot be pushed");
  if (push.last_recid && row.recid <= *push.last_recid) malformed("rows out of order or repeated");
  push.last_recid = row.recid;
  push.highest_incoming = std::max(push.highest_incoming, row.recid);
  if (!row.live() || !push.renumbers) return;
  std::optional<sync::VersionInfo> current = push.store->version(row.recid);
  if (!current || current->rv <= base_) return;
  if (push.store->state_as_of(row.recid, base_)) return;  // the client knew this row
  // Restored by another client after the server lost its versions: the same row.
  if (row.rv > base_ && restored_origin(db_, push, row.recid)) return;
  if (row.kind == RowState::Restored) {
    std::optional<Row> now = push.store->live_row(row.recid);
    bool same = now.has_value();
    for (size_t j = 0; same && j < columns.size(); ++j) same = (*now)[columns[j]].identical_to(row.values[j]);
    if (same) {
      push.already_there.push_back(row.recid);
      return;
    }
  }
  push.moved_from.push_back(row.recid);
}

void PushApplier::plan(const PartSource &parts) {
  for (std::size_t i = 0; i < parts.count; ++i) {
    std::string part = parts.load(i);
    PackageReader reader(part);
    for (auto section = reader.next(); section != PackageReader::Section::End; section = reader.next()) {
      if (section == PackageReader::Section::Echoed || section == PackageReader::Section::Renumbered)
        malformed("a push carries no reply sections");
      if (section != PackageReader::Section::Table) continue;
      TablePush &push = table(reader.table());
      std::vector<int> columns = push.store->map_columns(reader.columns());
      RowState row;
      while (reader.next_row(row)) plan_row(push, columns, row);
    }
  }
  allocate_new_identities();
}

void PushApplier::allocate_new_identities() {
  for (TablePush *push : order_) {
    if (push->moved_from.empty()) continue;
    std::int64_t next = std::max(push->store->max_recid(), push->highest_incoming);
    for (size_t i = 0; i < push->moved_from.size(); ++i) {
      if (next < INT64_MAX) {
        push->moved_to.push_back(++next);
      } else {
        push->moved_to.push_back(random_unused_recid(db_, kMain, push->store->name()));
      }
    }
  }
}

Row PushApplier::default_values(TablePush &push) {
  const TableDefinition &definition = push.store->definition();
  if (!push.defaults) {
    std::string sql = "SELECT ";
    for (size_t i = 0; i < definition.columns.size(); ++i) {
      std::string expression = default_expression(definition.columns[i]);
      sql += (i ? ", " : "") + (expression.empty() ? std::string("NULL") : "(" + expression + ")");
    }
    push.defaults = std::make_unique<Statement>(db_, sql);
  }
  Statement &select = *push.defaults;
  Row values;
  if (select.step()) {
    for (int i = 0; i < select.column_count(); ++i) values.push_back(Value::from_column(select.get(), i));
  }
  select.reset();
  return values;
}

// References to renumbered INTEGER PRIMARY KEY values follow them. Returns true when a
// value changed.
bool PushApplier::follow_references(TablePush &push, Row &values) {
  bool changed = false;
  const TableDefinition &definition = push.store->definition();
  for (size_t i = 0; i < definition.columns.size() && i < values.size(); ++i) {
    const auto &reference = definition.columns[i].reference;
    if (!reference || values[i].type != Value::Integer) continue;
    auto parent = tables_.find(reference->table);
    if (parent == tables_.end() || parent->second->moved_from.empty()) continue;
    const TableDefinition &target = parent->second->store->definition();
    bool to_key = target.integer_primary_key >= 0 &&
                  (reference->columns.empty() ||
                   iequals(reference->columns[0], target.columns[target.integer_primary_key].name));
    if (!to_key) continue;
    if (std::optional<std::int64_t> moved = parent->second->moved(values[i].integer)) {
      values[i].integer = *moved;
      changed = true;
    }
  }
  return changed;
}

// The incoming row in the table's column order. Columns the client does not know yet
// keep the server's value when the row is live and keeps its identity, else take the
// column's default (never another row's value). Returns true when the row differs
// from what the client holds.
bool PushApplier::prepare_incoming(TablePush &push, const std::vector<int> &columns, const RowState &row,
                                   std::int64_t stored, const std::optional<Row> &now, Row &values) {
  const TableDefinition &definition = push.store->definition();
  bool adjusted = columns.size() != definition.columns.size();
  if (adjusted) values = (now && stored == row.recid) ? *now : default_values(push);
  else values.assign(definition.columns.size(), Value());
  for (size_t j = 0; j < columns.size(); ++j) values[columns[j]] = row.values[j];
  if (definition.integer_primary_key >= 0) {
    Value &key = values[definition.integer_primary_key];
    if (!(key.type == Value::Integer && key.integer == stored)) {
      key = Value::of_integer(stored);
      adjusted = true;
    }
  }
  adjusted |= follow_references(push, values);
  return adjusted || stored != row.recid;
}

void PushApplier::apply_row(TablePush &push, const std::vector<int> &columns, RowState &row) {
  RowStore &store = *push.store;
  if (row.kind == RowState::Restored && push.restored_as_is(row.recid)) {
    std::optional<sync::VersionInfo> current = store.version(row.recid);
    add_differs(push, row.recid, current ? current->rv : version_, store.live_row(row.recid));
    return;
  }
  std::optional<std::int64_t> moved = row.live() ? push.moved(row.recid) : std::nullopt;
  std::int64_t stored = moved.value_or(row.recid);
  std::optional<sync::VersionInfo> current = store.version(stored);
  std::optional<Row> now = current && !current->deleted ? store.live_row(stored) : std::nullopt;
  if (observer_) observer_->row(store.name(), row.live() && !now ? PushObserver::RowChange::Adds
                                                                 : PushObserver::RowChange::Modifies);
  RowVersions versions;
  bool adjusted = false;
  if (row.live()) {
    Row values;
    adjusted = prepare_incoming(push, columns, row, stored, now, values);
    versions.incoming = std::move(values);
  }
  versions.already = now;
  std::optional<Row> result = versions.incoming;
  // A row from versions the server lost (rv: the version the client had it from).
  bool restored_identity = row.rv > base_;
  std::optional<std::int64_t> origin;
  if (current && current->rv > base_) {
    std::optional<RowState> ancestor = store.state_as_of(stored, base_);
    if (!ancestor && restored_identity) origin = restored_origin(db_, push, stored);
    if (ancestor && ancestor->kind != RowState::Deleted) versions.ancestor = std::move(ancestor->values);
  }
  if (origin) {
    // Another client restored this row first: a row left as the lost versions had it
    // gives way to a newer one; a change made on top of it wins.
    if (row.restored() && row.rv <= *origin) result = now;
  } else if (current && current->rv > base_) {
    Decision decision = resolver_.decide(store.name(), store.column_names(), versions);
    if (observer_ && decision.kind == Decision::Kind::Resolved)
      observer_->conflict_decided(store.name(), decision.situation, rules_.row_action(store.name(), decision.situation));
    if (observer_ && decision.kind == Decision::Kind::Rejected)
      observer_->conflict_decided(store.name(), decision.situation, conflict::action::kReject);
    switch (decision.kind) {
      case Decision::Kind::IdentityClash: reject_identity(push, *versions.incoming);
      case Decision::Kind::Rejected: {
        nlohmann::ordered_json details{{"table", store.name()}, {"situation", static_cast<int>(decision.situation)}};
        if (!decision.column.empty()) details["column"] = decision.column;
        throw Rejection("package_rejected", details.dump());
      }
      case Decision::Kind::Resolved: audit(push, versions, decision.result); break;
      case Decision::Kind::NoConflict: break;
    }
    result = std::move(decision.result);
  }
  bool written = !conflict::same_state(result, now);
  if (written) store_state(push, stored, result, now.has_value(), current ? current->rv : 0);
  if (restored_identity && !moved && (written || origin)) remember_origin(db_, push, stored, row.rv);
  bool as_sent = !adjusted && conflict::same_state(result, versions.incoming);
  if (written && as_sent) add_echo(push, stored);
  else if (written) add_differs(push, stored, version_, result);
  else if (!as_sent && !(current && current->rv > base_)) add_differs(push, stored, current ? current->rv : version_, result);
}

void PushApplier::store_state(TablePush &push, std::int64_t recid, const std::optional<Row> &result, bool was_live,
                              std::int64_t old_rv) {
  RowStore &store = *push.store;
  if (was_live) {
    store.archive_live(recid, old_rv, version_, !result.has_value());
    store.delete_live(recid);
  }
  if (result) {
    try {
      store.insert_live(recid, *result);
    } catch (const Error &error) {
      int code = error.code();
      bool unique = code == SQLITE_CONSTRAINT_UNIQUE || code == SQLITE_CONSTRAINT_PRIMARYKEY;
      // A unique value another row of this push gives up may still be in place: retry
      // after every other row is written (swaps of unique values work).
      if (!unique || postponed_.size() >= kMaxPostponed) reject_constraint(error, push, result);
      postponed_.push_back({&push, recid, *result});
    }
  }
  store.set_version(recid, version_, !result.has_value());
  touched_.insert(store.name());
}

void PushApplier::add_differs(TablePush &push, std::int64_t recid, std::int64_t rv, const std::optional<Row> &state) {
  if (!push.differs_open) {
    push.differs.begin_table(push.store->name(), push.store->column_names());
    push.differs_open = true;
  }
  RowState row;
  row.recid = recid;
  row.rv = rv;
  row.kind = state ? RowState::Live : RowState::Deleted;
  if (state) row.values = *state;
  push.differs.row(row);
}

void PushApplier::add_echo(TablePush &push, std::int64_t recid) {
  if (!push.echoed.empty() && push.echoed.back().last != INT64_MAX && push.echoed.back().last + 1 == recid)
    push.echoed.back().last = recid;
  else
    push.echoed.push_back({recid, recid});
}

void PushApplier::audit(TablePush &push, const RowVersions &versions, const std::optional<Row> &result) {
  if (iequals(push.store->name(), "z_audit")) return;
  if (!has_audit_) has_audit_ = stored_table_name(db_, kMain, "z_audit").has_value();
  if (!*has_audit_) return;
  TablePush &trail = table("z_audit");
  if (!next_audit_) next_audit_ = std::max(trail.store->max_recid(), trail.highest_incoming);
  std::int64_t recid = next_audit_ < INT64_MAX ? ++next_audit_ : random_unused_recid(db_, kMain, "z_audit");
  Row row = conflict::audit_row(push.store->name(), push.store->column_names(), versions, result);
  store_state(trail, recid, row, false, 0);
  add_differs(trail, recid, version_, row);
}

void PushApplier::apply_rows(const PartSource &parts) {
  for (std::size_t i = 0; i < parts.count; ++i) {
    std::string part = parts.load(i);
    PackageReader reader(part);
    for (auto section = reader.next(); section != PackageReader::Section::End; section = reader.next()) {
      if (section != PackageReader::Section::Table) continue;
      TablePush &push = table(reader.table());
      std::vector<int> columns = push.store->map_columns(reader.columns());
      RowState row;
      while (reader.next_row(row)) apply_row(push, columns, row);
    }
  }
}

void PushApplier::retry_postponed() {
  for (Postponed &row : postponed_) {
    try {
      row.table->store->insert_live(row.recid, row.values);
    } catch (const Error &error) {
      reject_constraint(error, *row.table, row.values);
    }
  }
}

[[noreturn]] void PushApplier::reject_constraint(const Error &error, TablePush &push, const std::optional<Row> &row) {
  int code = error.code();
  if ((code & 0xff) != SQLITE_CONSTRAINT) throw error;
  std::string identifier = "check_constraint_violation";
  if (code == SQLITE_CONSTRAINT_UNIQUE || code == SQLITE_CONSTRAINT_PRIMARYKEY) identifier = "unique_constraint_violation";
  if (code == SQLITE_CONSTRAINT_FOREIGNKEY) identifier = "foreign_key_constraint_violation";
  nlohmann::ordered_json details;
  details["table"] = push.store->name();
  details["constraint"] = user_facing_message(push.store->name(), error.what());
  details["row"] = parsed_json(conflict::row_json(push.store->column_names(), row));
  throw Rejection(identifier, details.dump());
}

[[noreturn]] void PushApplier::reject_identity(TablePush &push, const Row &row) {
  const TableDefinition &definition = push.store->definition();
  nlohmann::ordered_json details;
  details["table"] = push.store->name();
  details["constraint"] = "UNIQUE constraint failed: " + push.store->name() + "." +
                          definition.columns[std::max(definition.integer_primary_key, 0)].name;
  details["row"] = parsed_json(conflict::row_json(push.store->column_names(), row));
  throw Rejection("unique_constraint_violation", details.dump());
}

void PushApplier::check_foreign_keys() {
  std::optional<ForeignKeyViolation> violation =
      find_foreign_key_violation(db_, kMain, std::vector<std::string>(touched_.begin(), touched_.end()));
  if (!violation) return;
  RowStore rows(db_, kMain, violation->table);
  nlohmann::ordered_json details;
  details["table"] = rows.name();
  details["constraint"] = "FOREIGN KEY constraint failed";
  details["row"] = parsed_json(conflict::row_json(rows.column_names(), rows.live_row(violation->recid)));
  throw Rejection("foreign_key_constraint_violation", details.dump());
}

std::string PushApplier::reply() {
  std::string out;
  PackageWriter ranges;
  for (TablePush *push : order_) {
    if (push->differs_open) out += push->differs.take();
    if (!push->echoed.empty()) ranges.echoed(push->store->name(), push->echoed);
    if (!push->moved_from.empty()) {
      std::vector<Renumbering> pairs;
      for (size_t i = 0; i < push->moved_from.size(); ++i) pairs.push_back({push->moved_from[i], push->moved_to[i]});
      ranges.renumbered(push->store->name(), pairs);
    }
  }
  return out + ranges.take();
}

std::string PushApplier::run(const PartSource &parts) {
  apply_schema(parts);
  plan(parts);
  apply_rows(parts);
  retry_postponed();
  check_foreign_keys();
  return reply();
}

}  // namespace

std::string apply_push(sqlite3 *db, const PartSource &parts, std::int64_t base,
                       std::int64_t version, PushObserver *observer) {
  std::shared_ptr<ConnectionState> connection = ConnectionState::find(db);
  bool saved = connection ? connection->applying_remote : false;
  if (connection) connection->applying_remote = true;
  struct Restore {
    ConnectionState *connection;
    bool saved;
    ~Restore() {
      if (connection) connection->applying_remote = saved;
    }
  } restore{connection.get(), saved};
  return PushApplier(db, base, version, observer).run(parts);
}

}  // namespace zumero::server
