// Helpers shared by the test programs: a database connection on a fresh temporary
// file with the zumero extension loaded, plus small query and error helpers that
// report through Catch2 (REQUIRE / CHECK) instead of assert().
#pragma once

#include <sqlite3.h>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace zt {

using Row = std::vector<std::string>;
using Rows = std::vector<Row>;

// What happened when a statement (or a batch of statements) ran.
struct Outcome {
  int rc = SQLITE_OK;        // primary result code (rc & 0xff)
  int extended = SQLITE_OK;  // extended result code
  std::string message;       // sqlite3_errmsg() when rc != SQLITE_OK
  int changes = 0;           // sqlite3_changes() after the last statement
  bool autocommit = true;    // sqlite3_get_autocommit() afterwards
  bool ok() const { return rc == SQLITE_OK; }
};

// Path of the loadable extension under test (set by the build system).
std::string extension_path();

// A new, unique, not yet existing database file name in the test scratch directory.
std::string fresh_db_path();

class Db {
public:
  // A fresh temporary database file with the extension loaded.
  Db();
  // Opens an existing (or new) file; loads the extension unless told not to.
  explicit Db(const std::string &path, bool load_extension = true, bool remove_on_close = false);
  ~Db();
  Db(const Db &) = delete;
  Db &operator=(const Db &) = delete;

  sqlite3 *handle() const { return db_; }
  const std::string &path() const { return path_; }

  // Closes the connection and opens the same file again (extension loaded again).
  void reopen();

  // Runs SQL (several statements allowed) and REQUIREs that it succeeds.
  void exec(const std::string &sql);
  // Runs SQL and reports what happened; never fails the test by itself.
  Outcome attempt(const std::string &sql);
  // REQUIREs that the SQL fails; returns the outcome for further checks.
  Outcome expect_failure(const std::string &sql);
  // REQUIREs that the SQL fails with exactly this error message.
  Outcome expect_error(const std::string &sql, const std::string &exact_message);
  // REQUIREs that the SQL fails with a message containing the fragment.
  Outcome expect_error_containing(const std::string &sql, const std::string &fragment);

  // First column of the first row, as text; "NULL" for SQL NULL. REQUIREs a row.
  std::string text(const std::string &sql);
  long long integer(const std::string &sql);
  bool is_null(const std::string &sql);
  // All rows; values rendered as plain text, SQL NULL as "NULL".
  Rows rows(const std::string &sql);
  // All rows; values rendered with their storage class: i:1 r:1.5 t:abc b:0A00 NULL.
  Rows typed_rows(const std::string &sql);
  // First column of every row, as plain text.
  std::vector<std::string> column(const std::string &sql);
  // The detail column of EXPLAIN QUERY PLAN for the statement.
  std::vector<std::string> plan(const std::string &sql);

  bool object_exists(const std::string &name);  // any sqlite_master entry of that name
  long long count(const std::string &table);    // SELECT count(*) FROM "table"
  // Every row of a table (rowid first), typed, in rowid order.
  Rows dump(const std::string &table);
  // Column names from PRAGMA table_info.
  std::vector<std::string> column_names(const std::string &table);

private:
  void open(bool load_extension);
  void close();
  Rows query(const std::string &sql, bool typed);

  sqlite3 *db_ = nullptr;
  std::string path_;
  bool load_extension_ = true;
  bool remove_on_close_ = true;
};

// Loads the extension into an already open connection; REQUIREs success.
void load_extension(sqlite3 *db);

// Double-quoted identifier.
std::string ident(const std::string &name);

// Replaces every occurrence of `from` in `text` by `to`.
std::string replace_all(std::string text, const std::string &from, const std::string &to);

bool contains(const std::string &haystack, const std::string &needle);
bool starts_with(const std::string &text, const std::string &prefix);

// Checks that a zumero table and its z$ storage table hold exactly the same rows.
void check_consistent(Db &db, const std::string &table);

// Runs the same statements against a regular table and a zumero table created from
// the same column definitions, and compares what happens. In statement templates,
// %T stands for the table name.
class Mirror {
public:
  Mirror(Db &db, const std::string &definition, std::string regular = "reg",
         std::string zumero = "zt");
  // Runs the template against both tables; returns the outcome for the zumero table.
  // Compares result code, autocommit state and (unless told not to) sqlite3_changes().
  Outcome run(const std::string &sql_template, bool compare_changes = true);
  // Runs on both and REQUIREs success.
  void exec(const std::string &sql_template);
  // Runs every statement against the regular table (continuing after errors), then
  // every statement against the zumero table, and compares the outcomes one by one.
  // Ends any transaction left open. Returns the outcomes for the zumero table.
  std::vector<Outcome> script(const std::vector<std::string> &sql_templates, bool compare_changes = true);
  // Same rows (rowid included, typed) in both tables; z$ storage consistent.
  void check_same_rows();
  const std::string &regular() const { return regular_; }
  const std::string &zumero() const { return zumero_; }

private:
  Db &db_;
  std::string regular_;
  std::string zumero_;
};

}  // namespace zt
