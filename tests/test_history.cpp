// History (guide chapter 8): old row versions in z$old$<table>, the t$tx log of
// committed transactions, and zumero_purge_history().
#include "support.h"

#include <algorithm>
#include <map>

using namespace zt;

namespace {

// History rows as (z_recid, z_deleted, user columns...), sorted.
Rows history(Db &db, const std::string &table, const std::string &columns) {
  return db.rows("SELECT z_recid, z_deleted, " + columns + " FROM " + ident("z$old$" + table) +
                 " ORDER BY z_recid, z_deleted, " + columns);
}

Rows sorted_rows(Db &db, const std::string &table) {
  Rows rows = db.typed_rows("SELECT * FROM " + ident(table));
  std::sort(rows.begin(), rows.end());
  return rows;
}

long long last_txid(Db &db) { return db.integer("SELECT coalesce(max(txid), 0) FROM t$tx"); }

}  // namespace

TEST_CASE("history: inserts write no history", "[history]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE t USING zumero (id INTEGER PRIMARY KEY, name TEXT, qty INT)");
  db.exec("INSERT INTO t VALUES (1, 'a', 10), (2, 'b', 20), (3, 'c', 30)");
  CHECK(db.count("z$old$t") == 0);
  check_consistent(db, "t");
}

TEST_CASE("history: UPDATE archives the previous version", "[history]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE t USING zumero (id INTEGER PRIMARY KEY, name TEXT, qty INT)");
  db.exec("INSERT INTO t VALUES (1, 'a', 10), (2, 'b', 20), (3, 'c', 30)");
  db.exec("UPDATE t SET qty = 21 WHERE id = 2");
  long long tx = last_txid(db);
  CHECK(history(db, "t", "id, name, qty") == Rows{{"2", "0", "2", "b", "20"}});
  CHECK(db.integer("SELECT z_txid FROM \"z$old$t\"") == tx);
  CHECK(db.rows("SELECT * FROM t WHERE id = 2") == Rows{{"2", "b", "21"}});

  db.exec("UPDATE t SET qty = 22, name = 'B' WHERE id = 2");
  CHECK(history(db, "t", "id, name, qty") ==
        Rows{{"2", "0", "2", "b", "20"}, {"2", "0", "2", "b", "21"}});
  CHECK(db.integer("SELECT count(DISTINCT z_txid) FROM \"z$old$t\"") == 2);
  // The later version was superseded by the later transaction.
  CHECK(db.integer("SELECT z_txid FROM \"z$old$t\" WHERE qty = 21") == last_txid(db));
  CHECK(db.integer("SELECT z_txid FROM \"z$old$t\" WHERE qty = 21") > tx);

  // A multi-row update archives every row it touches.
  db.exec("UPDATE t SET qty = qty + 1");
  CHECK(db.count("z$old$t") == 5);
  CHECK(db.integer("SELECT count(*) FROM \"z$old$t\" WHERE z_txid = (SELECT max(txid) FROM t$tx)") == 3);
  check_consistent(db, "t");
}

TEST_CASE("history: DELETE moves the row to history", "[history]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE t USING zumero (id INTEGER PRIMARY KEY, name TEXT, qty INT)");
  db.exec("INSERT INTO t VALUES (1, 'a', 10), (2, 'b', 20), (3, 'c', 30)");
  db.exec("DELETE FROM t WHERE id = 3");
  CHECK(history(db, "t", "id, name, qty") == Rows{{"3", "1", "3", "c", "30"}});
  CHECK(db.integer("SELECT z_txid FROM \"z$old$t\"") == last_txid(db));
  CHECK(db.count("t") == 2);
  CHECK(db.count("z$t") == 2);
  db.exec("DELETE FROM t");
  CHECK(history(db, "t", "id, name, qty") ==
        Rows{{"1", "1", "1", "a", "10"}, {"2", "1", "2", "b", "20"}, {"3", "1", "3", "c", "30"}});
  CHECK(db.count("z$t") == 0);
}

TEST_CASE("history: z_recid is the rowid for tables without an INTEGER PRIMARY KEY", "[history]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE t USING zumero (k TEXT PRIMARY KEY, v INT)");
  db.exec("INSERT INTO t VALUES ('x', 1), ('y', 2), ('z', 3)");
  long long ry = db.integer("SELECT rowid FROM t WHERE k = 'y'");
  long long rz = db.integer("SELECT rowid FROM z$t WHERE k = 'z'");
  db.exec("UPDATE t SET v = 20 WHERE k = 'y'");
  db.exec("DELETE FROM t WHERE k = 'z'");
  CHECK(db.integer("SELECT z_recid FROM \"z$old$t\" WHERE k = 'y'") == ry);
  CHECK(db.integer("SELECT z_deleted FROM \"z$old$t\" WHERE k = 'y'") == 0);
  CHECK(db.integer("SELECT z_recid FROM \"z$old$t\" WHERE k = 'z'") == rz);
  CHECK(db.integer("SELECT z_deleted FROM \"z$old$t\" WHERE k = 'z'") == 1);
  check_consistent(db, "t");
}

TEST_CASE("history: rows removed by REPLACE are recorded as deleted", "[history][policies]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE t USING zumero (id INTEGER PRIMARY KEY, u TEXT UNIQUE, v INT)");
  db.exec("INSERT INTO t VALUES (1, 'a', 10), (2, 'b', 20), (3, 'c', 30), (4, 'd', 40)");
  // Conflict on the UNIQUE column: row 1 disappears.
  db.exec("INSERT OR REPLACE INTO t VALUES (5, 'a', 50)");
  CHECK(history(db, "t", "id, u, v") == Rows{{"1", "1", "1", "a", "10"}});
  // Conflict on the primary key: the old version of row 2 is archived.
  db.exec("INSERT OR REPLACE INTO t VALUES (2, 'bb', 22)");
  CHECK(db.integer("SELECT count(*) FROM \"z$old$t\" WHERE z_recid = 2 AND u = 'b' AND v = 20") == 1);
  // UPDATE OR REPLACE: row 4 is removed (deleted), row 3's old version superseded.
  db.exec("UPDATE OR REPLACE t SET u = 'd' WHERE id = 3");
  CHECK(db.rows("SELECT z_deleted FROM \"z$old$t\" WHERE z_recid = 4") == Rows{{"1"}});
  CHECK(db.rows("SELECT z_deleted, u FROM \"z$old$t\" WHERE z_recid = 3") == Rows{{"0", "c"}});
  CHECK(db.rows("SELECT id, u, v FROM t ORDER BY id") ==
        Rows{{"2", "bb", "22"}, {"3", "d", "30"}, {"5", "a", "50"}});
  check_consistent(db, "t");
}

TEST_CASE("history: t$tx gets one row per committed write transaction", "[history][tx]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE t USING zumero (id INTEGER PRIMARY KEY, v TEXT)");
  db.exec("CREATE TABLE plain (x)");
  long long before = db.count("t$tx");

  db.exec("INSERT INTO t (v) VALUES ('a'), ('b')");
  CHECK(db.count("t$tx") == before + 1);

  db.exec("BEGIN; INSERT INTO t (v) VALUES ('c'); UPDATE t SET v = 'bb' WHERE v = 'b'; "
          "DELETE FROM t WHERE v = 'a'; COMMIT");
  CHECK(db.count("t$tx") == before + 2);
  // Both history rows of that transaction carry its txid.
  CHECK(db.count("z$old$t") == 2);
  CHECK(db.integer("SELECT count(DISTINCT z_txid) FROM \"z$old$t\"") == 1);
  CHECK(db.integer("SELECT z_txid FROM \"z$old$t\" LIMIT 1") == last_txid(db));

  // Reads and writes to regular tables do not create rows.
  db.exec("SELECT * FROM t");
  db.exec("BEGIN; SELECT count(*) FROM t; COMMIT");
  db.exec("INSERT INTO plain VALUES (1)");
  CHECK(db.count("t$tx") == before + 2);

  // Rolled back transactions leave no trace.
  db.exec("BEGIN; INSERT INTO t (v) VALUES ('c'); ROLLBACK");
  CHECK(db.count("t$tx") == before + 2);

  // The time stamp is the current Unix time.
  CHECK(db.integer("SELECT abs(unix_time - CAST(strftime('%s', 'now') AS INTEGER)) < 600 "
                   "FROM t$tx WHERE txid = (SELECT max(txid) FROM t$tx)") == 1);
  // txids increase.
  CHECK(db.integer("SELECT count(*) FROM t$tx") == db.integer("SELECT count(DISTINCT txid) FROM t$tx"));
}

TEST_CASE("history: zumero_purge_history deletes old versions and nothing else", "[history][purge]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE t USING zumero (id INTEGER PRIMARY KEY, v TEXT)");
  db.exec("CREATE VIRTUAL TABLE u USING zumero (k TEXT PRIMARY KEY, n INT)");
  db.exec("CREATE TABLE plain (x)");
  db.exec("INSERT INTO plain VALUES (1), (2)");
  db.exec("INSERT INTO t (v) VALUES ('a'), ('b'), ('c'); UPDATE t SET v = v || '!'; DELETE FROM t WHERE id = 2");
  db.exec("INSERT INTO u VALUES ('x', 1), ('y', 2); UPDATE u SET n = n * 10; DELETE FROM u WHERE k = 'x'");
  db.exec("SELECT zumero_add_row_rule('main', NULL, zumero_named_constant('situation_mod_after_mod'), "
          "zumero_named_constant('action_column_merge'), NULL)");
  REQUIRE(db.count("z$old$t") == 4);
  REQUIRE(db.count("z$old$u") == 3);

  // Snapshot every other table.
  std::map<std::string, Rows> before;
  std::vector<std::string> tables = db.column(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'z$old$%' "
      "AND name NOT LIKE 'sqlite_%' AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name");
  for (const auto &name : tables) {
    before[name] = sorted_rows(db, name);
  }

  CHECK(db.is_null("SELECT zumero_purge_history('main')"));
  CHECK(db.count("z$old$t") == 0);
  CHECK(db.count("z$old$u") == 0);
  for (const auto &name : tables) {
    INFO("table " << name);
    CHECK(sorted_rows(db, name) == before[name]);
  }
  CHECK(db.rows("SELECT id, v FROM t ORDER BY id") == Rows{{"1", "a!"}, {"3", "c!"}});
  CHECK(db.rows("SELECT k, n FROM u") == Rows{{"y", "20"}});

  // History starts again afterwards.
  db.exec("UPDATE t SET v = 'again' WHERE id = 1");
  CHECK(db.count("z$old$t") == 1);
  check_consistent(db, "t");
  check_consistent(db, "u");
}

TEST_CASE("history: purge with an unknown attached name fails", "[history][purge][errors]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE t USING zumero (v TEXT)");
  db.expect_failure("SELECT zumero_purge_history('no_such_db')");
}
