// The client side of zumero_sync() and zumero_pull_without_history(): one call pushes
// every local change committed before it started (in as many rounds and parts as
// needed), pulls the server's changes, and applies them in one write transaction;
// changes committed while it waited on the network are set aside first and restored
// through the dbfile's conflict rules afterwards (what cannot be restored is
// quarantined and its id returned). No database lock is held while waiting for the
// network; syncs of one database file never overlap.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "base/connection_state.h"

namespace zumero {

struct Credentials {
  std::string scheme;
  std::string user;
  std::string password;
};

struct SyncOptions {
  std::string schema;
  std::string url;
  std::string dbfile;
  std::optional<Credentials> credentials;
  bool without_history = false;
};

struct SyncStats {
  std::int64_t partial = 0;
  std::int64_t quarantine = 0;
  std::size_t up_full = 0;
  std::size_t down_full = 0;
  std::size_t up_compressed = 0;
  std::size_t down_compressed = 0;
  std::int64_t net_ms = 0;
  std::int64_t total_ms = 0;
  std::string text() const;  // "partial;quarantine;up_full;down_full;up;down;net;total"
};

// Throws zumero::Error with the guide's identifiers.
SyncStats run_sync(sqlite3 *db, ConnectionState &connection, const SyncOptions &options);

// http:// or https:// with a host; throws zumero:invalid_argument otherwise.
void check_server_url(const std::string &url);

// Throws the zumero error matching an unsuccessful HTTP reply.
[[noreturn]] void throw_http_error(ConnectionState &connection, long status, const std::string &body);

}  // namespace zumero
