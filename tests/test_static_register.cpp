// Applications that link SQLite themselves call zumero_register() on a connection
// instead of loading the extension (guide 1.4).
#include <sqlite3.h>

#include <catch2/catch.hpp>

#include <string>

#include "zumero_register.h"

namespace {

std::string one_text(sqlite3 *db, const char *sql) {
  sqlite3_stmt *stmt = nullptr;
  INFO(sql << ": " << sqlite3_errmsg(db));
  REQUIRE(sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  const unsigned char *t = sqlite3_column_text(stmt, 0);
  std::string out = t ? reinterpret_cast<const char *>(t) : "NULL";
  sqlite3_finalize(stmt);
  return out;
}

void run(sqlite3 *db, const char *sql) {
  char *err = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  INFO(sql << ": " << (err ? err : ""));
  sqlite3_free(err);
  REQUIRE(rc == SQLITE_OK);
}

}  // namespace

TEST_CASE("zumero_register makes the module and functions available", "[static]") {
  sqlite3 *db = nullptr;
  REQUIRE(sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) == SQLITE_OK);
  REQUIRE(zumero_register(db) == SQLITE_OK);

  run(db, "CREATE VIRTUAL TABLE foo USING zumero (a TEXT PRIMARY KEY, b INT)");
  run(db, "INSERT INTO foo VALUES ('x', 1), ('y', 2); UPDATE foo SET b = 20 WHERE a = 'y'; "
          "DELETE FROM foo WHERE a = 'x'");
  CHECK(one_text(db, "SELECT group_concat(a || '=' || b) FROM foo") == "y=20");
  CHECK(one_text(db, "SELECT group_concat(a || '=' || b) FROM z$foo") == "y=20");
  CHECK(one_text(db, "SELECT count(*) FROM \"z$old$foo\"") == "2");
  CHECK(one_text(db, "SELECT zumero_named_constant('action_column_merge')") == "8");
  CHECK(one_text(db, "SELECT zumero_internal_auth_scheme('foo')") ==
        "{\"scheme_type\":\"internal\",\"dbfile\":\"foo\"}");

  char *err = nullptr;
  int rc = sqlite3_exec(db, "CREATE VIRTUAL TABLE \"a$b\" USING zumero (x)", nullptr, nullptr, &err);
  CHECK(rc != SQLITE_OK);
  CHECK(std::string(err ? err : "") == "zumero:no_dollar_sign_in_table_name");
  sqlite3_free(err);

  CHECK(sqlite3_close(db) == SQLITE_OK);
}

TEST_CASE("zumero_register on two connections", "[static]") {
  sqlite3 *a = nullptr;
  sqlite3 *b = nullptr;
  REQUIRE(sqlite3_open(":memory:", &a) == SQLITE_OK);
  REQUIRE(sqlite3_open(":memory:", &b) == SQLITE_OK);
  REQUIRE(zumero_register(a) == SQLITE_OK);
  REQUIRE(zumero_register(b) == SQLITE_OK);
  run(a, "CREATE VIRTUAL TABLE t USING zumero (v TEXT); INSERT INTO t VALUES ('a')");
  run(b, "CREATE VIRTUAL TABLE t USING zumero (v TEXT); INSERT INTO t VALUES ('b'), ('c')");
  CHECK(one_text(a, "SELECT count(*) FROM t") == "1");
  CHECK(one_text(b, "SELECT count(*) FROM t") == "2");
  CHECK(sqlite3_close(a) == SQLITE_OK);
  CHECK(sqlite3_close(b) == SQLITE_OK);
}
