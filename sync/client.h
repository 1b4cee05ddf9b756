// The client side of zumero_sync(): push local changes, pull the server's, and apply
// them in one transaction. No lock is held while waiting for the network.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "base/sqlite_api.h"
#include "base/connection_state.h"

namespace zumero::sync {

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

SyncStats run_sync(sqlite3 *db, ConnectionState &connection, const SyncOptions &options);

// ^[a-z][a-z0-9_]*$, and the zumero_ prefix only for the server's own dbfiles.
bool valid_dbfile_name(const std::string &name, bool for_push);

// Throws the zumero error matching an unsuccessful HTTP reply.
[[noreturn]] void throw_http_error(ConnectionState &connection, long status, const std::string &body);

}  // namespace zumero::sync
