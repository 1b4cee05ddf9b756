// The local (no server) examples of the guide, run as written where possible.
#include "support.h"

using namespace zt;

TEST_CASE("guide: getting started (chapter 2)", "[guide]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE foo USING zumero (id INTEGER PRIMARY KEY, col TEXT, n INT)");
  db.exec("CREATE INDEX bar ON z$foo (col)");
  db.exec("INSERT INTO foo (col, n) VALUES ('x', 1), ('y', 2), ('x', 3)");
  CHECK(db.rows("SELECT n FROM foo WHERE col = 'x' ORDER BY n") == Rows{{"1"}, {"3"}});
  db.exec("UPDATE foo SET n = n * 10 WHERE col = 'x'");
  db.exec("DELETE FROM foo WHERE col = 'y'");
  CHECK(db.rows("SELECT col, n FROM foo ORDER BY n") == Rows{{"x", "10"}, {"x", "30"}});
  // An index cannot be created on the virtual table itself.
  db.expect_failure("CREATE INDEX baz ON foo (col)");
  // Index management on z$foo is local: dropping it is fine and queries still work.
  db.exec("DROP INDEX bar");
  CHECK(db.integer("SELECT count(*) FROM foo WHERE col = 'x'") == 2);
  check_consistent(db, "foo");
}

TEST_CASE("guide: Ringo and George table (5.1.2)", "[guide]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE foo USING zumero (a text PRIMARY KEY, b integer, c integer);");
  db.exec("INSERT INTO foo (a,b,c) VALUES ('bar', 17, 13);");
  db.exec("UPDATE foo SET b=289 WHERE a='bar';");
  db.exec("UPDATE foo SET c=169 WHERE a='bar';");
  CHECK(db.rows("SELECT a, b, c FROM foo") == Rows{{"bar", "289", "169"}});
  CHECK(db.rows("SELECT a, b, c, z_deleted FROM \"z$old$foo\" ORDER BY b, c") ==
        Rows{{"bar", "17", "13", "0"}, {"bar", "289", "13", "0"}});
  db.expect_failure("INSERT INTO foo (a,b,c) VALUES ('bar', 1, 1)");
}

TEST_CASE("guide: strict type checking (3.6)", "[guide][strict]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE foo USING zumero\n(\n  a INT,\n  b TEXT,\n  UNIQUE (a,b)\n);");
  db.exec("CREATE VIRTUAL TABLE bar USING zumero\n(\n  * WITH_STRICT_TYPES,\n  a INT,\n  b TEXT,\n  UNIQUE (a,b)\n);");
  db.exec("INSERT INTO foo (a) VALUES ('hello');");
  Outcome o = db.expect_failure("INSERT INTO bar (a) VALUES ('hello');");
  CHECK(o.rc == SQLITE_CONSTRAINT);
  CHECK(db.count("foo") == 1);
  CHECK(db.count("bar") == 0);
}

TEST_CASE("guide: CHECK constraint example (5.2.1)", "[guide]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE foo USING zumero (a int, b int, c int, CHECK (c > (a + b)));");
  db.exec("INSERT INTO foo (a,b,c) VALUES (10, 20, 50);");
  db.exec("UPDATE foo SET a=25;");
  Outcome o = db.expect_failure("UPDATE foo SET b=35;");
  CHECK(o.rc == SQLITE_CONSTRAINT);
  CHECK(db.rows("SELECT a, b, c FROM foo") == Rows{{"25", "20", "50"}});
}

TEST_CASE("guide: foreign key example (5.2.2)", "[guide][fk]") {
  Db db;
  db.exec("PRAGMA foreign_keys = ON");
  db.exec("CREATE VIRTUAL TABLE foo USING zumero (a text PRIMARY KEY);");
  db.exec("CREATE VIRTUAL TABLE bar USING zumero (b text REFERENCES foo (a));");
  db.exec("INSERT INTO foo (a) VALUES ('hello');");
  db.exec("INSERT INTO bar (b) VALUES ('hello');");
  // Locally, Don's delete would break Harold's reference, so it is refused.
  db.expect_failure("DELETE FROM foo;");
  CHECK(db.count("foo") == 1);
}

TEST_CASE("guide: UNIQUE example (5.2.3)", "[guide]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE foo USING zumero (\n    a text, \n    b integer, \n    c double, \n"
          "    UNIQUE (a,b)\n    );");
  db.exec("INSERT INTO foo (a,b,c) VALUES ('rose', 16, 3.14159);");
  Outcome o = db.expect_failure("INSERT INTO foo (a,b,c) VALUES ('rose', 16, 1.41421);");
  CHECK(o.rc == SQLITE_CONSTRAINT);
  CHECK(db.rows("SELECT a, b, c FROM foo") == Rows{{"rose", "16", "3.14159"}});
}

TEST_CASE("guide: INTEGER PRIMARY KEY columns (5.2.5)", "[guide]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE foo USING zumero (x INTEGER PRIMARY KEY, y text);");
  db.exec("INSERT INTO foo (y) VALUES ('hello');");
  db.exec("INSERT INTO foo (y) VALUES ('world');");
  CHECK(db.rows("SELECT rowid, x, y FROM foo ORDER BY x") == Rows{{"1", "1", "hello"}, {"2", "2", "world"}});
  db.exec("INSERT INTO foo (x,y) VALUES (random(), 'hello');");
  CHECK(db.integer("SELECT count(*) FROM foo WHERE rowid = x") == 3);
  check_consistent(db, "foo");
}

TEST_CASE("guide: z_ipk_no_change_on_sync constraint name is accepted (5.2.5.3)", "[guide]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE foo USING zumero (\n    x INTEGER \n    CONSTRAINT z_ipk_no_change_on_sync PRIMARY KEY, \n"
          "    y text\n    );");
  db.exec("INSERT INTO foo (y) VALUES ('a'); INSERT INTO foo (x, y) VALUES (100, 'b');");
  CHECK(db.rows("SELECT rowid, x, y FROM foo ORDER BY x") == Rows{{"1", "1", "a"}, {"100", "100", "b"}});
  CHECK(db.rows("SELECT name, pk FROM pragma_table_info('z$foo')") == Rows{{"x", "1"}, {"y", "0"}});
  db.expect_failure("INSERT INTO foo (x, y) VALUES (100, 'dup')");
}

TEST_CASE("guide: UUIDs as primary keys (5.2.5.4)", "[guide]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE foo USING zumero (x TEXT PRIMARY KEY NOT NULL \n"
          "    DEFAULT ( lower(hex(randomblob(16))) ), y text);");
  db.exec("INSERT INTO foo (y) VALUES ('a'), ('b'), ('c');");
  CHECK(db.integer("SELECT count(DISTINCT x) FROM foo") == 3);
  CHECK(db.integer("SELECT count(*) FROM foo WHERE length(x) = 32 AND x = lower(x) "
                   "AND x NOT GLOB '*[^0-9a-f]*'") == 3);
  db.exec("INSERT INTO foo (x, y) VALUES ('fixed', 'd')");
  // An explicit NULL reaches the module as an omitted value would: it gets a new key.
  db.exec("INSERT INTO foo (x, y) VALUES (NULL, 'e')");
  db.expect_failure("INSERT INTO foo (x, y) VALUES ('fixed', 'f')");
  CHECK(db.count("foo") == 5);
  check_consistent(db, "foo");
}

TEST_CASE("guide: random 64-bit keys (5.2.5.5)", "[guide]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE foo USING zumero (x INT PRIMARY KEY DEFAULT ( random() ), y text);");
  db.exec("INSERT INTO foo (y) VALUES ('a'), ('b');");
  CHECK(db.integer("SELECT count(DISTINCT x) FROM foo WHERE typeof(x) = 'integer'") == 2);
  // Here x is a regular column, not the rowid.
  CHECK(db.rows("SELECT name, pk FROM pragma_table_info('z$foo')") == Rows{{"x", "1"}, {"y", "0"}});
  check_consistent(db, "foo");
}

TEST_CASE("guide: history chapter (8)", "[guide][history]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE FOO USING zumero (name TEXT, v INT)");
  REQUIRE(db.object_exists("z$FOO"));
  REQUIRE(db.object_exists("z$old$FOO"));
  db.exec("INSERT INTO FOO VALUES ('a', 1), ('b', 2)");
  db.exec("UPDATE FOO SET v = 10 WHERE name = 'a'");
  db.exec("DELETE FROM FOO WHERE name = 'b'");
  // Current rows in z$FOO, old ones in z$old$FOO.
  CHECK(db.rows("SELECT name, v FROM z$FOO") == Rows{{"a", "10"}});
  CHECK(db.rows("SELECT name, v FROM \"z$old$FOO\" ORDER BY name") == Rows{{"a", "1"}, {"b", "2"}});
  CHECK(db.is_null("SELECT zumero_purge_history('main')"));
  CHECK(db.count("z$old$FOO") == 0);
  CHECK(db.rows("SELECT name, v FROM FOO") == Rows{{"a", "10"}});
  // Files shrink only after VACUUM (FAQ); VACUUM works on a database with zumero tables.
  db.exec("VACUUM");
  CHECK(db.rows("SELECT name, v FROM FOO") == Rows{{"a", "10"}});
}

TEST_CASE("guide: reading z$ tables without the extension (FAQ)", "[guide]") {
  std::string path;
  {
    Db db;
    path = db.path();
    db.exec("CREATE VIRTUAL TABLE foo USING zumero (a TEXT, b INT)");
    db.exec("INSERT INTO foo VALUES ('x', 1), ('y', 2)");
    // Keep the file: reopen it below without the extension.
    Db plain(path, false, false);
    CHECK(plain.rows("SELECT a, b FROM z$foo ORDER BY a") == Rows{{"x", "1"}, {"y", "2"}});
    // The virtual table itself needs the module.
    plain.expect_failure("SELECT * FROM foo");
  }
}
