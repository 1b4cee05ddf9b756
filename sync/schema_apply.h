// Applies one schema entry received from the other side: table creations, added
// columns and conflict rules. Server (for a client's push) and client (for the
// server's reply) use this one function; the entry is parsed and checked here, and
// every statement it runs is generated from the parsed definition.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "base/connection_state.h"
#include "sync/package.h"

namespace zumero::sync {

enum class SchemaOutcome { Applied, AlreadyThere };

// rv: the version the entry belongs to. origin: on a client, the server's sequence
// number of the entry. Throws zumero::Error: invalid_argument for a malformed entry,
// column_definition_mismatch when it contradicts what the database already holds.
SchemaOutcome apply_schema_entry(sqlite3 *db, ConnectionState &connection, const std::string &schema,
                                 const SchemaEntry &entry, std::int64_t rv, std::optional<std::int64_t> origin);

// True when the client already recorded the server's entry with this sequence number.
bool schema_entry_known(sqlite3 *db, const std::string &schema, std::int64_t origin);

}  // namespace zumero::sync
