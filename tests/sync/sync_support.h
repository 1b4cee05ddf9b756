// Helpers for the sync integration tests: client databases opened with the loadable
// extension, small query helpers, and zumero_sync() wrappers.
//
// Errors are thrown as SqlError (a std::runtime_error whose what() is exactly
// sqlite3_errmsg()), so tests can write CHECK_THROWS_WITH(c.sync(...), "zumero:...").
// Nothing here uses Catch2 macros, so the helpers are safe to call from threads.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace zumero::synctest {

using Row = std::vector<std::string>;
using Rows = std::vector<Row>;

class SqlError : public std::runtime_error {
public:
  SqlError(int code, const std::string &message) : std::runtime_error(message), code_(code) {}
  int code() const { return code_; }

private:
  int code_;
};

// The eight integers zumero_sync() returns.
struct SyncStats {
  std::int64_t partial = 0;
  std::int64_t quarantine = 0;
  std::int64_t bytes_up_full = 0;
  std::int64_t bytes_down_full = 0;
  std::int64_t bytes_up_compressed = 0;
  std::int64_t bytes_down_compressed = 0;
  std::int64_t elapsed_ms_net = 0;
  std::int64_t elapsed_ms_total = 0;
  std::size_t field_count = 0;
  std::string text;
};

SyncStats parse_sync_result(const std::string &text);

std::string extension_path();

// Credentials for zumero_sync: a scheme string (JSON), a user and a password.
struct Credentials {
  std::string scheme;
  std::string user;
  std::string password;
  // An internal auth scheme as zumero_internal_auth_scheme(dbfile) makes it.
  static Credentials internal(const std::string &dbfile, const std::string &user, const std::string &password);
};

// One connection to a client database file, with the zumero extension loaded.
class Client {
public:
  explicit Client(std::filesystem::path file);
  ~Client();
  Client(const Client &) = delete;
  Client &operator=(const Client &) = delete;

  sqlite3 *db() const { return db_; }
  const std::filesystem::path &file() const { return file_; }
  // Closes and reopens the connection (needed after a column was added).
  void reopen();

  // Runs one or more statements; throws SqlError.
  void exec(const std::string &sql);
  // All rows of one statement, every value rendered as text ("<null>" for NULL,
  // "x'..'" for blobs); throws SqlError.
  Rows rows(const std::string &sql);
  // First column of the first row ("<null>" for NULL; "<none>" without a row).
  std::string text(const std::string &sql);
  std::int64_t integer(const std::string &sql);
  // Error message of the statement, "" when it succeeds.
  std::string error_of(const std::string &sql);

  // SELECT zumero_sync('main', url, dbfile): one call. Throws SqlError.
  SyncStats sync(const std::string &url, const std::string &dbfile);
  // Calls zumero_sync() until partial is 0. Throws SqlError.
  SyncStats sync_complete(const std::string &url, const std::string &dbfile, int max_calls = 1000);
  // The error of one zumero_sync() call, "" on success.
  std::string sync_error(const std::string &url, const std::string &dbfile);

  // The same, with credentials.
  SyncStats sync(const std::string &url, const std::string &dbfile, const Credentials &credentials);
  SyncStats sync_complete(const std::string &url, const std::string &dbfile, const Credentials &credentials);
  std::string sync_error(const std::string &url, const std::string &dbfile, const Credentials &credentials);

  // Every row of a zumero table with its identity, in rowid order.
  Rows dump(const std::string &table);

private:
  void open();
  std::filesystem::path file_;
  sqlite3 *db_ = nullptr;
};

// Quotes a string as an SQL literal.
std::string sql_quote(const std::string &text);

// Renders rows for failure messages.
std::string to_string(const Rows &rows);

}  // namespace zumero::synctest
