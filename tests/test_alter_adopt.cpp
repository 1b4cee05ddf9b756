// zumero_alter_table_add_column() (guide 3.7.2, 10.5.1) and
// zumero_adopt_existing_table() (guide 10.5.2).
#include "support.h"

#include <algorithm>

using namespace zt;

namespace {

bool has(const std::vector<std::string> &v, const std::string &x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

TEST_CASE("alter: add a column, then reopen", "[alter]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE foo USING zumero (a TEXT PRIMARY KEY, b INT)");
  db.exec("INSERT INTO foo VALUES ('k1', 1), ('k2', 2)");
  db.exec("UPDATE foo SET b = 20 WHERE a = 'k2'");
  CHECK(db.is_null("SELECT zumero_alter_table_add_column('main', 'foo', 'whatever TEXT')"));
  CHECK(db.column_names("z$foo") == std::vector<std::string>{"a", "b", "whatever"});
  CHECK(has(db.column_names("z$old$foo"), "whatever"));

  db.reopen();
  CHECK(db.column_names("foo") == std::vector<std::string>{"a", "b", "whatever"});
  CHECK(db.rows("SELECT a, b, whatever FROM foo ORDER BY a") == Rows{{"k1", "1", "NULL"}, {"k2", "20", "NULL"}});
  db.exec("INSERT INTO foo VALUES ('k3', 3, 'w3')");
  db.exec("UPDATE foo SET whatever = 'changed' WHERE a = 'k1'");
  CHECK(db.rows("SELECT a, b, whatever FROM foo ORDER BY a") ==
        Rows{{"k1", "1", "changed"}, {"k2", "20", "NULL"}, {"k3", "3", "w3"}});
  CHECK(db.rows("SELECT a, b, whatever, z_deleted FROM \"z$old$foo\" ORDER BY a, b") ==
        Rows{{"k1", "1", "NULL", "0"}, {"k2", "2", "NULL", "0"}});
  db.exec("DELETE FROM foo WHERE a = 'k3'");
  CHECK(db.rows("SELECT whatever, z_deleted FROM \"z$old$foo\" WHERE a = 'k3'") == Rows{{"w3", "1"}});
  check_consistent(db, "foo");
}

TEST_CASE("alter: the guide's untyped column and a column with a default", "[alter]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE foo USING zumero (a TEXT)");
  db.exec("INSERT INTO foo VALUES ('x')");
  CHECK(db.is_null("SELECT zumero_alter_table_add_column('main', 'foo', 'whatever')"));
  CHECK(db.is_null("SELECT zumero_alter_table_add_column('main', 'foo', 'd INT NOT NULL DEFAULT 7')"));
  db.reopen();
  CHECK(db.column_names("foo") == std::vector<std::string>{"a", "whatever", "d"});
  CHECK(db.rows("SELECT a, whatever, d FROM foo") == Rows{{"x", "NULL", "7"}});
  db.exec("INSERT INTO foo (a) VALUES ('y')");
  CHECK(db.rows("SELECT a, whatever, d FROM foo ORDER BY a") == Rows{{"x", "NULL", "7"}, {"y", "NULL", "7"}});
  db.exec("INSERT INTO foo VALUES ('z', 1.5, 8)");
  CHECK(db.text("SELECT whatever FROM foo WHERE a = 'z'") == "1.5");
  check_consistent(db, "foo");
}

TEST_CASE("alter: refused column definitions leave the table alone", "[alter][errors]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE foo USING zumero (a TEXT, b INT)");
  db.exec("CREATE TABLE plain (a TEXT)");
  db.exec("INSERT INTO foo VALUES ('x', 1)");
  for (const char *sql : {
           "SELECT zumero_alter_table_add_column('main', 'foo', 'c INTEGER PRIMARY KEY')",
           "SELECT zumero_alter_table_add_column('main', 'foo', 'c TEXT UNIQUE')",
           "SELECT zumero_alter_table_add_column('main', 'foo', 'c TEXT NOT NULL')",
           "SELECT zumero_alter_table_add_column('main', 'foo', 'a TEXT')",
           "SELECT zumero_alter_table_add_column('main', 'foo', 'z_rv INT')",
           "SELECT zumero_alter_table_add_column('main', 'nosuch', 'c TEXT')",
           "SELECT zumero_alter_table_add_column('main', 'plain', 'c TEXT')",
       }) {
    db.expect_failure(sql);
  }
  CHECK(db.column_names("z$foo") == std::vector<std::string>{"a", "b"});
  db.reopen();
  CHECK(db.column_names("foo") == std::vector<std::string>{"a", "b"});
  CHECK(db.rows("SELECT * FROM foo") == Rows{{"x", "1"}});
}

TEST_CASE("adopt: a table with an INTEGER PRIMARY KEY", "[adopt]") {
  Db db;
  db.exec("CREATE TABLE r (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INT DEFAULT 0, UNIQUE (name))");
  db.exec("INSERT INTO r VALUES (5, 'five', 50), (10, 'ten', 100), (42, 'answer', 420)");
  Rows before = db.dump("r");
  CHECK(db.is_null("SELECT zumero_adopt_existing_table('main', 'r')"));
  CHECK(contains(db.text("SELECT upper(sql) FROM sqlite_master WHERE name = 'r'"), "USING ZUMERO"));
  REQUIRE(db.object_exists("z$r"));
  REQUIRE(db.object_exists("z$old$r"));
  CHECK(db.dump("r") == before);
  CHECK(db.dump("z$r") == before);
  CHECK(db.column_names("z$r") == std::vector<std::string>{"id", "name", "qty"});
  CHECK(db.count("z$old$r") == 0);

  // It now behaves as a zumero table.
  db.exec("UPDATE r SET qty = 51 WHERE id = 5");
  db.exec("DELETE FROM r WHERE id = 10");
  db.exec("INSERT INTO r (name) VALUES ('new')");
  CHECK(db.rows("SELECT id, name, qty FROM r ORDER BY id") ==
        Rows{{"5", "five", "51"}, {"42", "answer", "420"}, {"43", "new", "0"}});
  CHECK(db.rows("SELECT z_recid, z_deleted FROM \"z$old$r\" ORDER BY z_recid") == Rows{{"5", "0"}, {"10", "1"}});
  db.expect_failure("INSERT INTO r (name) VALUES ('five')");
  db.expect_failure("INSERT INTO r (qty) VALUES (1)");
  db.expect_error_containing("DROP TABLE r", "zumero:table_drop_unsupported");
  db.reopen();
  CHECK(db.count("r") == 3);
  check_consistent(db, "r");
}

TEST_CASE("adopt: rowids are kept for tables without an INTEGER PRIMARY KEY", "[adopt]") {
  Db db;
  db.exec("CREATE TABLE s (a TEXT, b INT)");
  db.exec("INSERT INTO s VALUES ('one', 1), ('two', 2), ('three', 3), ('four', 4), ('five', 5)");
  db.exec("DELETE FROM s WHERE b IN (2, 4)");
  Rows before = db.dump("s");
  CHECK(db.is_null("SELECT zumero_adopt_existing_table('main', 's')"));
  CHECK(db.dump("s") == before);
  CHECK(db.column("SELECT rowid FROM s ORDER BY rowid") == std::vector<std::string>{"1", "3", "5"});
  db.exec("UPDATE s SET b = 30 WHERE a = 'three'");
  CHECK(db.integer("SELECT z_recid FROM \"z$old$s\"") == 3);
  check_consistent(db, "s");
}

TEST_CASE("adopt: refused inside an explicit transaction", "[adopt][errors]") {
  Db db;
  db.exec("CREATE TABLE r (a TEXT, b INT)");
  db.exec("INSERT INTO r VALUES ('x', 1)");
  db.exec("BEGIN");
  db.expect_failure("SELECT zumero_adopt_existing_table('main', 'r')");
  if (!sqlite3_get_autocommit(db.handle())) db.exec("ROLLBACK");
  CHECK(contains(db.text("SELECT upper(sql) FROM sqlite_master WHERE name = 'r'"), "CREATE TABLE R"));
  CHECK_FALSE(db.object_exists("z$r"));
  CHECK(db.rows("SELECT a, b FROM r") == Rows{{"x", "1"}});
  // Outside the transaction it works.
  CHECK(db.is_null("SELECT zumero_adopt_existing_table('main', 'r')"));
  CHECK(db.rows("SELECT a, b FROM r") == Rows{{"x", "1"}});
}

TEST_CASE("adopt: tables relying on relaxed quoting are refused", "[adopt][errors]") {
  Db db;
  db.exec("CREATE TABLE q1 ('a' TEXT, b INT)");
  db.exec("CREATE TABLE q2 (key TEXT, v INT)");
  db.exec("INSERT INTO q1 VALUES ('x', 1); INSERT INTO q2 VALUES ('k', 2)");
  db.expect_failure("SELECT zumero_adopt_existing_table('main', 'q1')");
  db.expect_failure("SELECT zumero_adopt_existing_table('main', 'q2')");
  for (const char *t : {"q1", "q2"}) {
    INFO("table " << t);
    CHECK_FALSE(db.object_exists(std::string("z$") + t));
    CHECK(contains(db.text(std::string("SELECT upper(sql) FROM sqlite_master WHERE name = '") + t + "'"),
                   "CREATE TABLE"));
  }
  CHECK(db.rows("SELECT * FROM q1") == Rows{{"x", "1"}});
  CHECK(db.rows("SELECT * FROM q2") == Rows{{"k", "2"}});
  // The same columns, properly quoted, are fine.
  db.exec("CREATE TABLE q3 (\"a\" TEXT, \"key\" TEXT)");
  CHECK(db.is_null("SELECT zumero_adopt_existing_table('main', 'q3')"));
}

TEST_CASE("adopt: other refusals", "[adopt][errors]") {
  Db db;
  db.exec("CREATE TABLE \"x$y\" (a TEXT)");
  db.exec("CREATE VIRTUAL TABLE z USING zumero (a TEXT)");
  db.expect_failure("SELECT zumero_adopt_existing_table('main', 'x$y')");
  db.expect_failure("SELECT zumero_adopt_existing_table('main', 'nosuch')");
  db.expect_failure("SELECT zumero_adopt_existing_table('main', 'z')");
  db.expect_failure("SELECT zumero_adopt_existing_table('main')");
  CHECK_FALSE(db.object_exists("z$x$y"));
}
