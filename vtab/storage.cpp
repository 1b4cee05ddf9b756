#include "vtab/storage.h"

namespace zumero {
namespace {

// Rows that OR REPLACE removes reach the history only through delete triggers, which
// SQLite runs for them only with recursive triggers on. The application's own setting
// stays as it is: zumero turns it on around its statement when it is off.
class RecursiveTriggers {
public:
  explicit RecursiveTriggers(sqlite3 *db) : db_(db) {
    if (query_int(db_, "PRAGMA recursive_triggers") != 0) return;
    exec(db_, "PRAGMA recursive_triggers = 1");
    switched_ = true;
  }
  ~RecursiveTriggers() {
    if (switched_) sqlite3_exec(db_, "PRAGMA recursive_triggers = 0", nullptr, nullptr, nullptr);
  }
  RecursiveTriggers(const RecursiveTriggers &) = delete;
  RecursiveTriggers &operator=(const RecursiveTriggers &) = delete;

private:
  sqlite3 *db_;
  bool switched_ = false;
};

}  // namespace

LocalWriter::LocalWriter(sqlite3 *db, ConnectionState &connection, std::string schema, std::string name,
                         const TableDefinition &definition)
    : db_(db),
      connection_(connection),
      schema_(std::move(schema)),
      name_(std::move(name)),
      definition_(definition),
      live_(qualified(schema_, live_table_name(name_))) {}

// Runs a statement on z$T with the recording context set, so the history triggers keep
// the versions it replaces and note the rows it removes.
void LocalWriter::run(Statement &statement, bool replace) {
  ChangeLedger &ledger = connection_.ledger(schema_);
  std::optional<RecordingContext> outer = std::move(connection_.recording);
  connection_.recording = RecordingContext{name_, ledger.txid(db_, schema_), &ledger};
  struct Restore {
    ConnectionState &connection;
    std::optional<RecordingContext> &outer;
    ~Restore() { connection.recording = std::move(outer); }
  } restore{connection_, outer};
  if (replace) {
    RecursiveTriggers on(db_);
    statement.run();
  } else {
    statement.run();
  }
}

Statement &LocalWriter::insert_statement(bool replace, bool exact) {
  Statement &statement = insert_[(replace ? 2 : 0) + (exact ? 1 : 0)];
  if (statement) return statement;
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
    // SQLite does not apply the DEFAULT clauses of a virtual table, so omitted (NULL)
    // values get the column's default here; zumero's own writes keep values exact.
    std::string fallback = exact ? std::string() : default_expression(definition_.columns[i]);
    if (fallback.empty() || static_cast<int>(i) == definition_.integer_primary_key)
      params += "?" + std::to_string(i + 2);
    else
      params += "coalesce(?" + std::to_string(i + 2) + ", (" + fallback + "))";
  }
  statement = Statement(db_, std::string("INSERT ") + (replace ? "OR REPLACE " : "") + "INTO " + live_ + " (" + names +
                                 ") VALUES (" + params + ")",
                        true);
  return statement;
}

std::int64_t LocalWriter::insert(sqlite3_value *rowid, sqlite3_value **values, bool replace) {
  Statement &statement = insert_statement(replace, connection_.exact_values);
  const int ipk = definition_.integer_primary_key;
  sqlite3_value *given = ipk >= 0 ? values[ipk] : rowid;
  ChangeLedger &ledger = connection_.ledger(schema_);
  bool assign = sqlite3_value_type(given) == SQLITE_NULL;
  std::int64_t assigned = assign ? ledger.allocate_recid(db_, schema_, name_) : 0;
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
  run(statement, replace);
  std::int64_t recid = sqlite3_last_insert_rowid(db_);
  ledger.note(name_, recid);
  ledger.used_recid(name_, recid);
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
  run(statement, replace);
  if (!sqlite3_changes(db_)) return;
  ChangeLedger &ledger = connection_.ledger(schema_);
  ledger.note(name_, old_recid);
  if (moves) {
    std::int64_t recid = sqlite3_value_int64(identity);
    ledger.note(name_, recid);
    ledger.used_recid(name_, recid);
  }
}

void LocalWriter::remove(std::int64_t recid) {
  if (!delete_) delete_ = Statement(db_, "DELETE FROM " + live_ + " WHERE rowid = ?1", true);
  delete_.bind(1, recid);
  run(delete_, false);  // the z$delete$ trigger keeps the row and notes the change
}

}  // namespace zumero
