// Quarantine (guide chapter 6): unsynced local changes set aside in t$q, and put back.
#pragma once
#include <cstdint>
#include <string>

#include "base/sqlite_api.h"

namespace zumero {

// Moves every local change not yet synced into a new t$q package and reverts the
// tables to their state at the last sync. Returns the quarantine id, 0 when there
// was nothing to set aside.
std::int64_t quarantine_since_last_sync(sqlite3 *db, const std::string &schema);

// Applies a quarantined package again as new local changes and removes it from t$q.
// A constraint violation fails the call and leaves tables and t$q as they were.
void restore_quarantine(sqlite3 *db, const std::string &schema, std::int64_t qid);

}  // namespace zumero
