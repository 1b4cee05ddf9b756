// Small RAII helpers over the SQLite C API, shared by the module, the functions,
// the sync client and the server. Errors travel as zumero::Error exceptions inside
// C++ code and are turned into SQLite errors at every callback boundary.
#pragma once
#include "base/sqlite_api.h"

#include <cstdint>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace zumero {

// An error with an SQLite result code and a message. Zumero's own errors carry the
// message "zumero:<identifier>" from the guide's error table.
class Error : public std::runtime_error {
public:
  Error(int code, const std::string &message) : std::runtime_error(message), code_(code) {}
  int code() const { return code_; }

private:
  int code_;
};

// Throws Error(code, "zumero:<identifier>").
[[noreturn]] void fail(const std::string &identifier, int code = SQLITE_ERROR);
// Throws the connection's current error as an Error.
[[noreturn]] void fail_from_db(sqlite3 *db, int code);

std::string quote_identifier(std::string_view name);  // "name" with inner quotes doubled
std::string quote_literal(std::string_view text);     // 'text' with inner quotes doubled
std::string hex_bytes(const void *data, std::size_t size);  // two lowercase hex digits per byte
std::string lower_ascii(std::string_view text);
// Table and column names compare as SQLite compares them: ASCII letters without case.
bool iequals(std::string_view a, std::string_view b);
int compare_names(std::string_view a, std::string_view b);
struct NameLess {
  bool operator()(std::string_view a, std::string_view b) const { return compare_names(a, b) < 0; }
};
template <typename T>
using NameMap = std::map<std::string, T, NameLess>;
using NameSet = std::set<std::string, NameLess>;

// Runs one or more statements that return no rows of interest.
void exec(sqlite3 *db, const std::string &sql);

// Connections that zumero opens and closes itself (the server's, the sync client's own)
// keep their prepared statements: a Statement on such a connection takes an idle
// statement prepared from the same SQL, and gives it back, reset and with its
// bindings cleared, when destroyed. drop_kept_statements() must run before the
// connection is closed (sqlite3_close fails while statements are open). Other
// connections, the application's above all, keep nothing.
void keep_statements(sqlite3 *db);
void drop_kept_statements(sqlite3 *db);

// A prepared statement that finalizes itself.
class Statement {
public:
  Statement() = default;
  Statement(sqlite3 *db, const std::string &sql, bool persistent = false);
  ~Statement();
  Statement(Statement &&other) noexcept;
  Statement &operator=(Statement &&other) noexcept;
  Statement(const Statement &) = delete;
  Statement &operator=(const Statement &) = delete;

  sqlite3_stmt *get() const { return stmt_; }
  explicit operator bool() const { return stmt_ != nullptr; }

  Statement &bind(int index, std::int64_t value);
  Statement &bind(int index, double value);
  Statement &bind(int index, std::string_view text);
  Statement &bind(int index, const char *text) { return bind(index, std::string_view(text)); }
  Statement &bind_blob(int index, const void *data, std::size_t size);
  Statement &bind_null(int index);
  Statement &bind_value(int index, sqlite3_value *value);

  // Steps once; true when a row is available, false when done. Throws on error.
  bool step();
  // Steps until done, then resets.
  void run();
  void reset();

  int column_count() const { return sqlite3_column_count(stmt_); }
  int column_type(int i) const { return sqlite3_column_type(stmt_, i); }
  bool is_null(int i) const { return column_type(i) == SQLITE_NULL; }
  std::int64_t column_int(int i) const { return sqlite3_column_int64(stmt_, i); }
  double column_double(int i) const { return sqlite3_column_double(stmt_, i); }
  std::string column_text(int i) const;
  sqlite3_value *column_value(int i) const { return sqlite3_column_value(stmt_, i); }

private:
  static void check_bind(int rc);
  sqlite3 *db_ = nullptr;
  sqlite3_stmt *stmt_ = nullptr;
};

// Runs a query expected to return one integer; returns fallback when it returns no row or NULL.
std::int64_t query_int(sqlite3 *db, const std::string &sql, std::int64_t fallback = 0);

// Opens a transaction and rolls it back unless commit() is called.
class Transaction {
public:
  Transaction(sqlite3 *db, const char *begin_sql = "BEGIN");
  ~Transaction();
  void commit();

private:
  sqlite3 *db_;
  bool open_;
};

// A SAVEPOINT that is rolled back and released unless release() is called.
class Savepoint {
public:
  Savepoint(sqlite3 *db, std::string name);
  ~Savepoint();
  void release();

private:
  sqlite3 *db_;
  std::string name_;
  bool open_;
};

}  // namespace zumero
