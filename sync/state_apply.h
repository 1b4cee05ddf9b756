// The client applies what the server sent: the reply to its push (rows the server
// stored differently, renumbered identities, ranges stored as sent) and the parts of
// a pull (schema entries, row states as of the target version, history). Runs inside
// the caller's write transaction, streaming over the packages; the client's own local
// changes newer than the push were set aside before, so afterwards the tables equal
// the server's at the target version.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/connection_state.h"
#include "base/sql.h"

namespace zumero::sync {

// Per table: the identity the client sent -> the one the server stored the row under.
using Renumbered = NameMap<std::map<std::int64_t, std::int64_t>>;

// packages: the push reply (may be empty) first, then the pull parts in order.
// exclude: the version the push produced (echoed ranges take it).
Renumbered apply_server_changes(sqlite3 *db, ConnectionState &connection, const std::string &schema,
                                const std::vector<std::string> &packages, bool first_is_reply,
                                std::int64_t exclude);

}  // namespace zumero::sync
