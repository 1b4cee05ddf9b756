// What a write transaction changed in a dbfile, as a record another copy of the same
// dbfile can apply to reach the same state. The PostgreSQL backend stores one record
// per write and every node applies them in order to its own SQLite copy.
//
// The record is state-based, like SQLite's session extension: the tracker only notes
// which rows (table, rowid) were touched, and the record holds their final state read
// at commit time (the row's values, or its absence). Changes undone by ROLLBACK TO
// cancel out by themselves, and so does a row changed many times. Unlike the session
// extension it works on tables without a PRIMARY KEY, which the history tables are.
//
// A record cannot express a schema change (the caller notices those through
// PRAGMA schema_version and stores a whole copy instead) nor a change to a table
// WITHOUT ROWID (zumero never makes one; encode_changes() then reports failure).
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "base/sqlite_api.h"

namespace zumero::server {

// Notes the rows a connection touches while it is installed; removes its hook when
// destroyed. One tracker per connection at a time.
class RowChangeTracker {
public:
  // Changes to `ignored` (a bookkeeping table the caller writes itself) are not noted.
  RowChangeTracker(sqlite3 *db, std::string ignored);
  ~RowChangeTracker();
  RowChangeTracker(const RowChangeTracker &) = delete;
  RowChangeTracker &operator=(const RowChangeTracker &) = delete;

  // Rowids touched per table of the main database.
  const std::map<std::string, std::set<std::int64_t>> &touched() const { return touched_; }
  bool empty() const { return touched_.empty(); }

private:
  static void on_change(void *self, sqlite3 *db, int op, const char *database, const char *table,
                        sqlite3_int64 old_rowid, sqlite3_int64 new_rowid);
  sqlite3 *db_;
  std::string ignored_;
  std::map<std::string, std::set<std::int64_t>> touched_;
};

// The record of the touched rows' current state; nullopt when a touched table cannot
// be read by rowid (WITHOUT ROWID) or has gone.
std::optional<std::string> encode_changes(sqlite3 *db, const RowChangeTracker &tracker);

// Applies a record inside the caller's transaction: deletes first, then every row's
// final values by rowid. Triggers and foreign keys stay out of it (the record already
// holds their effects). Throws zumero::Error when the record is malformed or does not
// fit this copy's schema.
void apply_changes(sqlite3 *db, std::string_view record);

}  // namespace zumero::server
