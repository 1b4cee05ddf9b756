#include "quarantine/quarantine.h"

#include <algorithm>
#include <map>
#include <memory>

#include "base/catalog.h"
#include "base/sql.h"
#include "base/table_definition.h"
#include "conflict/resolver.h"
#include "sync/client_state.h"
#include "sync/package.h"
#include "sync/row_store.h"

namespace zumero::quarantine {
namespace {

using conflict::Decision;
using conflict::RowVersions;
using sync::IdRange;
using sync::PackageReader;
using sync::PackageWriter;
using sync::Row;
using sync::RowState;
using sync::RowStore;
using sync::Value;

using Ranges = std::vector<IdRange>;

// Calls visit for every identity in [first, last], without stepping past int64.
template <typename Visit>
void for_each_recid(const IdRange &range, Visit &&visit) {
  for (std::int64_t recid = range.first;; ++recid) {
    visit(recid);
    if (recid == range.last) break;
  }
}

NameMap<Ranges> changed_rows(sqlite3 *db, const std::string &schema, std::int64_t after_txid) {
  NameMap<Ranges> rows;
  Statement select(db, "SELECT tbl, first, last FROM " + qualified(schema, "t$dirty") + " WHERE txid > ?1");
  select.bind(1, after_txid);
  while (select.step()) rows[select.column_text(0)].push_back({select.column_int(1), select.column_int(2)});
  for (auto &entry : rows) {
    Ranges &ranges = entry.second;
    std::sort(ranges.begin(), ranges.end(), [](const IdRange &a, const IdRange &b) { return a.first < b.first; });
    Ranges merged;
    for (const IdRange &range : ranges) {
      if (!merged.empty() && (merged.back().last == INT64_MAX || range.first <= merged.back().last + 1))
        merged.back().last = std::max(merged.back().last, range.last);
      else
        merged.push_back(range);
    }
    ranges = std::move(merged);
  }
  return rows;
}

bool covered(const Ranges &ranges, std::int64_t recid) {
  auto after = std::upper_bound(ranges.begin(), ranges.end(), recid,
                                [](std::int64_t id, const IdRange &range) { return id < range.first; });
  return after != ranges.begin() && std::prev(after)->last >= recid;
}

using States = NameMap<std::map<std::int64_t, std::optional<Row>>>;

// Local transactions up to this one are on the server, or travel in a push in flight.
std::int64_t synced_point(sync::ClientState &state) {
  if (std::optional<nlohmann::json> pending = state.get_json("pending")) return pending->value("L", 0);
  if (std::optional<nlohmann::json> pull = state.get_json("pull")) return pull->value("L", 0);
  return state.get_int("synced_txid");
}

// The states a push in flight carried for the rows changed since.
States pushed_states(const std::vector<std::string> &parts, const NameMap<Ranges> &changed) {
  States states;
  for (const std::string &part : parts) {
    PackageReader reader(part);
    for (auto section = reader.next(); section != PackageReader::Section::End; section = reader.next()) {
      if (section != PackageReader::Section::Table) continue;
      auto ranges = changed.find(reader.table());
      RowState row;
      while (reader.next_row(row)) {
        if (ranges == changed.end() || !covered(ranges->second, row.recid)) continue;
        // Columns of a push are the table's own, in order, at the time it was built.
        states[reader.table()][row.recid] = row.live() ? std::optional<Row>(row.values) : std::nullopt;
      }
    }
  }
  return states;
}

// Rows as the last sync left them, kept by zumero_purge_history for rows whose later
// versions it deleted while they still had unsynced changes.
States purged_states(sync::ClientState &state) {
  States states;
  std::optional<std::string> kept = state.get("purged_base");
  if (!kept) return states;
  PackageReader reader(*kept);
  for (auto section = reader.next(); section != PackageReader::Section::End; section = reader.next()) {
    if (section != PackageReader::Section::Table) continue;
    RowState row;
    while (reader.next_row(row)) states[reader.table()][row.recid] = row.values;
  }
  return states;
}

// The row as the last sync left it, when the server knows the row as live: the version
// the first newer local change replaced (or what purge kept of it); nothing for a row
// created locally.
std::optional<Row> synced_state(RowStore &store, std::int64_t recid, std::int64_t after_txid,
                                const std::optional<Row> &now, const States &purged) {
  std::optional<sync::VersionInfo> version = store.version(recid);
  if (!version || version->deleted) return std::nullopt;
  if (std::optional<Row> before = store.local_version_before(recid, after_txid)) return before;
  auto table = purged.find(store.name());
  if (table != purged.end()) {
    auto row = table->second.find(recid);
    if (row != table->second.end()) return row->second;
  }
  return now;
}

void revert(sqlite3 *db, const std::string &schema, const std::string &package) {
  NameMap<std::unique_ptr<RowStore>> stores;
  auto store_for = [&](const std::string &table) -> RowStore & {
    auto &slot = stores[table];
    if (!slot) slot = std::make_unique<RowStore>(db, schema, table);
    return *slot;
  };
  // Every row out first, then the earlier versions in: swapped unique values fit.
  for (int pass = 0; pass < 2; ++pass) {
    PackageReader reader(package);
    for (auto section = reader.next(); section != PackageReader::Section::End; section = reader.next()) {
      if (section != PackageReader::Section::Table) continue;
      RowStore &store = store_for(reader.table());
      RowState row;
      while (reader.next_row(row)) {
        if (pass == 0 && row.kind != RowState::History) store.delete_live(row.recid);
        if (pass == 1 && row.kind == RowState::History) store.insert_live(row.recid, row.values);
      }
    }
  }
}

void forget_transactions(sqlite3 *db, const std::string &schema, std::int64_t after_txid) {
  for (const std::string &table : zumero_table_names(db, schema)) {
    Statement history(db, "DELETE FROM " + qualified(schema, history_table_name(table)) + " WHERE z_txid > ?1");
    history.bind(1, after_txid).run();
  }
  Statement dirty(db, "DELETE FROM " + qualified(schema, "t$dirty") + " WHERE txid > ?1");
  dirty.bind(1, after_txid).run();
  Statement tx(db, "DELETE FROM " + qualified(schema, "t$tx") + " WHERE txid > ?1");
  tx.bind(1, after_txid).run();
}

}  // namespace

std::string set_aside(sqlite3 *db, const std::string &schema, std::int64_t after_txid,
                      const std::vector<std::string> &pushed_parts) {
  NameMap<Ranges> changed = changed_rows(db, schema, after_txid);
  States pushed = pushed_states(pushed_parts, changed);
  sync::ClientState state(db, schema);
  States purged = purged_states(state);
  PackageWriter writer;
  bool any = false;
  for (const auto &entry : changed) {
    if (!stored_table_name(db, schema, entry.first)) continue;
    RowStore store(db, schema, entry.first);
    writer.begin_table(store.name(), store.column_names());
    auto sent = pushed.find(store.name());
    for (const IdRange &range : entry.second) {
      for_each_recid(range, [&](std::int64_t recid) {
        std::optional<Row> now = store.live_row(recid);
        std::optional<Row> before;
        if (sent != pushed.end() && sent->second.count(recid)) before = sent->second[recid];
        else before = synced_state(store, recid, after_txid, now, purged);
        if (conflict::same_state(before, now)) return;  // nothing changed in effect
        std::optional<sync::VersionInfo> version = store.version(recid);
        RowState row;
        row.recid = recid;
        row.rv = version ? version->rv : 0;
        if (before) {
          row.kind = RowState::History;
          row.values = *before;
          writer.row(row);
        }
        row.kind = now ? RowState::Live : RowState::Deleted;
        row.values = now ? *now : Row();
        writer.row(row);
        any = true;
      });
    }
  }
  std::string package = any ? writer.take() : std::string();
  if (any) revert(db, schema, package);
  forget_transactions(db, schema, after_txid);
  return package;
}

// ---- restore ---------------------------------------------------------------------

namespace {

// One set-aside row: where it was, what it was, what it is.
struct Change {
  std::int64_t recid = 0;
  std::int64_t rv = 0;
  std::optional<Row> before;
  std::optional<Row> now;
};

std::vector<std::pair<std::string, std::vector<Change>>> read_changes(const std::string &package) {
  std::vector<std::pair<std::string, std::vector<Change>>> tables;
  PackageReader reader(package);
  for (auto section = reader.next(); section != PackageReader::Section::End; section = reader.next()) {
    if (section != PackageReader::Section::Table) continue;
    tables.emplace_back(reader.table(), std::vector<Change>());
    std::vector<Change> &changes = tables.back().second;
    RowState row;
    std::optional<Row> before;
    std::optional<std::int64_t> before_recid;
    while (reader.next_row(row)) {
      if (row.kind == RowState::History) {
        before = row.values;
        before_recid = row.recid;
        continue;
      }
      Change change;
      change.recid = row.recid;
      change.rv = row.rv;
      if (before_recid && *before_recid == row.recid) change.before = std::move(before);
      if (row.live()) change.now = row.values;
      changes.push_back(std::move(change));
      before.reset();
      before_recid.reset();
    }
  }
  return tables;
}

class Restorer {
public:
  Restorer(sqlite3 *db, ConnectionState &connection, const std::string &schema, const sync::Renumbered &renumbered)
      : db_(db), connection_(connection), schema_(schema), renumbered_(renumbered),
        rules_(conflict::Rules::load(db, schema)), resolver_(rules_) {}

  void run(const std::string &package);

private:
  struct Table {
    std::unique_ptr<RowStore> store;
    std::map<std::int64_t, std::int64_t> moved;  // identities given anew on this side
    Statement insert, update, remove;
  };
  Table &table(const std::string &name);
  std::int64_t final_recid(Table &table, std::int64_t recid) const;
  void plan_identities(Table &table, const std::vector<Change> &changes);
  void follow_identities(Table &table, std::int64_t recid, std::optional<Row> &row);
  void restore_change(Table &table, const Change &change);
  void write(Table &table, std::int64_t recid, const std::optional<Row> &result, bool exists);
  void audit(Table &table, const RowVersions &versions, const std::optional<Row> &result);

  sqlite3 *db_;
  ConnectionState &connection_;
  const std::string &schema_;
  const sync::Renumbered &renumbered_;
  conflict::Rules rules_;
  conflict::Resolver resolver_;
  NameMap<std::unique_ptr<Table>> tables_;
  struct Postponed {
    Table *table;
    std::int64_t recid;
    Row values;
  };
  std::vector<Postponed> postponed_;
  NameSet touched_;
};

Restorer::Table &Restorer::table(const std::string &name) {
  auto found = tables_.find(name);
  if (found != tables_.end()) return *found->second;
  if (!stored_table_name(db_, schema_, name)) fail("invalid_argument");
  auto table = std::make_unique<Table>();
  table->store = std::make_unique<RowStore>(db_, schema_, name);
  const std::vector<std::string> &columns = table->store->column_names();
  std::string target = qualified(schema_, table->store->name());
  std::string names = "rowid", params = "?1", assignments;
  for (size_t i = 0; i < columns.size(); ++i) {
    names += ", " + quote_identifier(columns[i]);
    params += ", ?" + std::to_string(i + 2);
    assignments += (i ? ", " : "") + quote_identifier(columns[i]) + " = ?" + std::to_string(i + 2);
  }
  // Through the module: the rows become local changes, with history.
  table->insert = Statement(db_, "INSERT INTO " + target + " (" + names + ") VALUES (" + params + ")");
  table->update = Statement(db_, "UPDATE " + target + " SET " + assignments + " WHERE rowid = ?1");
  table->remove = Statement(db_, "DELETE FROM " + target + " WHERE rowid = ?1");
  Table &result = *table;
  tables_.emplace(table->store->name(), std::move(table));
  return result;
}

std::int64_t Restorer::final_recid(Table &table, std::int64_t recid) const {
  auto moved = table.moved.find(recid);
  if (moved != table.moved.end()) return moved->second;
  auto server = renumbered_.find(table.store->name());
  if (server != renumbered_.end()) {
    auto found = server->second.find(recid);
    if (found != server->second.end()) return found->second;
  }
  return recid;
}

// A row created on this side whose identity now belongs to another row gets a new one,
// above every identity in use: the table's and those of the other rows restored.
void Restorer::plan_identities(Table &table, const std::vector<Change> &changes) {
  std::int64_t highest = table.store->max_recid();
  std::vector<std::int64_t> clashing;
  for (const Change &change : changes) {
    highest = std::max(highest, final_recid(table, change.recid));
    if (!change.before && change.now && table.store->recid_taken(final_recid(table, change.recid)))
      clashing.push_back(change.recid);
  }
  for (std::int64_t recid : clashing) {
    std::int64_t fresh = highest < INT64_MAX ? ++highest : random_unused_recid(db_, schema_, table.store->name());
    table.moved[recid] = fresh;
  }
}

// The row's own INTEGER PRIMARY KEY and its references follow identities that moved.
void Restorer::follow_identities(Table &table, std::int64_t recid, std::optional<Row> &row) {
  if (!row) return;
  const TableDefinition &definition = table.store->definition();
  if (definition.integer_primary_key >= 0) (*row)[definition.integer_primary_key] = Value::of_integer(recid);
  for (size_t i = 0; i < definition.columns.size() && i < row->size(); ++i) {
    const auto &reference = definition.columns[i].reference;
    if (!reference || (*row)[i].type != Value::Integer) continue;
    auto parent = tables_.find(reference->table);
    std::int64_t old = (*row)[i].integer;
    std::int64_t mapped = old;
    if (parent != tables_.end()) mapped = final_recid(*parent->second, old);
    else if (auto server = renumbered_.find(reference->table); server != renumbered_.end()) {
      auto found = server->second.find(old);
      if (found != server->second.end()) mapped = found->second;
    }
    (*row)[i].integer = mapped;
  }
}

void Restorer::audit(Table &table, const RowVersions &versions, const std::optional<Row> &result) {
  if (iequals(table.store->name(), "z_audit") || !stored_table_name(db_, schema_, "z_audit")) return;
  Row row = conflict::audit_row(table.store->name(), table.store->column_names(), versions, result);
  Statement insert(db_, "INSERT INTO " + qualified(schema_, "z_audit") +
                            " (tbl, ancestor, already, incoming, result) VALUES (?1, ?2, ?3, ?4, ?5)");
  for (size_t i = 0; i < row.size(); ++i) row[i].bind(insert.get(), static_cast<int>(i) + 1);
  insert.run();
}

void Restorer::write(Table &table, std::int64_t recid, const std::optional<Row> &result, bool exists) {
  touched_.insert(table.store->name());
  if (!result) {
    table.remove.bind(1, recid).run();
    return;
  }
  Statement &statement = exists ? table.update : table.insert;
  statement.bind(1, recid);
  for (size_t i = 0; i < result->size(); ++i) (*result)[i].bind(statement.get(), static_cast<int>(i) + 2);
  try {
    statement.run();
  } catch (const Error &error) {
    int code = error.code();
    if (exists || (code != SQLITE_CONSTRAINT_UNIQUE && code != SQLITE_CONSTRAINT_PRIMARYKEY)) throw;
    // Another restored row may still hold the unique value: try again at the end.
    postponed_.push_back({&table, recid, *result});
  }
}

void Restorer::restore_change(Table &table, const Change &change) {
  std::int64_t recid = final_recid(table, change.recid);
  RowVersions versions;
  versions.ancestor = change.before;
  versions.incoming = change.now;
  follow_identities(table, recid, versions.ancestor);
  follow_identities(table, recid, versions.incoming);
  versions.already = table.store->live_row(recid);
  Decision decision = resolver_.decide(table.store->name(), table.store->column_names(), versions);
  if (decision.kind == Decision::Kind::Rejected) fail("package_rejected", SQLITE_CONSTRAINT);
  if (decision.kind == Decision::Kind::IdentityClash) fail("unique_constraint_violation", SQLITE_CONSTRAINT);
  if (decision.kind == Decision::Kind::Resolved) audit(table, versions, decision.result);
  if (conflict::same_state(decision.result, versions.already)) return;
  write(table, recid, decision.result, versions.already.has_value());
}

void Restorer::run(const std::string &package) {
  auto changes = read_changes(package);
  RowProgress *progress = connection_.apply_progress;
  if (progress) {
    std::int64_t rows = 0;
    for (auto &entry : changes) rows += static_cast<std::int64_t>(entry.second.size());
    progress->expect(rows);
  }
  for (auto &entry : changes) plan_identities(table(entry.first), entry.second);
  // Deletions first, then the rest: unique values given up are free for others.
  for (int pass = 0; pass < 2; ++pass)
    for (auto &entry : changes)
      for (const Change &change : entry.second)
        if ((pass == 0) == !change.now) {
          restore_change(table(entry.first), change);
          if (progress) progress->row_done();
        }
  for (Postponed &row : postponed_) {
    Statement &insert = row.table->insert;
    insert.bind(1, row.recid);
    for (size_t i = 0; i < row.values.size(); ++i) row.values[i].bind(insert.get(), static_cast<int>(i) + 2);
    insert.run();
  }
  std::optional<ForeignKeyViolation> violation =
      find_foreign_key_violation(db_, schema_, std::vector<std::string>(touched_.begin(), touched_.end()));
  if (violation) fail("foreign_key_constraint_violation", SQLITE_CONSTRAINT_FOREIGNKEY);
}

std::string failure_identifier(const Error &error) {
  std::string message = error.what();
  if (message.rfind("zumero:", 0) == 0) return message.substr(7);
  switch (error.code()) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY: return "unique_constraint_violation";
    case SQLITE_CONSTRAINT_FOREIGNKEY: return "foreign_key_constraint_violation";
    default: return (error.code() & 0xff) == SQLITE_CONSTRAINT ? "check_constraint_violation" : std::string();
  }
}

}  // namespace

RestoreOutcome restore(sqlite3 *db, ConnectionState &connection, const std::string &schema,
                       const std::string &package, const sync::Renumbered &renumbered) {
  RestoreOutcome outcome;
  if (package.empty()) return outcome;
  Savepoint savepoint(db, "zumero_restore");
  bool saved = connection.exact_values;
  connection.exact_values = true;
  try {
    Restorer(db, connection, schema, renumbered).run(package);
  } catch (const Cancelled &) {
    connection.exact_values = saved;
    throw;  // not about the package: the caller's transaction rolls back
  } catch (const Error &error) {
    connection.exact_values = saved;
    outcome.failure = failure_identifier(error);
    if (outcome.failure.empty()) throw;  // not about the package: a real fault
    outcome.restored = false;
    return outcome;  // the savepoint rolls everything back
  }
  connection.exact_values = saved;
  savepoint.release();
  return outcome;
}

std::int64_t keep(sqlite3 *db, const std::string &schema, const std::string &package) {
  Statement insert(db, "INSERT INTO " + qualified(schema, "t$q") + " (unix_time, package) VALUES (strftime('%s', 'now'), ?1)");
  insert.bind_blob(1, package.data(), package.size()).run();
  return sqlite3_last_insert_rowid(db);
}

std::int64_t quarantine_since_last_sync(sqlite3 *db, const std::string &schema) {
  if (!has_housekeeping(db, schema)) return 0;
  Savepoint savepoint(db, "zumero_quarantine");
  sync::ensure_sync_tables(db, schema);
  sync::ClientState state(db, schema);
  // Changes a push in flight carries are not the client's alone any more: the server
  // may hold them already. Only later ones are set aside.
  std::int64_t after = synced_point(state);
  std::vector<std::string> pushed = state.staged("push");
  sqlite3_int64 last_rowid = sqlite3_last_insert_rowid(db);
  std::string package = set_aside(db, schema, after, pushed);
  std::int64_t qid = package.empty() ? 0 : keep(db, schema, package);
  sqlite3_set_last_insert_rowid(db, last_rowid);
  savepoint.release();
  return qid;
}

void restore_quarantine(sqlite3 *db, ConnectionState &connection, const std::string &schema, std::int64_t qid) {
  if (!has_housekeeping(db, schema)) fail("invalid_argument");
  Statement select(db, "SELECT package FROM " + qualified(schema, "t$q") + " WHERE qid = ?1");
  select.bind(1, qid);
  if (!select.step()) fail("invalid_argument");
  const void *data = sqlite3_column_blob(select.get(), 0);
  std::string package(static_cast<const char *>(data ? data : ""), sqlite3_column_bytes(select.get(), 0));
  select.reset();
  Savepoint savepoint(db, "zumero_restore_quarantine");
  RestoreOutcome outcome = restore(db, connection, schema, package, {});
  if (!outcome.restored) fail(outcome.failure, SQLITE_CONSTRAINT);
  Statement forget(db, "DELETE FROM " + qualified(schema, "t$q") + " WHERE qid = ?1");
  forget.bind(1, qid).run();
  savepoint.release();
}

void purge_history(sqlite3 *db, const std::string &schema) {
  if (!has_housekeeping(db, schema)) return;
  Savepoint savepoint(db, "zumero_purge_history");
  sync::ensure_sync_tables(db, schema);
  sync::ClientState state(db, schema);
  // Quarantine and the rebase after a sync need the rows as the last sync left them:
  // for rows with unsynced changes, those are kept aside before the history goes.
  std::int64_t after = synced_point(state);
  States purged = purged_states(state);
  PackageWriter writer;
  bool any = false;
  for (const auto &entry : changed_rows(db, schema, after)) {
    if (!stored_table_name(db, schema, entry.first)) continue;
    RowStore store(db, schema, entry.first);
    writer.begin_table(store.name(), store.column_names());
    for (const IdRange &range : entry.second) {
      for_each_recid(range, [&](std::int64_t recid) {
        std::optional<Row> before = synced_state(store, recid, after, store.live_row(recid), purged);
        if (!before) return;
        RowState row;
        row.kind = RowState::History;
        row.recid = recid;
        row.values = *before;
        writer.row(row);
        any = true;
      });
    }
  }
  for (const std::string &name : zumero_table_names(db, schema))
    exec(db, "DELETE FROM " + qualified(schema, history_table_name(name)));
  if (any) {
    std::string kept = writer.take();
    Statement insert(db, "INSERT OR REPLACE INTO " + qualified(schema, "t$sync") + " (key, value) VALUES ('purged_base', ?1)");
    insert.bind_blob(1, kept.data(), kept.size()).run();
  } else {
    state.erase("purged_base");
  }
  savepoint.release();
}

}  // namespace zumero::quarantine
