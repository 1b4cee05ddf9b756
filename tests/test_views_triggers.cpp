// Views on zumero tables and INSTEAD OF triggers on those views (guide 3.7.4), plus
// triggers on regular tables that write to zumero tables.
#include "support.h"

using namespace zt;

TEST_CASE("views: a view over a zumero table", "[views]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE items USING zumero (id INTEGER PRIMARY KEY, name TEXT, qty INT)");
  db.exec("INSERT INTO items VALUES (1, 'bolt', 10), (2, 'nut', 0), (3, 'gear', 5)");
  db.exec("CREATE VIEW in_stock AS SELECT id, name, qty FROM items WHERE qty > 0");
  CHECK(db.rows("SELECT name FROM in_stock ORDER BY id") == Rows{{"bolt"}, {"gear"}});
  db.exec("UPDATE items SET qty = 3 WHERE id = 2");
  CHECK(db.integer("SELECT count(*) FROM in_stock") == 3);
  // Views can join a zumero table with its history.
  db.exec("CREATE VIEW changes_seen AS SELECT i.id, i.qty AS now, o.qty AS before "
          "FROM items i JOIN \"z$old$items\" o ON o.z_recid = i.rowid");
  CHECK(db.rows("SELECT id, now, before FROM changes_seen") == Rows{{"2", "3", "0"}});
}

TEST_CASE("views: INSTEAD OF triggers write through to the zumero table", "[views][triggers]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE items USING zumero (id INTEGER PRIMARY KEY, name TEXT, qty INT)");
  db.exec("CREATE VIEW v AS SELECT id, name, qty FROM items");
  db.exec("CREATE TRIGGER v_insert INSTEAD OF INSERT ON v BEGIN "
          "  INSERT INTO items (id, name, qty) VALUES (NEW.id, upper(NEW.name), coalesce(NEW.qty, 0)); "
          "END");
  db.exec("CREATE TRIGGER v_update INSTEAD OF UPDATE ON v BEGIN "
          "  UPDATE items SET name = NEW.name, qty = NEW.qty WHERE id = OLD.id; "
          "END");
  db.exec("CREATE TRIGGER v_delete INSTEAD OF DELETE ON v BEGIN "
          "  DELETE FROM items WHERE id = OLD.id; "
          "END");
  db.exec("INSERT INTO v (id, name) VALUES (1, 'bolt'), (2, 'nut'), (3, 'gear')");
  CHECK(db.rows("SELECT id, name, qty FROM items ORDER BY id") ==
        Rows{{"1", "BOLT", "0"}, {"2", "NUT", "0"}, {"3", "GEAR", "0"}});
  db.exec("UPDATE v SET qty = id * 10 WHERE id >= 2");
  db.exec("DELETE FROM v WHERE id = 1");
  CHECK(db.rows("SELECT id, name, qty FROM items ORDER BY id") ==
        Rows{{"2", "NUT", "20"}, {"3", "GEAR", "30"}});
  CHECK(db.rows("SELECT z_recid, z_deleted FROM \"z$old$items\" ORDER BY z_recid") ==
        Rows{{"1", "1"}, {"2", "0"}, {"3", "0"}});
  check_consistent(db, "items");

  // Inside a transaction that is rolled back, trigger effects disappear too.
  db.exec("BEGIN; INSERT INTO v (id, name) VALUES (9, 'temp'); DELETE FROM v; ROLLBACK");
  CHECK(db.count("items") == 2);
  check_consistent(db, "items");
}

TEST_CASE("views: triggers on regular tables can write zumero tables", "[triggers]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE log USING zumero (id INTEGER PRIMARY KEY, what TEXT, n INT)");
  db.exec("CREATE TABLE plain (n INT)");
  db.exec("CREATE TRIGGER plain_ins AFTER INSERT ON plain BEGIN "
          "  INSERT INTO log (what, n) VALUES ('insert', NEW.n); END");
  db.exec("CREATE TRIGGER plain_del AFTER DELETE ON plain BEGIN "
          "  UPDATE log SET what = 'gone' WHERE n = OLD.n; END");
  db.exec("INSERT INTO plain VALUES (1), (2), (3)");
  db.exec("DELETE FROM plain WHERE n = 2");
  CHECK(db.rows("SELECT what, n FROM log ORDER BY id") ==
        Rows{{"insert", "1"}, {"gone", "2"}, {"insert", "3"}});
  CHECK(db.count("z$old$log") == 1);
  check_consistent(db, "log");
}

TEST_CASE("views: triggers cannot be created on a zumero table itself", "[triggers]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE items USING zumero (id INTEGER PRIMARY KEY, name TEXT)");
  db.expect_failure("CREATE TRIGGER tr AFTER INSERT ON items BEGIN SELECT 1; END");
}
