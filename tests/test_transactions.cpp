// Transactions, savepoints and rollbacks keep a zumero table, its storage table
// and its history table consistent with each other.
#include "support.h"

using namespace zt;

namespace {

struct Snapshot {
  Rows live, storage, old;
  long long tx;
};

Snapshot snapshot(Db &db, const std::string &table) {
  Snapshot s;
  s.live = db.dump(table);
  s.storage = db.dump("z$" + table);
  s.old = db.typed_rows("SELECT * FROM " + ident("z$old$" + table) + " ORDER BY z_recid, z_txid, z_deleted");
  s.tx = db.count("t$tx");
  return s;
}

void check_same(const Snapshot &a, const Snapshot &b) {
  CHECK(a.live == b.live);
  CHECK(a.storage == b.storage);
  CHECK(a.old == b.old);
  CHECK(a.tx == b.tx);
}

void setup(Db &db) {
  db.exec("CREATE VIRTUAL TABLE t USING zumero (id INTEGER PRIMARY KEY, name TEXT UNIQUE, qty INT)");
  db.exec("INSERT INTO t VALUES (1, 'a', 10), (2, 'b', 20), (3, 'c', 30)");
  db.exec("UPDATE t SET qty = 11 WHERE id = 1");
}

}  // namespace

TEST_CASE("transactions: ROLLBACK undoes rows and history", "[tx]") {
  Db db;
  setup(db);
  Snapshot before = snapshot(db, "t");
  db.exec("BEGIN");
  db.exec("INSERT INTO t VALUES (4, 'd', 40)");
  db.exec("UPDATE t SET qty = qty * 2");
  db.exec("DELETE FROM t WHERE id = 2");
  CHECK(db.count("t") == 3);
  CHECK(db.count("z$t") == 3);
  CHECK(db.count("z$old$t") > 1);
  db.exec("ROLLBACK");
  check_same(snapshot(db, "t"), before);
  check_consistent(db, "t");
  // The table is fully usable afterwards.
  db.exec("INSERT INTO t VALUES (4, 'd', 40)");
  CHECK(db.count("t") == 4);
  check_consistent(db, "t");
}

TEST_CASE("transactions: COMMIT keeps everything", "[tx]") {
  Db db;
  setup(db);
  long long tx = db.count("t$tx");
  db.exec("BEGIN; INSERT INTO t VALUES (4, 'd', 40); UPDATE t SET qty = 0 WHERE id = 3; "
          "DELETE FROM t WHERE id = 2; COMMIT");
  CHECK(db.rows("SELECT id, name, qty FROM t ORDER BY id") ==
        Rows{{"1", "a", "11"}, {"3", "c", "0"}, {"4", "d", "40"}});
  CHECK(db.count("t$tx") == tx + 1);
  CHECK(db.count("z$old$t") == 3);
  db.reopen();
  CHECK(db.rows("SELECT id, name, qty FROM t ORDER BY id") ==
        Rows{{"1", "a", "11"}, {"3", "c", "0"}, {"4", "d", "40"}});
  CHECK(db.count("z$old$t") == 3);
  check_consistent(db, "t");
}

TEST_CASE("transactions: ROLLBACK TO a savepoint", "[tx][savepoint]") {
  Db db;
  setup(db);
  db.exec("BEGIN");
  db.exec("INSERT INTO t VALUES (4, 'd', 40)");
  Snapshot at_savepoint = snapshot(db, "t");
  db.exec("SAVEPOINT s1");
  db.exec("UPDATE t SET qty = -1");
  db.exec("DELETE FROM t WHERE id IN (1, 4)");
  db.exec("INSERT INTO t VALUES (5, 'e', 50)");
  CHECK(db.count("t") == 3);
  db.exec("ROLLBACK TO s1");
  check_same(snapshot(db, "t"), at_savepoint);
  check_consistent(db, "t");
  db.exec("UPDATE t SET qty = 99 WHERE id = 3");
  db.exec("RELEASE s1");
  db.exec("COMMIT");
  CHECK(db.rows("SELECT id, name, qty FROM t ORDER BY id") ==
        Rows{{"1", "a", "11"}, {"2", "b", "20"}, {"3", "c", "99"}, {"4", "d", "40"}});
  // Only the surviving update of row 3 and the setup update of row 1 are history.
  CHECK(db.rows("SELECT z_recid, qty, z_deleted FROM \"z$old$t\" ORDER BY z_recid") ==
        Rows{{"1", "10", "0"}, {"3", "30", "0"}});
  check_consistent(db, "t");
}

TEST_CASE("transactions: nested savepoints", "[tx][savepoint]") {
  Db db;
  setup(db);
  Snapshot start = snapshot(db, "t");
  db.exec("SAVEPOINT outer_sp");  // starts a transaction
  db.exec("INSERT INTO t VALUES (10, 'x', 1)");
  db.exec("SAVEPOINT inner_sp");
  db.exec("UPDATE t SET qty = 2 WHERE id = 10");
  Snapshot inner = snapshot(db, "t");
  db.exec("SAVEPOINT innermost");
  db.exec("DELETE FROM t");
  CHECK(db.count("t") == 0);
  CHECK(db.count("z$t") == 0);
  db.exec("ROLLBACK TO innermost");
  check_same(snapshot(db, "t"), inner);
  db.exec("ROLLBACK TO inner_sp");
  CHECK(db.rows("SELECT qty FROM t WHERE id = 10") == Rows{{"1"}});
  db.exec("ROLLBACK TO outer_sp");
  check_same(snapshot(db, "t"), start);
  db.exec("RELEASE outer_sp");
  Snapshot end = snapshot(db, "t");
  CHECK(end.live == start.live);
  CHECK(end.storage == start.storage);
  CHECK(end.old == start.old);
  // Whether a transaction whose writes were all rolled back leaves a t$tx row is
  // not specified; it must not leave more than one.
  CHECK(end.tx <= start.tx + 1);
  check_consistent(db, "t");
}

TEST_CASE("transactions: a failed statement inside a transaction", "[tx]") {
  Db db;
  setup(db);
  db.exec("BEGIN");
  db.exec("UPDATE t SET qty = 12 WHERE id = 1");
  Snapshot mid = snapshot(db, "t");
  // The second row conflicts on name; the whole statement is undone.
  Outcome o = db.attempt("INSERT INTO t VALUES (7, 'g', 70), (8, 'a', 80)");
  CHECK(o.rc == SQLITE_CONSTRAINT);
  CHECK_FALSE(o.autocommit);
  // A multi-row update that fails part way leaves nothing behind either.
  o = db.attempt("UPDATE t SET name = 'same'");
  CHECK(o.rc == SQLITE_CONSTRAINT);
  check_same(snapshot(db, "t"), mid);
  db.exec("COMMIT");
  CHECK(db.rows("SELECT id, name, qty FROM t ORDER BY id") ==
        Rows{{"1", "a", "12"}, {"2", "b", "20"}, {"3", "c", "30"}});
  check_consistent(db, "t");
}

TEST_CASE("transactions: two zumero tables in one transaction", "[tx]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE a USING zumero (k TEXT PRIMARY KEY, v INT)");
  db.exec("CREATE VIRTUAL TABLE b USING zumero (k TEXT PRIMARY KEY, v INT)");
  long long tx = db.count("t$tx");
  db.exec("BEGIN; INSERT INTO a VALUES ('x', 1); INSERT INTO b VALUES ('y', 2); COMMIT");
  CHECK(db.count("t$tx") == tx + 1);
  db.exec("BEGIN; UPDATE a SET v = 10; DELETE FROM b; COMMIT");
  CHECK(db.count("t$tx") == tx + 2);
  CHECK(db.integer("SELECT z_txid FROM \"z$old$a\"") == db.integer("SELECT z_txid FROM \"z$old$b\""));
  db.exec("BEGIN; INSERT INTO a VALUES ('z', 3); INSERT INTO b VALUES ('w', 4); ROLLBACK");
  CHECK(db.count("t$tx") == tx + 2);
  CHECK(db.count("a") == 1);
  CHECK(db.count("b") == 0);
  check_consistent(db, "a");
  check_consistent(db, "b");
}

TEST_CASE("transactions: many small transactions", "[tx]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE t USING zumero (id INTEGER PRIMARY KEY, n INT)");
  long long tx = db.count("t$tx");
  for (int i = 1; i <= 60; ++i) {
    db.exec("INSERT INTO t (id, n) VALUES (" + std::to_string(i) + ", " + std::to_string(i) + ")");
    if (i % 3 == 0) db.exec("UPDATE t SET n = n + 1 WHERE id = " + std::to_string(i - 1));
    if (i % 5 == 0) db.exec("DELETE FROM t WHERE id = " + std::to_string(i - 2));
  }
  CHECK(db.count("t$tx") == tx + 60 + 20 + 12);
  CHECK(db.count("t") == 48);
  CHECK(db.count("z$old$t") == 32);
  CHECK(db.integer("SELECT count(*) FROM \"z$old$t\" WHERE z_deleted = 1") == 12);
  check_consistent(db, "t");
}

TEST_CASE("transactions: creating a table inside a rolled back transaction", "[tx][create]") {
  Db db;
  db.exec("BEGIN");
  db.exec("CREATE VIRTUAL TABLE t USING zumero (a TEXT, b INT)");
  db.exec("INSERT INTO t VALUES ('x', 1)");
  db.exec("ROLLBACK");
  CHECK_FALSE(db.object_exists("t"));
  CHECK_FALSE(db.object_exists("z$t"));
  CHECK_FALSE(db.object_exists("z$old$t"));
  // The name is free again.
  db.exec("CREATE VIRTUAL TABLE t USING zumero (c TEXT)");
  db.exec("INSERT INTO t VALUES ('y')");
  CHECK(db.column_names("z$t") == std::vector<std::string>{"c"});
  CHECK(db.rows("SELECT c FROM t") == Rows{{"y"}});
  check_consistent(db, "t");
}

TEST_CASE("transactions: creating a table inside a committed transaction", "[tx][create]") {
  Db db;
  db.exec("BEGIN; CREATE VIRTUAL TABLE t USING zumero (a TEXT, b INT); INSERT INTO t VALUES ('x', 1); "
          "UPDATE t SET b = 2; COMMIT");
  CHECK(db.rows("SELECT a, b FROM t") == Rows{{"x", "2"}});
  CHECK(db.count("z$old$t") == 1);
  db.reopen();
  CHECK(db.rows("SELECT a, b FROM t") == Rows{{"x", "2"}});
  check_consistent(db, "t");
}

TEST_CASE("transactions: two connections to the same file", "[tx][connections]") {
  Db a;
  a.exec("CREATE VIRTUAL TABLE t USING zumero (id INTEGER PRIMARY KEY, v TEXT)");
  a.exec("INSERT INTO t VALUES (1, 'from a')");
  Db b(a.path(), true, false);
  CHECK(b.rows("SELECT id, v FROM t") == Rows{{"1", "from a"}});
  b.exec("INSERT INTO t VALUES (2, 'from b'); UPDATE t SET v = 'changed by b' WHERE id = 1");
  CHECK(a.rows("SELECT id, v FROM t ORDER BY id") == Rows{{"1", "changed by b"}, {"2", "from b"}});
  CHECK(a.count("z$old$t") == 1);
  long long tx = a.count("t$tx");
  // A writer holds the lock; the other connection cannot write meanwhile.
  a.exec("BEGIN; INSERT INTO t VALUES (3, 'pending')");
  Outcome o = b.attempt("INSERT INTO t VALUES (4, 'blocked')");
  CHECK(o.rc == SQLITE_BUSY);
  a.exec("COMMIT");
  b.exec("INSERT INTO t VALUES (4, 'after')");
  CHECK(a.count("t") == 4);
  CHECK(b.count("t$tx") == tx + 2);
  check_consistent(a, "t");
  check_consistent(b, "t");
}
