#include "vtab/storage.h"

namespace zumero {

LocalWriter::LocalWriter(sqlite3 *db, ConnectionState &connection, std::string schema, std::string name,
                         const TableDefinition &definition)
    : db_(db),
      connection_(connection),
      schema_(std::move(schema)),
      name_(std::move(name)),
      definition_(definition),
      live_(qualified(schema_, live_table_name(name_))) {}

std::int64_t LocalWriter::next_recid() {
  SchemaState &state = connection_.schema(schema_);
  std::optional<std::int64_t> cached = state.cached_next_recid(name_);
  if (cached) return *cached;
  std::int64_t next = query_int(db_, highest_recid_sql(schema_, name_)) + 1;
  state.set_next_recid(name_, next);
  return next;
}

// While the statement runs, zumero_recording() returns the local txid for this table, so
// the history triggers keep the versions the statement updates or deletes (OR REPLACE
// included). A plain insert supersedes nothing and runs without it.
void LocalWriter::run_recording(Statement &statement, bool record) {
  if (!record) {
    statement.run();
    return;
  }
  connection_.recording = RecordingContext{schema_, name_, current_txid(connection_, schema_)};
  try {
    statement.run();
  } catch (...) {
    connection_.recording.reset();
    throw;
  }
  connection_.recording.reset();
}

std::int64_t LocalWriter::insert(sqlite3_value *rowid, sqlite3_value **values, bool replace) {
  Statement &statement = insert_[replace ? 1 : 0];
  if (!statement) {
    // An INTEGER PRIMARY KEY column is the rowid; naming both would be ambiguous.
    bool with_rowid = definition_.integer_primary_key < 0;
    std::string names = with_rowid ? "rowid" : "";
    std::string params = with_rowid ? "?1" : "";
    for (size_t i = 0; i < definition_.columns.size(); ++i) {
      if (!names.empty()) {
        names += ", ";
        params += ", ";
      }
      names += quote_identifier(definition_.columns[i].name);
      // SQLite drops DEFAULT clauses from virtual table declarations, so omitted
      // (NULL) values get the column's default here.
      std::string fallback = default_expression(definition_.columns[i]);
      if (fallback.empty() || static_cast<int>(i) == definition_.integer_primary_key)
        params += "?" + std::to_string(i + 2);
      else
        params += "coalesce(?" + std::to_string(i + 2) + ", (" + fallback + "))";
    }
    statement = Statement(db_, std::string("INSERT ") + (replace ? "OR REPLACE " : "") + "INTO " + live_ + " (" +
                                   names + ") VALUES (" + params + ")",
                          true);
  }
  const int ipk = definition_.integer_primary_key;
  sqlite3_value *given = ipk >= 0 ? values[ipk] : rowid;
  current_txid(connection_, schema_);
  bool assign = sqlite3_value_type(given) == SQLITE_NULL;
  std::int64_t assigned = assign ? next_recid() : 0;
  if (assign) statement.bind(1, assigned);
  else statement.bind_value(1, given);
  for (size_t i = 0; i < definition_.columns.size(); ++i) {
    int index = static_cast<int>(i) + 2;
    if (static_cast<int>(i) == ipk) {
      if (assign) statement.bind(index, assigned);
      else statement.bind_value(index, given);
    } else {
      statement.bind_value(index, values[i]);
    }
  }
  run_recording(statement, replace);
  std::int64_t recid = sqlite3_last_insert_rowid(db_);
  SchemaState &state = connection_.schema(schema_);
  state.note_changed(name_, recid);
  if (recid >= next_recid()) state.set_next_recid(name_, recid + 1);
  return recid;
}

Statement &LocalWriter::update_statement(const std::string &changed, bool replace) {
  std::string key = changed + (replace ? "R" : "A");
  auto found = updates_.find(key);
  if (found != updates_.end()) return found->second;
  std::string sql = std::string("UPDATE ") + (replace ? "OR REPLACE " : "") + live_ + " SET ";
  bool first = true;
  for (size_t i = 0; i < definition_.columns.size(); ++i) {
    if (changed[i] != '1') continue;
    if (!first) sql += ", ";
    first = false;
    sql += quote_identifier(definition_.columns[i].name) + " = ?" + std::to_string(i + 2);
  }
  if (changed.size() > definition_.columns.size() && changed.back() == '1') {
    sql += std::string(first ? "" : ", ") + "rowid = ?" + std::to_string(definition_.columns.size() + 2);
  }
  sql += " WHERE rowid = ?1";
  return updates_.emplace(key, Statement(db_, sql, true)).first->second;
}

void LocalWriter::update(std::int64_t old_recid, sqlite3_value *new_rowid, sqlite3_value **values, bool replace) {
  const int ipk = definition_.integer_primary_key;
  const size_t count = definition_.columns.size();
  // Which columns the statement sets, plus one flag for a change of row identity.
  std::string changed(count + 1, '0');
  for (size_t i = 0; i < count; ++i)
    if (!sqlite3_value_nochange(values[i])) changed[i] = '1';
  sqlite3_value *identity = ipk >= 0 ? values[ipk] : new_rowid;
  bool moves = false;
  if (ipk < 0 || changed[ipk] == '1') {
    moves = !(sqlite3_value_type(identity) == SQLITE_INTEGER && sqlite3_value_int64(identity) == old_recid);
  }
  if (moves && ipk < 0) changed[count] = '1';
  if (changed.find('1') == std::string::npos) return;

  // The z$update$ trigger keeps the old version; a new identity makes it a deletion.
  Statement &statement = update_statement(changed, replace);
  statement.bind(1, old_recid);
  for (size_t i = 0; i < count; ++i)
    if (changed[i] == '1') statement.bind_value(static_cast<int>(i) + 2, values[i]);
  if (changed[count] == '1') statement.bind_value(static_cast<int>(count) + 2, identity);
  run_recording(statement, true);
  if (!sqlite3_changes(db_)) return;
  SchemaState &state = connection_.schema(schema_);
  state.note_changed(name_, old_recid);
  if (moves) {
    std::int64_t recid = sqlite3_value_int64(identity);
    state.note_changed(name_, recid);
    if (recid >= next_recid()) state.set_next_recid(name_, recid + 1);
  }
}

void LocalWriter::remove(std::int64_t recid) {
  if (!delete_) delete_ = Statement(db_, "DELETE FROM " + live_ + " WHERE rowid = ?1", true);
  delete_.bind(1, recid);
  run_recording(delete_, true);  // the z$delete$ trigger keeps the row and notes the change
}

}  // namespace zumero
