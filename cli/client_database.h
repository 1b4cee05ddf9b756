// A client database opened for the command-line client, with zumero registered on the
// connection, and the SQL the subcommands share.
#pragma once
#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>

#include "cli/commands.h"

namespace zumero::cli {

class ClientDatabase {
public:
  // must_exist: a missing file is an error instead of a new database.
  ClientDatabase(const std::string &path, bool must_exist);
  ~ClientDatabase();
  ClientDatabase(const ClientDatabase &) = delete;
  ClientDatabase &operator=(const ClientDatabase &) = delete;

  sqlite3 *db() const { return db_; }
  bool has_table(const std::string &name);
  // A value of t$sync, when the database has one.
  std::optional<std::string> sync_value(const std::string &key);

private:
  sqlite3 *db_ = nullptr;
};

// SELECT zumero_sync('main', url, dbfile[, scheme, user, password]): the text it returns.
std::string zumero_sync_call(sqlite3 *db, const std::string &url, const std::string &dbfile,
                             const std::optional<ResolvedCredentials> &credentials);

// The eight fields zumero_sync returns.
struct SyncResult {
  std::int64_t partial = 0;
  std::int64_t quarantine = 0;
  std::int64_t up_full = 0;
  std::int64_t down_full = 0;
  std::int64_t up = 0;
  std::int64_t down = 0;
  std::int64_t net_ms = 0;
  std::int64_t total_ms = 0;
};
SyncResult parse_sync_result(const std::string &text);

// Text of a value for display ("NULL" for NULL, x'..' for blobs).
std::string display_value(sqlite3_stmt *statement, int column);

}  // namespace zumero::cli
