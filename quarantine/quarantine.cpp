#include "quarantine/quarantine.h"

#include <map>
#include <vector>

#include "sync/package.h"
#include "sync/row_store.h"
#include "base/catalog.h"
#include "base/sql.h"
#include "base/table_definition.h"

namespace zumero {
namespace {

using sync::Row;
using sync::RowState;

// For each table, each unsynced recid with the first local transaction that changed it.
std::map<std::string, std::map<std::int64_t, std::int64_t>> unsynced_rows(sqlite3 *db, const std::string &schema) {
  std::map<std::string, std::map<std::int64_t, std::int64_t>> rows;
  Statement ranges(db, "SELECT tbl, first, last, txid FROM " + qualified(schema, "t$dirty"));
  while (ranges.step()) {
    auto &table = rows[ranges.column_text(0)];
    for (std::int64_t id = ranges.column_int(1); id <= ranges.column_int(2); ++id) {
      auto found = table.find(id);
      if (found == table.end() || found->second > ranges.column_int(3)) table[id] = ranges.column_int(3);
    }
  }
  return rows;
}

}  // namespace

std::int64_t quarantine_since_last_sync(sqlite3 *db, const std::string &schema) {
  if (!has_housekeeping(db, schema)) return 0;
  Savepoint savepoint(db, "zumero_quarantine");
  sync::Package package;
  for (const auto &table : unsynced_rows(db, schema)) {
    if (!load_table_definition(db, schema, table.first)) continue;
    sync::RowStore store(db, schema, table.first);
    sync::TableSection section{table.first, store.column_names(), {}};
    for (const auto &entry : table.second) {
      std::int64_t recid = entry.first;
      RowState state;
      state.recid = recid;
      std::optional<Row> now = store.live_row(recid);
      state.kind = now ? RowState::Live : RowState::Deleted;
      if (now) state.values = *now;
      // The row as the last sync left it: the version the first unsynced change replaced.
      std::optional<Row> before = store.local_version_before(recid, entry.second - 1);
      std::optional<sync::VersionInfo> version = store.version(recid);
      bool synced = version.has_value();
      state.rv = synced ? version->rv : 0;  // 0: a row created locally, restored as a new row
      if (!before && synced && now) continue;  // its synced version is gone (history purged)
      store.delete_live(recid);
      if (before) store.insert_live(recid, *before);
      section.rows.push_back(std::move(state));
    }
    // The local history of the changes set aside goes with them.
    std::int64_t first_txid = 0;
    for (const auto &entry : table.second)
      if (!first_txid || entry.second < first_txid) first_txid = entry.second;
    exec(db, "DELETE FROM " + qualified(schema, history_table_name(table.first)) +
                 " WHERE z_txid >= " + std::to_string(first_txid));
    if (!section.rows.empty()) package.tables.push_back(std::move(section));
  }
  exec(db, "DELETE FROM " + qualified(schema, "t$dirty"));
  if (package.empty()) {
    savepoint.release();
    return 0;
  }
  std::string bytes = sync::encode_package(package);
  Statement insert(db, "INSERT INTO " + qualified(schema, "t$q") +
                           " (unix_time, package) VALUES (strftime('%s', 'now'), ?1)");
  insert.bind_blob(1, bytes.data(), static_cast<int>(bytes.size())).run();
  std::int64_t qid = sqlite3_last_insert_rowid(db);
  savepoint.release();
  return qid;
}

void restore_quarantine(sqlite3 *db, const std::string &schema, std::int64_t qid) {
  if (!has_housekeeping(db, schema)) fail("invalid_argument");
  Statement select(db, "SELECT package FROM " + qualified(schema, "t$q") + " WHERE qid = ?1");
  select.bind(1, qid);
  if (!select.step()) fail("invalid_argument");
  const void *data = sqlite3_column_blob(select.get(), 0);
  sync::Package package = sync::decode_package(
      std::string_view(static_cast<const char *>(data ? data : ""), sqlite3_column_bytes(select.get(), 0)));
  select.reset();
  Savepoint savepoint(db, "zumero_restore");
  for (const sync::TableSection &section : package.tables) {
    auto definition = load_table_definition(db, schema, section.name);
    if (!definition) fail("invalid_argument");
    std::string table = qualified(schema, section.name);
    std::string columns;
    std::string params;
    std::string assignments;
    for (size_t i = 0; i < section.columns.size(); ++i) {
      std::string name = quote_identifier(section.columns[i]);
      columns += ", " + name;
      params += ", ?" + std::to_string(i + 2);
      assignments += (i ? ", " : "") + name + " = ?" + std::to_string(i + 2);
    }
    // Through the module, so the rows become local changes with history again.
    Statement exists(db, "SELECT 1 FROM " + qualified(schema, live_table_name(section.name)) + " WHERE rowid = ?1");
    Statement insert(db, "INSERT INTO " + table + " (rowid" + columns + ") VALUES (?1" + params + ")");
    // A row created locally gets a new identity: its old one may belong to a synced row now.
    Statement insert_new(db, "INSERT INTO " + table + " (" + columns.substr(2) + ") VALUES (" + params.substr(2) + ")");
    Statement update(db, "UPDATE " + table + " SET " + assignments + " WHERE rowid = ?1");
    Statement remove(db, "DELETE FROM " + table + " WHERE rowid = ?1");
    for (const RowState &row : section.rows) {
      if (row.kind == RowState::Deleted) {
        remove.bind(1, row.recid).run();
        continue;
      }
      bool present = false;
      if (row.rv != 0) {
        exists.bind(1, row.recid);
        present = exists.step();
        exists.reset();
      }
      Statement &write = row.rv == 0 ? insert_new : present ? update : insert;
      write.bind(1, row.recid);
      for (size_t i = 0; i < row.values.size(); ++i) row.values[i].bind(write.get(), static_cast<int>(i) + 2);
      write.run();
    }
  }
  Statement forget(db, "DELETE FROM " + qualified(schema, "t$q") + " WHERE qid = ?1");
  forget.bind(1, qid).run();
  savepoint.release();
}

}  // namespace zumero
