// Per-connection bookkeeping of local writes to zumero tables.
//
// Each write transaction gets a local transaction id, chosen at its first write as
// max(t$tx.txid)+1 (the writer holds the database's write lock, so ids never clash).
// The identities of rows it changes are collected in memory and written to t$dirty,
// compressed into ranges, together with its t$tx row when the transaction commits
// (from the module's xSync, as FTS5 flushes its pending terms). Savepoints keep marks
// into that list so ROLLBACK TO forgets exactly the rows it undid.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/sqlite_api.h"

namespace zumero {

class SchemaState {
public:
  std::int64_t txid = 0;  // 0 until the transaction's first write

  void note_changed(const std::string &table, std::int64_t recid);
  void savepoint(int level);
  void release(int level);
  void rollback_to(int level);
  void clear();
  bool has_pending() const { return txid != 0 && !flushed_; }

  // Writes t$tx and t$dirty for the transaction. Called once at commit.
  void flush(sqlite3 *db, const std::string &schema);

  // Next row identity to assign in table, cached for the transaction.
  std::optional<std::int64_t> cached_next_recid(const std::string &table) const;
  void set_next_recid(const std::string &table, std::int64_t next);

  // Tables that had rows changed in this transaction, with their changed identities.
  std::map<std::string, std::vector<std::int64_t>> changed_rows() const;

private:
  struct Change {
    int table;
    std::int64_t recid;
  };
  int table_id(const std::string &table);
  std::vector<std::string> tables_;
  std::vector<Change> changes_;
  std::map<int, size_t> marks_;
  std::map<std::string, std::int64_t> next_recid_;
  bool flushed_ = false;
};

// Set while the module runs a statement that may delete rows of z$T (DELETE, or
// OR REPLACE), so the z$delete$ trigger records them in history.
struct RecordingContext {
  std::string schema;
  std::string table;
  std::int64_t txid = 0;
};

class ConnectionState {
public:
  explicit ConnectionState(sqlite3 *db) : db_(db) {}
  sqlite3 *db() const { return db_; }
  SchemaState &schema(const std::string &name) { return schemas_[name]; }

  std::optional<RecordingContext> recording;
  // Set while sync applies remote changes: table creation does not log a local change.
  bool applying_remote = false;
  // Set while zumero_adopt_existing_table turns a regular table into a zumero table.
  std::string adopting;
  // The last error details of a sync call (JSON), for zumero_last_error_details().
  std::string last_error_details;

  // The connection's state, registered once per connection by zumero_register.
  static ConnectionState *find(sqlite3 *db);
  static ConnectionState *create(sqlite3 *db);
  static void destroy(void *state);

private:
  sqlite3 *db_;
  std::map<std::string, SchemaState> schemas_;
};

// Current local transaction id of schema, allocating one if this is the first write.
std::int64_t current_txid(ConnectionState &connection, const std::string &schema);

}  // namespace zumero
