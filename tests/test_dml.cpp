// INSERT / UPDATE / DELETE on a zumero table behave like on a regular table;
// defaults, constraints, value types, rowids and strict type checking.
#include "support.h"

using namespace zt;

TEST_CASE("dml: a sequence of writes matches a regular table", "[dml]") {
  Db db;
  Mirror m(db, "id INTEGER PRIMARY KEY, name TEXT, qty INT, price REAL, note");
  m.exec("INSERT INTO %T (name, qty, price) VALUES ('apple', 3, 0.5)");
  m.exec("INSERT INTO %T (name, qty, price) VALUES ('pear', 5, 0.75), ('plum', 0, 1.25)");
  m.exec("INSERT INTO %T VALUES (10, 'fig', 7, 2.0, x'cafe')");
  m.exec("INSERT INTO %T (name, qty) SELECT name || '2', qty * 2 FROM %T WHERE qty > 0");
  m.exec("UPDATE %T SET qty = qty + 1 WHERE name LIKE 'p%'");
  m.exec("UPDATE %T SET note = 'cheap' WHERE price < 1");
  m.exec("UPDATE %T SET price = NULL, note = 42 WHERE id = 10");
  m.exec("DELETE FROM %T WHERE qty = 1");
  m.exec("UPDATE %T SET name = upper(name)");
  m.exec("DELETE FROM %T WHERE id IN (2, 12)");
  m.exec("INSERT INTO %T (name) VALUES ('late')");
  m.check_same_rows();
  m.exec("DELETE FROM %T");
  m.check_same_rows();
  CHECK(db.count("zt") == 0);
  m.exec("INSERT INTO %T (name) VALUES ('again')");
  m.check_same_rows();
}

TEST_CASE("dml: changing the INTEGER PRIMARY KEY moves the row", "[dml]") {
  Db db;
  Mirror m(db, "id INTEGER PRIMARY KEY, name TEXT");
  m.exec("INSERT INTO %T VALUES (1, 'a'), (2, 'b'), (3, 'c')");
  m.exec("UPDATE %T SET id = 20 WHERE id = 2");
  m.exec("UPDATE %T SET id = id + 100");
  m.check_same_rows();
  CHECK(db.rows("SELECT rowid, id, name FROM zt ORDER BY id") ==
        Rows{{"101", "101", "a"}, {"103", "103", "c"}, {"120", "120", "b"}});
  m.run("UPDATE %T SET id = 101 WHERE id = 103");  // conflicts: error on both
  m.check_same_rows();
}

TEST_CASE("dml: tables without an INTEGER PRIMARY KEY keep rowids", "[dml]") {
  Db db;
  Mirror m(db, "a TEXT, b INT");
  m.exec("INSERT INTO %T VALUES ('x', 1), ('y', 2)");
  m.exec("INSERT INTO %T (rowid, a, b) VALUES (100, 'z', 3)");
  m.exec("INSERT INTO %T (a, b) VALUES ('w', 4)");
  m.exec("UPDATE %T SET rowid = 50 WHERE a = 'y'");
  m.exec("DELETE FROM %T WHERE rowid = 1");
  m.check_same_rows();
  CHECK(db.column("SELECT rowid FROM zt ORDER BY rowid") ==
        std::vector<std::string>{"50", "100", "101"});
}

TEST_CASE("dml: last_insert_rowid and changes", "[dml]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE t USING zumero (id INTEGER PRIMARY KEY, v TEXT)");
  db.exec("INSERT INTO t (v) VALUES ('a')");
  CHECK(sqlite3_last_insert_rowid(db.handle()) == 1);
  db.exec("INSERT INTO t VALUES (41, 'b')");
  CHECK(sqlite3_last_insert_rowid(db.handle()) == 41);
  CHECK(db.integer("SELECT last_insert_rowid()") == 41);
  db.exec("INSERT INTO t (v) VALUES ('c')");
  CHECK(sqlite3_last_insert_rowid(db.handle()) == 42);
  Outcome o = db.attempt("UPDATE t SET v = v || '!' WHERE id > 1");
  REQUIRE(o.ok());
  CHECK(o.changes == 2);
  o = db.attempt("DELETE FROM t WHERE id = 1");
  REQUIRE(o.ok());
  CHECK(o.changes == 1);
  o = db.attempt("DELETE FROM t WHERE id = 999");
  REQUIRE(o.ok());
  CHECK(o.changes == 0);
  CHECK(db.integer("SELECT changes()") == 0);
}

TEST_CASE("dml: values of every storage class round-trip", "[dml]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE t USING zumero (k INTEGER PRIMARY KEY, v)");
  db.exec("INSERT INTO t VALUES (1, NULL), (2, 9223372036854775807), (3, -9223372036854775808),"
          " (4, 3.25), (5, -0.0), (6, ''), (7, 'héllo wörld'), (8, x''), (9, x'0001ff'),"
          " (10, 'it''s'), (11, 1e300), (12, char(0x263A))");
  CHECK(db.typed_rows("SELECT k, v, typeof(v) FROM t ORDER BY k") ==
        db.typed_rows("SELECT k, v, typeof(v) FROM z$t ORDER BY k"));
  CHECK(db.rows("SELECT typeof(v) FROM t ORDER BY k") ==
        Rows{{"null"}, {"integer"}, {"integer"}, {"real"}, {"real"}, {"text"}, {"text"},
             {"blob"}, {"blob"}, {"text"}, {"real"}, {"text"}});
  CHECK(db.text("SELECT v FROM t WHERE k = 7") == "héllo wörld");
  CHECK(db.text("SELECT hex(v) FROM t WHERE k = 9") == "0001FF");
  CHECK(db.text("SELECT v FROM t WHERE k = 2") == "9223372036854775807");

  // Large values, bound as parameters.
  std::string big(300000, 'q');
  sqlite3_stmt *stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db.handle(), "INSERT INTO t VALUES (?1, ?2)", -1, &stmt, nullptr) ==
          SQLITE_OK);
  sqlite3_bind_int(stmt, 1, 100);
  sqlite3_bind_text(stmt, 2, big.c_str(), static_cast<int>(big.size()), SQLITE_TRANSIENT);
  REQUIRE(sqlite3_step(stmt) == SQLITE_DONE);
  sqlite3_reset(stmt);
  std::vector<unsigned char> blob(200000);
  for (size_t i = 0; i < blob.size(); ++i) blob[i] = static_cast<unsigned char>(i * 7);
  sqlite3_bind_int(stmt, 1, 101);
  sqlite3_bind_blob(stmt, 2, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
  REQUIRE(sqlite3_step(stmt) == SQLITE_DONE);
  sqlite3_finalize(stmt);
  CHECK(db.text("SELECT v FROM t WHERE k = 100") == big);
  CHECK(db.integer("SELECT length(v) FROM t WHERE k = 101") == 200000);
  CHECK(db.integer("SELECT v = (SELECT v FROM z$t WHERE k = 101) FROM t WHERE k = 101") == 1);
  CHECK(db.integer("SELECT sum(unicode(substr(v, 1, 1))) FROM t WHERE k = 100") == 'q');
}

TEST_CASE("dml: parameters bound to statements on a zumero table", "[dml]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE t USING zumero (id INTEGER PRIMARY KEY, name TEXT, n INT)");
  sqlite3_stmt *stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db.handle(), "INSERT INTO t (name, n) VALUES (?1, ?2)", -1, &stmt,
                             nullptr) == SQLITE_OK);
  for (int i = 0; i < 50; ++i) {
    std::string name = "n" + std::to_string(i);
    sqlite3_bind_text(stmt, 1, name.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(stmt, 2, i);
    REQUIRE(sqlite3_step(stmt) == SQLITE_DONE);
    sqlite3_reset(stmt);
  }
  sqlite3_finalize(stmt);
  REQUIRE(sqlite3_prepare_v2(db.handle(), "SELECT name FROM t WHERE n = ?1", -1, &stmt, nullptr) ==
          SQLITE_OK);
  for (int i : {0, 17, 49}) {
    sqlite3_bind_int(stmt, 1, i);
    REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
    CHECK(std::string(reinterpret_cast<const char *>(sqlite3_column_text(stmt, 0))) ==
          "n" + std::to_string(i));
    CHECK(sqlite3_step(stmt) == SQLITE_DONE);
    sqlite3_reset(stmt);
  }
  sqlite3_finalize(stmt);
  CHECK(db.integer("SELECT count(*) FROM t") == 50);
  CHECK(db.integer("SELECT sum(n) FROM t") == 1225);
}

TEST_CASE("dml: column defaults apply to omitted columns", "[dml]") {
  Db db;
  Mirror m(db,
           "id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT 'nameless', n INT DEFAULT 42, "
           "e INT DEFAULT (6 * 7 + 1), f REAL DEFAULT -1.5, g TEXT");
  m.exec("INSERT INTO %T (id) VALUES (1)");
  m.exec("INSERT INTO %T (id, name, g) VALUES (2, 'named', 'gee')");
  m.exec("INSERT INTO %T DEFAULT VALUES");
  m.check_same_rows();
  CHECK(db.rows("SELECT id, name, n, e, f, g FROM zt WHERE id = 1") ==
        Rows{{"1", "nameless", "42", "43", "-1.5", "NULL"}});
  // SQLite hands a virtual table NULL for an omitted column and for an explicit NULL
  // alike, so a zumero table stores the default for both (a regular table refuses
  // the explicit NULL into this NOT NULL column).
  db.exec("INSERT INTO zt (id, name, n) VALUES (5, NULL, NULL)");
  CHECK(db.rows("SELECT name, n FROM zt WHERE id = 5") == Rows{{"nameless", "42"}});
}

TEST_CASE("dml: CURRENT_TIMESTAMP and random defaults", "[dml]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE t USING zumero (id INTEGER PRIMARY KEY, ts TEXT DEFAULT "
          "CURRENT_TIMESTAMP, r INT DEFAULT (random()), v TEXT)");
  db.exec("INSERT INTO t (v) VALUES ('a'), ('b')");
  CHECK(db.integer("SELECT count(*) FROM t WHERE ts IS NOT NULL AND abs(strftime('%s', ts) - "
                   "strftime('%s', 'now')) < 300") == 2);
  CHECK(db.integer("SELECT count(*) FROM t WHERE typeof(r) = 'integer'") == 2);
  check_consistent(db, "t");
}

TEST_CASE("dml: constraint violations are refused and leave the table unchanged", "[dml]") {
  Db db;
  Mirror m(db, "id INTEGER PRIMARY KEY, u TEXT UNIQUE, n INT NOT NULL, c INT CHECK (c >= 0)");
  m.exec("INSERT INTO %T VALUES (1, 'a', 1, 1), (2, 'b', 2, 2)");
  Outcome o = m.run("INSERT INTO %T VALUES (3, 'a', 3, 3)");
  CHECK(o.rc == SQLITE_CONSTRAINT);
  o = m.run("INSERT INTO %T VALUES (1, 'z', 3, 3)");
  CHECK(o.rc == SQLITE_CONSTRAINT);
  o = m.run("INSERT INTO %T VALUES (3, 'c', NULL, 3)");
  CHECK(o.rc == SQLITE_CONSTRAINT);
  o = m.run("INSERT INTO %T VALUES (3, 'c', 3, -3)");
  CHECK(o.rc == SQLITE_CONSTRAINT);
  o = m.run("UPDATE %T SET u = 'a' WHERE id = 2");
  CHECK(o.rc == SQLITE_CONSTRAINT);
  o = m.run("UPDATE %T SET n = NULL");
  CHECK(o.rc == SQLITE_CONSTRAINT);
  o = m.run("UPDATE %T SET c = c - 2");
  CHECK(o.rc == SQLITE_CONSTRAINT);
  m.check_same_rows();
  CHECK(db.rows("SELECT * FROM zt ORDER BY id") == Rows{{"1", "a", "1", "1"}, {"2", "b", "2", "2"}});
  // No history was written for refused statements.
  CHECK(db.count("z$old$zt") == 0);
}

TEST_CASE("dml: strict types refuse wrongly typed values", "[dml][strict]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE bar USING zumero ( * WITH_STRICT_TYPES, a INT, b TEXT, UNIQUE (a,b) )");
  // The storage table has only the user's columns.
  CHECK(db.column_names("z$bar") == std::vector<std::string>{"a", "b"});
  CHECK(db.column_names("bar") == std::vector<std::string>{"a", "b"});

  Outcome o = db.expect_failure("INSERT INTO bar (a) VALUES ('hello')");
  CHECK(o.rc == SQLITE_CONSTRAINT);
  CHECK(o.extended == SQLITE_CONSTRAINT_CHECK);
  CHECK(db.count("bar") == 0);

  o = db.expect_failure("INSERT INTO bar (a, b) VALUES (x'0102', 'blob in int')");
  CHECK(o.rc == SQLITE_CONSTRAINT);

  db.exec("INSERT INTO bar (a) VALUES (7)");
  db.exec("INSERT INTO bar (a, b) VALUES (8, 'text'), (NULL, 'only b'), (NULL, NULL)");
  CHECK(db.count("bar") == 4);

  o = db.expect_failure("UPDATE bar SET a = 'hello' WHERE a = 7");
  CHECK(o.rc == SQLITE_CONSTRAINT);
  CHECK(db.rows("SELECT a, b FROM bar ORDER BY rowid") ==
        Rows{{"7", "NULL"}, {"8", "text"}, {"NULL", "only b"}, {"NULL", "NULL"}});
  // The UNIQUE table constraint still holds.
  o = db.expect_failure("INSERT INTO bar (a, b) VALUES (8, 'text')");
  CHECK(o.rc == SQLITE_CONSTRAINT);
  check_consistent(db, "bar");
}

TEST_CASE("dml: without strict types any value is accepted", "[dml][strict]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE foo USING zumero ( a INT, b TEXT, UNIQUE (a,b) )");
  db.exec("INSERT INTO foo (a) VALUES ('hello')");
  CHECK(db.rows("SELECT a, typeof(a) FROM foo") == Rows{{"hello", "text"}});
}

TEST_CASE("dml: reads while writing through the same connection", "[dml]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE t USING zumero (id INTEGER PRIMARY KEY, n INT)");
  db.exec("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100) "
          "INSERT INTO t (id, n) SELECT x, x FROM c");
  // A statement that reads the table it writes.
  db.exec("INSERT INTO t (n) SELECT n + 1000 FROM t WHERE n <= 10");
  CHECK(db.count("t") == 110);
  db.exec("UPDATE t SET n = (SELECT max(n) FROM t) WHERE id = 1");
  CHECK(db.integer("SELECT n FROM t WHERE id = 1") == 1010);
  db.exec("DELETE FROM t WHERE n > (SELECT avg(n) FROM t)");
  CHECK(db.integer("SELECT count(*) FROM t") == db.integer("SELECT count(*) FROM z$t"));
  check_consistent(db, "t");
  // Join between a zumero table and a regular table.
  db.exec("CREATE TABLE names (id INTEGER PRIMARY KEY, label TEXT)");
  db.exec("INSERT INTO names VALUES (2, 'two'), (3, 'three'), (4000, 'none')");
  CHECK(db.rows("SELECT names.label, t.n FROM names JOIN t ON t.id = names.id ORDER BY names.id") ==
        Rows{{"two", "2"}, {"three", "3"}});
}
