#include "base/connection_state.h"

#include <algorithm>
#include <ctime>
#include <mutex>

#include "base/sql.h"

namespace zumero {

int SchemaState::table_id(const std::string &table) {
  for (size_t i = 0; i < tables_.size(); ++i)
    if (tables_[i] == table) return static_cast<int>(i);
  tables_.push_back(table);
  return static_cast<int>(tables_.size() - 1);
}

void SchemaState::note_changed(const std::string &table, std::int64_t recid) {
  int id = table_id(table);
  if (!changes_.empty() && changes_.back().table == id && changes_.back().recid == recid) return;
  changes_.push_back({id, recid});
}

void SchemaState::savepoint(int level) {
  // A table joining the transaction late is told about savepoints opened before; the
  // first mark for a level is the one taken when the savepoint really opened.
  marks_.emplace(level, changes_.size());
}

void SchemaState::release(int level) { marks_.erase(marks_.lower_bound(level), marks_.end()); }

void SchemaState::rollback_to(int level) {
  auto mark = marks_.find(level);
  if (mark != marks_.end() && mark->second < changes_.size()) changes_.resize(mark->second);
  marks_.erase(marks_.upper_bound(level), marks_.end());
}

void SchemaState::clear() {
  txid = 0;
  flushed_ = false;
  changes_.clear();
  marks_.clear();
  next_recid_.clear();
}

std::optional<std::int64_t> SchemaState::cached_next_recid(const std::string &table) const {
  auto found = next_recid_.find(table);
  if (found == next_recid_.end()) return std::nullopt;
  return found->second;
}

void SchemaState::set_next_recid(const std::string &table, std::int64_t next) { next_recid_[table] = next; }

std::map<std::string, std::vector<std::int64_t>> SchemaState::changed_rows() const {
  std::map<std::string, std::vector<std::int64_t>> rows;
  for (const Change &change : changes_) rows[tables_[change.table]].push_back(change.recid);
  for (auto &entry : rows) {
    std::sort(entry.second.begin(), entry.second.end());
    entry.second.erase(std::unique(entry.second.begin(), entry.second.end()), entry.second.end());
  }
  return rows;
}

void SchemaState::flush(sqlite3 *db, const std::string &schema) {
  if (!has_pending()) return;
  // Housekeeping writes must not change what the application sees as its last rowid.
  sqlite3_int64 last_rowid = sqlite3_last_insert_rowid(db);
  std::string prefix = quote_identifier(schema) + ".";
  Statement tx(db, "INSERT OR IGNORE INTO " + prefix + "\"t$tx\" (txid, unix_time) VALUES (?1, ?2)");
  tx.bind(1, txid).bind(2, static_cast<std::int64_t>(std::time(nullptr))).run();
  Statement dirty(db, "INSERT INTO " + prefix + "\"t$dirty\" (tbl, first, last, txid) VALUES (?1, ?2, ?3, ?4)");
  for (const auto &entry : changed_rows()) {
    const std::vector<std::int64_t> &ids = entry.second;
    for (size_t i = 0; i < ids.size();) {
      size_t j = i;
      while (j + 1 < ids.size() && ids[j + 1] == ids[j] + 1) ++j;
      dirty.bind(1, entry.first).bind(2, ids[i]).bind(3, ids[j]).bind(4, txid).run();
      i = j + 1;
    }
  }
  changes_.clear();
  marks_.clear();
  flushed_ = true;
  sqlite3_set_last_insert_rowid(db, last_rowid);
}

namespace {
std::mutex registry_mutex;
std::map<sqlite3 *, ConnectionState *> &registry() {
  static std::map<sqlite3 *, ConnectionState *> states;
  return states;
}
}  // namespace

ConnectionState *ConnectionState::find(sqlite3 *db) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  auto found = registry().find(db);
  return found == registry().end() ? nullptr : found->second;
}

ConnectionState *ConnectionState::create(sqlite3 *db) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  auto *state = new ConnectionState(db);
  registry()[db] = state;
  return state;
}

void ConnectionState::destroy(void *pointer) {
  auto *state = static_cast<ConnectionState *>(pointer);
  {
    std::lock_guard<std::mutex> lock(registry_mutex);
    auto found = registry().find(state->db_);
    if (found != registry().end() && found->second == state) registry().erase(found);
  }
  delete state;
}

std::int64_t current_txid(ConnectionState &connection, const std::string &schema) {
  SchemaState &state = connection.schema(schema);
  if (!state.txid)
    state.txid = query_int(connection.db(),
                           "SELECT coalesce(max(txid), 0) + 1 FROM " + quote_identifier(schema) + ".\"t$tx\"", 1);
  return state.txid;
}

}  // namespace zumero
