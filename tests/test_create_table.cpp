// CREATE VIRTUAL TABLE ... USING zumero: the storage table, identifiers, refused
// clauses, and the fact that zumero tables can be neither dropped nor renamed.
#include "support.h"

#include <algorithm>
#include <cstdio>

using namespace zt;

namespace {

// Everything PRAGMA table_info says about a table (cid, name, type, notnull, dflt, pk).
Rows table_info(Db &db, const std::string &table) {
  return db.rows("SELECT * FROM pragma_table_info('" + replace_all(table, "'", "''") + "')");
}

// The unique indexes SQLite made for the table, described without their names.
Rows unique_index_shape(Db &db, const std::string &table) {
  return db.rows("SELECT il.\"unique\", il.origin, il.partial, "
                 "(SELECT group_concat(ii.name, ',') FROM pragma_index_info(il.name) ii) "
                 "FROM pragma_index_list('" + replace_all(table, "'", "''") + "') il "
                 "ORDER BY 4, 2");
}

void expect_create_refused(Db &db, const std::string &name, const std::string &body,
                           const std::string &message) {
  INFO("definition: " << body);
  db.expect_error("CREATE VIRTUAL TABLE " + name + " USING zumero(" + body + ")", message);
  CHECK_FALSE(db.object_exists("t"));
  CHECK_FALSE(db.object_exists("z$t"));
}

}  // namespace

TEST_CASE("create: storage table has exactly the declared columns and constraints", "[create]") {
  const std::vector<std::string> definitions = {
      "id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT 'x', qty INT CHECK (qty >= 0), "
      "price REAL, data BLOB, UNIQUE (name, qty)",
      "a text PRIMARY KEY, b integer, c integer",
      "a, b, c",
      "\"select\" TEXT, \"weird name\" INT, \"order\" NUMERIC UNIQUE",
      "x TEXT PRIMARY KEY NOT NULL DEFAULT (lower(hex(randomblob(16)))), y text",
      "a INT, b TEXT, UNIQUE (a,b)",
      "k INTEGER NOT NULL, v TEXT COLLATE NOCASE, PRIMARY KEY (k, v)",
  };
  int n = 0;
  for (const auto &def : definitions) {
    Db db;
    ++n;
    INFO("definition " << n << ": " << def);
    db.exec("CREATE TABLE reg (" + def + ")");
    db.exec("CREATE VIRTUAL TABLE t USING zumero (" + def + ")");
    REQUIRE(db.object_exists("z$t"));
    CHECK(db.text("SELECT type FROM sqlite_master WHERE name = 'z$t'") == "table");
    CHECK(table_info(db, "z$t") == table_info(db, "reg"));
    CHECK(unique_index_shape(db, "z$t") == unique_index_shape(db, "reg"));
    // The virtual table exposes the same column names, in order.
    CHECK(db.column_names("t") == db.column_names("reg"));
  }
}

TEST_CASE("create: rows live in z$t and SELECT * matches", "[create]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE t USING zumero (id INTEGER PRIMARY KEY, name TEXT, qty INT, "
          "price REAL, data BLOB)");
  db.exec("INSERT INTO t VALUES (1, 'apple', 3, 1.5, x'00ff');"
          "INSERT INTO t (name, qty) VALUES ('pear', NULL);"
          "INSERT INTO t (id, name, qty, price) VALUES (10, 'plum', '7', 2);");
  CHECK(db.typed_rows("SELECT * FROM t ORDER BY id") ==
        db.typed_rows("SELECT * FROM z$t ORDER BY id"));
  CHECK(db.rows("SELECT * FROM t ORDER BY id") ==
        Rows{{"1", "apple", "3", "1.5", "x'00FF'"},
             {"2", "pear", "NULL", "NULL", "NULL"},
             {"10", "plum", "7", "2.0", "NULL"}});
  // Column affinity is that of the declared types.
  CHECK(db.text("SELECT typeof(qty) FROM t WHERE id = 10") == "integer");
  CHECK(db.text("SELECT typeof(price) FROM t WHERE id = 10") == "real");
  // The rowid of z$t is the row identity seen through t.
  CHECK(db.rows("SELECT rowid, id FROM t ORDER BY rowid") ==
        db.rows("SELECT rowid, id FROM z$t ORDER BY rowid"));
  check_consistent(db, "t");
}

TEST_CASE("create: housekeeping tables are created", "[create]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE t USING zumero (a TEXT)");
  for (const char *name : {"z$t", "z$old$t", "z$rv$t", "t$tx", "t$dirty", "t$tables", "t$schema",
                           "t$sync", "t$q"}) {
    INFO("expected table " << name);
    CHECK(db.object_exists(name));
  }
  std::vector<std::string> tx = db.column_names("t$tx");
  CHECK(std::find(tx.begin(), tx.end(), "txid") != tx.end());
  CHECK(std::find(tx.begin(), tx.end(), "unix_time") != tx.end());
  std::vector<std::string> schema = db.column_names("t$schema");
  for (const char *c : {"seq", "rv", "kind", "tbl", "detail"}) {
    INFO("t$schema column " << c);
    CHECK(std::find(schema.begin(), schema.end(), c) != schema.end());
  }
  // The table itself is a virtual table using the zumero module.
  CHECK(contains(db.text("SELECT upper(sql) FROM sqlite_master WHERE name = 't'"), "USING ZUMERO"));
}

TEST_CASE("create: history table columns", "[create][history]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE t USING zumero (id INTEGER PRIMARY KEY, name TEXT, qty INT)");
  std::vector<std::string> cols = db.column_names("z$old$t");
  REQUIRE(cols.size() == 8);
  CHECK(std::vector<std::string>(cols.begin(), cols.begin() + 3) ==
        std::vector<std::string>{"id", "name", "qty"});
  std::vector<std::string> extra(cols.begin() + 3, cols.end());
  std::sort(extra.begin(), extra.end());
  CHECK(extra == std::vector<std::string>{"z_deleted", "z_end_rv", "z_recid", "z_rv", "z_txid"});
}

TEST_CASE("create: several tables and IF NOT EXISTS", "[create]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE one USING zumero (a TEXT)");
  db.exec("CREATE VIRTUAL TABLE two USING zumero (b INT, c TEXT)");
  db.exec("CREATE VIRTUAL TABLE IF NOT EXISTS one USING zumero (a TEXT)");
  db.exec("INSERT INTO one VALUES ('x'); INSERT INTO two VALUES (1, 'y');");
  CHECK(db.count("one") == 1);
  CHECK(db.count("two") == 1);
  db.expect_failure("CREATE VIRTUAL TABLE one USING zumero (a TEXT)");
  CHECK(db.count("one") == 1);
}

TEST_CASE("create: tables survive closing and reopening", "[create]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE t USING zumero (a TEXT PRIMARY KEY, b INT)");
  db.exec("INSERT INTO t VALUES ('k1', 1), ('k2', 2)");
  db.reopen();
  CHECK(db.rows("SELECT a, b FROM t ORDER BY a") == Rows{{"k1", "1"}, {"k2", "2"}});
  db.exec("UPDATE t SET b = 20 WHERE a = 'k2'; DELETE FROM t WHERE a = 'k1'");
  CHECK(db.rows("SELECT a, b FROM t") == Rows{{"k2", "20"}});
  check_consistent(db, "t");
}

TEST_CASE("create: table names with a dollar sign are refused", "[create][errors]") {
  Db db;
  db.expect_error("CREATE VIRTUAL TABLE \"a$b\" USING zumero (x TEXT)",
                  "zumero:no_dollar_sign_in_table_name");
  db.expect_error("CREATE VIRTUAL TABLE \"$t\" USING zumero (x TEXT)",
                  "zumero:no_dollar_sign_in_table_name");
  db.expect_error("CREATE VIRTUAL TABLE \"t$\" USING zumero (x TEXT)",
                  "zumero:no_dollar_sign_in_table_name");
  CHECK_FALSE(db.object_exists("a$b"));
  CHECK_FALSE(db.object_exists("z$a$b"));
}

TEST_CASE("create: a table named * is refused", "[create][errors]") {
  Db db;
  db.expect_error("CREATE VIRTUAL TABLE \"*\" USING zumero (x TEXT)", "zumero:invalid_argument");
  CHECK_FALSE(db.object_exists("*"));
}

TEST_CASE("create: reserved column names are refused", "[create][errors]") {
  Db db;
  expect_create_refused(db, "t", "a TEXT, z_rv INT", "zumero:invalid_argument");
  expect_create_refused(db, "t", "z_recid INTEGER, b TEXT", "zumero:invalid_argument");
  expect_create_refused(db, "t", "a TEXT, z_txid", "zumero:invalid_argument");
  expect_create_refused(db, "t", "a TEXT, \"z_rv\" TEXT", "zumero:invalid_argument");
}

TEST_CASE("create: relaxed quoting and bare keywords are refused", "[create][errors]") {
  Db db;
  expect_create_refused(db, "t", "'a' TEXT", "zumero:syntax_error");
  expect_create_refused(db, "t", "b INT, 'a' TEXT", "zumero:syntax_error");
  expect_create_refused(db, "t", "select TEXT", "zumero:syntax_error");
  expect_create_refused(db, "t", "a TEXT, order INT", "zumero:syntax_error");
  expect_create_refused(db, "t", "key TEXT", "zumero:syntax_error");
  // Double-quoted keywords are fine.
  db.exec("CREATE VIRTUAL TABLE t USING zumero (\"select\" TEXT, \"order\" INT, \"key\" TEXT)");
  db.exec("INSERT INTO t VALUES ('s', 1, 'k')");
  CHECK(db.rows("SELECT \"select\", \"order\", \"key\" FROM z$t") == Rows{{"s", "1", "k"}});
}

TEST_CASE("create: ON CONFLICT clauses in definitions are refused", "[create][errors]") {
  Db db;
  expect_create_refused(db, "t", "a TEXT UNIQUE ON CONFLICT REPLACE",
                        "zumero:conflict_clauses_unsupported");
  expect_create_refused(db, "t", "a TEXT NOT NULL ON CONFLICT IGNORE",
                        "zumero:conflict_clauses_unsupported");
  expect_create_refused(db, "t", "a INTEGER PRIMARY KEY ON CONFLICT FAIL, b TEXT",
                        "zumero:conflict_clauses_unsupported");
  expect_create_refused(db, "t", "a INT, b TEXT, UNIQUE (a, b) ON CONFLICT ABORT",
                        "zumero:conflict_clauses_unsupported");
  expect_create_refused(db, "t", "a INT, b TEXT, PRIMARY KEY (a) ON CONFLICT ROLLBACK",
                        "zumero:conflict_clauses_unsupported");
}

TEST_CASE("create: unsupported foreign key forms are refused", "[create][errors][fk]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE parent USING zumero (a TEXT PRIMARY KEY)");
  db.exec("CREATE TABLE plain (a TEXT PRIMARY KEY)");
  // Table constraint form.
  expect_create_refused(db, "t", "b TEXT, FOREIGN KEY (b) REFERENCES parent (a)", "zumero:syntax_error");
  // Reference to a table that is not a zumero table.
  expect_create_refused(db, "t", "b TEXT REFERENCES plain (a)", "zumero:syntax_error");
  // ON DELETE / ON UPDATE actions.
  expect_create_refused(db, "t", "b TEXT REFERENCES parent (a) ON DELETE CASCADE", "zumero:syntax_error");
  expect_create_refused(db, "t", "b TEXT REFERENCES parent (a) ON UPDATE SET NULL", "zumero:syntax_error");
  // The supported form works.
  db.exec("CREATE VIRTUAL TABLE t USING zumero (b TEXT REFERENCES parent (a))");
}

TEST_CASE("create: zumero tables cannot be dropped", "[create][errors]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE t USING zumero (a TEXT, b INT)");
  db.exec("INSERT INTO t VALUES ('x', 1), ('y', 2)");
  db.expect_error_containing("DROP TABLE t", "zumero:table_drop_unsupported");
  CHECK(db.object_exists("t"));
  CHECK(db.object_exists("z$t"));
  CHECK(db.rows("SELECT a, b FROM t ORDER BY a") == Rows{{"x", "1"}, {"y", "2"}});
  db.exec("INSERT INTO t VALUES ('z', 3)");
  CHECK(db.count("t") == 3);
  check_consistent(db, "t");
  db.reopen();
  CHECK(db.count("t") == 3);
  db.expect_error_containing("DROP TABLE IF EXISTS t", "zumero:table_drop_unsupported");
  CHECK(db.count("t") == 3);
}

TEST_CASE("create: zumero tables cannot be renamed", "[create][errors]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE t USING zumero (a TEXT, b INT)");
  db.exec("INSERT INTO t VALUES ('x', 1)");
  db.expect_error("ALTER TABLE t RENAME TO u", "zumero:table_rename_unsupported");
  CHECK(db.object_exists("t"));
  CHECK_FALSE(db.object_exists("u"));
  CHECK_FALSE(db.object_exists("z$u"));
  CHECK(db.rows("SELECT a, b FROM t") == Rows{{"x", "1"}});
  db.exec("INSERT INTO t VALUES ('y', 2)");
  CHECK(db.count("t") == 2);
  db.reopen();
  CHECK(db.count("t") == 2);
  check_consistent(db, "t");
}

TEST_CASE("create: zumero table in an attached database", "[create][attached]") {
  Db db;
  std::string other = fresh_db_path();
  db.exec("ATTACH DATABASE '" + replace_all(other, "'", "''") + "' AS other");
  db.exec("CREATE VIRTUAL TABLE other.t USING zumero (a TEXT, b INT)");
  db.exec("INSERT INTO other.t VALUES ('x', 1)");
  db.exec("UPDATE other.t SET b = 2");
  CHECK(db.integer("SELECT count(*) FROM other.sqlite_master WHERE name = 'z$t'") == 1);
  CHECK(db.integer("SELECT count(*) FROM main.sqlite_master WHERE name = 'z$t'") == 0);
  CHECK(db.rows("SELECT a, b FROM other.z$t") == Rows{{"x", "2"}});
  CHECK(db.integer("SELECT count(*) FROM other.\"z$old$t\"") == 1);
  db.exec("DETACH DATABASE other");
  std::remove(other.c_str());
}
