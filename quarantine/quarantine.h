// Quarantine (guide chapter 6): local changes set aside, and put back through the
// dbfile's conflict rules.
//
// A set-aside package holds, for each changed row, the row as it was at the reference
// point ("before": the last sync, or what the push in flight carried) and as it is
// now. It is a package (sync/package.h) whose table sections hold, per row, an optional
// history entry with the before-state followed by the row's current state (live or
// deleted); rv is the version the server gave the row, 0 for a row only this client
// has. zumero_sync sets aside the changes committed while it was on the network,
// applies the server's changes, and restores them; zumero_quarantine_since_last_sync
// sets aside every unsynced change and keeps it in t$q.
//
// Restoring resolves each row with the same resolver the server uses for a push
// (conflict/resolver.h): ancestor = before, already = the row as it is now, incoming =
// the set-aside state. What the rules reject, or what breaks a constraint, fails the
// whole restore.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "base/connection_state.h"
#include "sync/state_apply.h"

namespace zumero::quarantine {

// Sets aside every row changed by local transactions newer than after_txid: returns
// the package (empty when there was nothing), puts each row back as it was before, and
// forgets those transactions (t$tx, t$dirty, their local history). pushed_parts: the
// parts of a push in flight, whose rows' before-state is what they carry.
std::string set_aside(sqlite3 *db, const std::string &schema, std::int64_t after_txid,
                      const std::vector<std::string> &pushed_parts);

struct RestoreOutcome {
  bool restored = true;
  std::string failure;  // a zumero error identifier when not restored
};

// Writes a set-aside package again as new local changes (through the module, so they
// get history and go out with the next sync). renumbered: identities the server gave
// the client's rows since the package was set aside. Inside a savepoint: a failed
// restore changes nothing.
RestoreOutcome restore(sqlite3 *db, ConnectionState &connection, const std::string &schema,
                       const std::string &package, const sync::Renumbered &renumbered);

// Keeps a package in t$q; returns its quarantine id.
std::int64_t keep(sqlite3 *db, const std::string &schema, const std::string &package);

// zumero_quarantine_since_last_sync: 0 when there was nothing to set aside.
std::int64_t quarantine_since_last_sync(sqlite3 *db, const std::string &schema);
// zumero_restore_quarantine: throws zumero::Error (a constraint violation, or
// package_rejected) and changes nothing when the package cannot be restored.
void restore_quarantine(sqlite3 *db, ConnectionState &connection, const std::string &schema, std::int64_t qid);

// zumero_purge_history: deletes history, except what unsynced changes still need.
void purge_history(sqlite3 *db, const std::string &schema);

}  // namespace zumero::quarantine
