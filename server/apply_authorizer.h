// The last line of defence while the server runs statements derived from a client's
// package: an SQLite authorizer that allows only what applying a package does (writing
// zumero's own tables, creating zumero tables and their storage, reading, a fixed set
// of functions) and denies everything else (ATTACH, DROP, views, other modules,
// load_extension and any function outside the list). Installed for the length of a
// push on the server's own connection.
#pragma once
#include "base/sqlite_api.h"

namespace zumero::server {

class ApplyAuthorizer {
public:
  explicit ApplyAuthorizer(sqlite3 *db);
  ~ApplyAuthorizer();
  ApplyAuthorizer(const ApplyAuthorizer &) = delete;
  ApplyAuthorizer &operator=(const ApplyAuthorizer &) = delete;

  // The decision for one request of SQLite's authorizer (SQLITE_OK or SQLITE_DENY).
  static int decide(int action, const char *first, const char *second, const char *database);

private:
  sqlite3 *db_;
};

}  // namespace zumero::server
