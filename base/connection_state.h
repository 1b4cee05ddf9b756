// Per-connection state of zumero, and the change ledger: the one place that records
// local write transactions and the rows they change.
//
// Every writer of local changes (the module's xUpdate, adoption of a table, the
// restore of a quarantined package, the rebase after a sync) goes through a
// ChangeLedger. A transaction's id is chosen at its first write as max(t$tx.txid)+1
// (the writer holds the database's write lock, so ids never clash). Changed row
// identities are collected in memory as ranges, with a mark per savepoint so
// ROLLBACK TO forgets exactly what it undid, and written to t$tx and t$dirty by
// flush() (the module calls it from xSync at commit; it may be called earlier, and
// again). end() forgets the transaction; the module calls it from xCommit/xRollback,
// so every writer makes sure a zumero table of the schema takes part in the
// transaction (any statement that writes through the module does).
//
// New row identities are never reused and never wrap: max(identity used)+1, or, once
// the largest int64 is taken, a random unused positive one (as SQLite does for rowids).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/progress.h"
#include "base/catalog.h"
#include "base/sql.h"
#include "base/sqlite_api.h"

namespace zumero {

class ChangeLedger {
public:
  // The transaction's id, allocating one at the first call.
  std::int64_t txid(sqlite3 *db, const std::string &schema);
  std::int64_t current_txid() const { return txid_; }
  bool active() const { return txid_ != 0; }

  void note(const std::string &table, std::int64_t recid) { note_range(table, recid, recid); }
  void note_range(const std::string &table, std::int64_t first, std::int64_t last);
  void savepoint(int level);
  void release(int level);
  void rollback_to(int level);

  // Writes the t$tx row and the noted ranges to t$dirty. Safe to call more than once.
  void flush(sqlite3 *db, const std::string &schema);
  void end();

  // A fresh identity for a new row of table.
  std::int64_t allocate_recid(sqlite3 *db, const std::string &schema, const std::string &table);
  // Tells the allocator that recid is now taken in table.
  void used_recid(const std::string &table, std::int64_t recid);

  // Tables whose rows this transaction changed (noted since the last flush or not).
  std::vector<std::string> changed_tables() const;
  // Every range noted in the transaction, flushed or not (after a ROLLBACK TO it may
  // still name rows that are back as they were: checking them again is harmless).
  // scratch holds the list when it has to be put together.
  const std::vector<RowRange> &changed_ranges(std::vector<RowRange> &scratch) const;

  // Whether the foreign keys were checked since the last change noted.
  bool foreign_keys_checked() const { return foreign_keys_checked_; }
  void set_foreign_keys_checked() { foreign_keys_checked_ = true; }

private:
  using Range = RowRange;
  // The next identity per table; nullopt once the largest int64 is taken.
  struct NextRecid {
    std::optional<std::int64_t> next;
  };
  std::int64_t txid_ = 0;
  std::vector<Range> pending_;     // not flushed yet
  std::vector<Range> flushed_;     // written to t$dirty in this transaction
  bool foreign_keys_checked_ = false;
  NameSet touched_;                // every table changed in the transaction
  std::map<int, size_t> marks_;    // savepoint level -> size of pending_ then
  NameMap<NextRecid> next_recid_;  // cached for the transaction
};

// Any unused identity in table chosen by SQLite's randomness; the allocator's fallback.
std::int64_t random_unused_recid(sqlite3 *db, const std::string &schema, const std::string &table);

// Set while the module runs a statement on z$T, so the history triggers record the
// old versions it replaces under the transaction's id.
struct RecordingContext {
  std::string table;
  std::int64_t txid = 0;
  ChangeLedger *ledger = nullptr;
};

// Something a higher layer keeps with a connection between calls (the sync client's
// own connection to the file, its lock file and HTTP handle), dropped with the state.
class ConnectionExtra {
public:
  virtual ~ConnectionExtra() = default;
};

class ConnectionState {
public:
  explicit ConnectionState(sqlite3 *db) : db_(db) {}
  ~ConnectionState();
  ConnectionState(const ConnectionState &) = delete;
  ConnectionState &operator=(const ConnectionState &) = delete;

  sqlite3 *db() const { return db_; }
  ChangeLedger &ledger(const std::string &schema) { return ledgers_[schema]; }

  std::optional<RecordingContext> recording;
  // Set while sync applies remote changes: table creation does not log a local change.
  bool applying_remote = false;
  // Set while zumero itself writes rows through the module: values are stored exactly
  // as given (an explicit NULL stays NULL instead of taking the column's DEFAULT).
  bool exact_values = false;
  // Set by the drop guard when a DROP TABLE's refusal reached it.
  bool drop_refused = false;
  // Set while zumero_adopt_existing_table turns a regular table into a zumero table.
  std::string adopting;
  // The last error details of a sync call (JSON), for zumero_last_error_details().
  std::string last_error_details;
  // The application's zumero_sync_progress callback; no callback when null.
  struct ProgressCallback {
    int (*callback)(void *context, int phase, sqlite3_int64 done, sqlite3_int64 total) = nullptr;
    void *context = nullptr;
  };
  ProgressCallback sync_progress;
  // Set while a sync applies server changes on this connection; told about every row.
  RowProgress *apply_progress = nullptr;
  // Per attached schema, what the sync client keeps between its calls.
  NameMap<std::unique_ptr<ConnectionExtra>> sync_sessions;

  // The state is shared by the module and every SQL function registered on the
  // connection: it lives until the last of them is gone (sqlite3_drop_modules may
  // remove the module while the functions stay).
  static std::shared_ptr<ConnectionState> find(sqlite3 *db);
  static std::shared_ptr<ConnectionState> create(sqlite3 *db);
  // A heap copy of the pointer for SQLite's user-data slots, freed by release_handle.
  static void *new_handle(const std::shared_ptr<ConnectionState> &state);
  static void release_handle(void *handle);
  static ConnectionState &from_handle(void *handle);

private:
  sqlite3 *db_;
  NameMap<ChangeLedger> ledgers_;
};

}  // namespace zumero
