// INSERT and UPDATE with OR ABORT / FAIL / ROLLBACK / IGNORE / REPLACE: every
// statement is run against a regular table and a zumero table with the same
// definition; result codes, transaction state and resulting rows must agree.
#include "support.h"

using namespace zt;

namespace {

const char *kDefinition =
    "id INTEGER PRIMARY KEY, u TEXT UNIQUE, n INT NOT NULL DEFAULT 0, c INT CHECK (c >= 0), m INT NOT NULL";

void seed(Mirror &m) {
  m.exec("INSERT INTO %T VALUES (1, 'a', 1, 1, 1), (2, 'b', 2, 2, 2), (3, 'c', 3, 3, 3), "
         "(4, 'd', 4, 4, 4)");
}

}  // namespace

TEST_CASE("policies: INSERT OR ABORT undoes the whole statement", "[policies]") {
  Db db;
  Mirror m(db, kDefinition);
  seed(m);
  Outcome o = m.run("INSERT OR ABORT INTO %T VALUES (10, 'p', 1, 1, 1), (11, 'q', 1, 1, 1), "
                    "(12, 'a', 1, 1, 1)");
  CHECK(o.rc == SQLITE_CONSTRAINT);
  m.check_same_rows();
  CHECK(db.count("zt") == 4);
  o = m.run("INSERT INTO %T VALUES (13, 'r', 1, 1, 1), (2, 's', 1, 1, 1)");
  CHECK(o.rc == SQLITE_CONSTRAINT);
  m.check_same_rows();
  // Inside a transaction, only the failing statement is undone.
  std::vector<Outcome> out = m.script({"BEGIN", "INSERT INTO %T VALUES (20, 'x', 1, 1, 1)",
                                       "INSERT OR ABORT INTO %T VALUES (21, 'y', 1, 1, 1), (22, 'x', 1, 1, 1)",
                                       "COMMIT"});
  CHECK(out[2].rc == SQLITE_CONSTRAINT);
  CHECK(out[3].ok());
  m.check_same_rows();
  CHECK(db.column("SELECT id FROM zt ORDER BY id") ==
        std::vector<std::string>{"1", "2", "3", "4", "20"});
}

TEST_CASE("policies: INSERT OR FAIL keeps earlier rows of the statement", "[policies]") {
  Db db;
  Mirror m(db, kDefinition);
  seed(m);
  Outcome o = m.run("INSERT OR FAIL INTO %T VALUES (10, 'p', 1, 1, 1), (11, 'a', 1, 1, 1), "
                    "(12, 'q', 1, 1, 1)");
  CHECK(o.rc == SQLITE_CONSTRAINT);
  m.check_same_rows();
  CHECK(db.column("SELECT id FROM zt ORDER BY id") ==
        std::vector<std::string>{"1", "2", "3", "4", "10"});
  o = m.run("INSERT OR FAIL INTO %T VALUES (30, 'r', 1, 1, 1), (31, 's', 1, -1, 1)");
  CHECK(o.rc == SQLITE_CONSTRAINT);
  o = m.run("INSERT OR FAIL INTO %T VALUES (40, 't', 1, 1, 1), (41, 'v', 1, 1, NULL)");
  CHECK(o.rc == SQLITE_CONSTRAINT);
  m.check_same_rows();
}

TEST_CASE("policies: INSERT OR ROLLBACK ends the transaction", "[policies]") {
  Db db;
  Mirror m(db, kDefinition);
  seed(m);
  std::vector<Outcome> out = m.script({"BEGIN", "INSERT INTO %T VALUES (20, 'x', 1, 1, 1)",
                                       "INSERT OR ROLLBACK INTO %T VALUES (21, 'a', 1, 1, 1)",
                                       "INSERT INTO %T VALUES (22, 'z', 1, 1, 1)"});
  CHECK(out[2].rc == SQLITE_CONSTRAINT);
  CHECK(out[2].autocommit);
  // The statement after the rollback ran in autocommit mode and stays.
  CHECK(out[3].ok());
  m.check_same_rows();
  CHECK(db.count("zt") == 5);
  m.exec("DELETE FROM %T WHERE id = 22");
  m.check_same_rows();
  CHECK(db.count("zt") == 4);
  // Outside an explicit transaction it behaves like ABORT.
  Outcome o = m.run("INSERT OR ROLLBACK INTO %T VALUES (30, 'y', 1, 1, 1), (31, 'b', 1, 1, 1)");
  CHECK(o.rc == SQLITE_CONSTRAINT);
  m.check_same_rows();
  CHECK(db.count("zt") == 4);
}

TEST_CASE("policies: INSERT OR IGNORE skips offending rows", "[policies]") {
  Db db;
  Mirror m(db, kDefinition);
  seed(m);
  // changes() after OR IGNORE is compared in its own test case.
  Outcome o = m.run("INSERT OR IGNORE INTO %T VALUES (10, 'p', 1, 1, 1), (11, 'a', 1, 1, 1), "
                    "(2, 'q', 1, 1, 1), (12, 'r', 1, -5, 1), (13, 's', 1, 1, NULL), (14, 't', 1, 1, 1)",
                    false);
  REQUIRE(o.ok());
  m.check_same_rows();
  CHECK(db.column("SELECT id FROM zt ORDER BY id") ==
        std::vector<std::string>{"1", "2", "3", "4", "10", "14"});
  CHECK(db.text("SELECT u FROM zt WHERE id = 2") == "b");
}

TEST_CASE("policies: INSERT OR REPLACE removes conflicting rows", "[policies]") {
  Db db;
  Mirror m(db, kDefinition);
  seed(m);
  m.exec("INSERT OR REPLACE INTO %T VALUES (10, 'a', 10, 10, 10)");  // unique conflict with 1
  m.exec("INSERT OR REPLACE INTO %T VALUES (2, 'bb', 20, 20, 20)");  // primary key conflict
  m.exec("REPLACE INTO %T VALUES (11, 'c', 11, 11, 11)");            // REPLACE is OR REPLACE
  m.exec("INSERT OR REPLACE INTO %T VALUES (4, 'bb', 40, 40, 40)");  // conflicts with 4 and 2
  m.check_same_rows();
  CHECK(db.rows("SELECT id, u, n FROM zt ORDER BY id") ==
        Rows{{"4", "bb", "40"}, {"10", "a", "10"}, {"11", "c", "11"}});
  // NOT NULL with a default: REPLACE substitutes the default.
  m.exec("INSERT OR REPLACE INTO %T VALUES (12, 'e', NULL, 1, 1)");
  CHECK(db.text("SELECT n FROM zt WHERE id = 12") == "0");
  // NOT NULL without a default and CHECK failures are not replaceable.
  Outcome o = m.run("INSERT OR REPLACE INTO %T VALUES (13, 'f', 1, 1, NULL)");
  CHECK(o.rc == SQLITE_CONSTRAINT);
  o = m.run("INSERT OR REPLACE INTO %T VALUES (14, 'g', 1, -1, 1)");
  CHECK(o.rc == SQLITE_CONSTRAINT);
  m.check_same_rows();
}

TEST_CASE("policies: UPDATE with conflict policies", "[policies]") {
  Db db;
  Mirror m(db, kDefinition);
  seed(m);
  SECTION("OR ABORT") {
    Outcome o = m.run("UPDATE OR ABORT %T SET u = 'same' WHERE id >= 2");
    CHECK(o.rc == SQLITE_CONSTRAINT);
    m.check_same_rows();
    CHECK(db.integer("SELECT count(*) FROM zt WHERE u = 'same'") == 0);
  }
  SECTION("OR FAIL") {
    Outcome o = m.run("UPDATE OR FAIL %T SET u = 'same' WHERE id >= 2");
    CHECK(o.rc == SQLITE_CONSTRAINT);
    m.check_same_rows();
    CHECK(db.rows("SELECT id, u FROM zt ORDER BY id") ==
          Rows{{"1", "a"}, {"2", "same"}, {"3", "c"}, {"4", "d"}});
  }
  SECTION("OR ROLLBACK") {
    std::vector<Outcome> out = m.script({"BEGIN", "UPDATE %T SET n = 100 WHERE id = 1",
                                         "UPDATE OR ROLLBACK %T SET u = 'same' WHERE id >= 2"});
    CHECK(out[2].rc == SQLITE_CONSTRAINT);
    CHECK(out[2].autocommit);
    m.check_same_rows();
    CHECK(db.integer("SELECT n FROM zt WHERE id = 1") == 1);
  }
  SECTION("OR IGNORE") {
    m.run("UPDATE OR IGNORE %T SET u = 'same' WHERE id >= 2", false);
    m.run("UPDATE OR IGNORE %T SET c = c - 2", false);
    m.run("UPDATE OR IGNORE %T SET id = id + 1", false);
    m.check_same_rows();
  }
  SECTION("OR REPLACE") {
    m.exec("UPDATE OR REPLACE %T SET u = 'a' WHERE id = 3");
    m.check_same_rows();
    CHECK(db.rows("SELECT id, u FROM zt ORDER BY id") == Rows{{"2", "b"}, {"3", "a"}, {"4", "d"}});
    m.exec("UPDATE OR REPLACE %T SET id = 2 WHERE id = 4");
    m.check_same_rows();
    CHECK(db.rows("SELECT id, u FROM zt ORDER BY id") == Rows{{"2", "d"}, {"3", "a"}});
    m.exec("UPDATE OR REPLACE %T SET n = NULL WHERE id = 2");
    CHECK(db.integer("SELECT n FROM zt WHERE id = 2") == 0);
    Outcome o = m.run("UPDATE OR REPLACE %T SET m = NULL");
    CHECK(o.rc == SQLITE_CONSTRAINT);
    m.check_same_rows();
  }
}

TEST_CASE("policies: changes() agrees with a regular table", "[policies][changes]") {
  Db db;
  Mirror m(db, kDefinition);
  seed(m);
  m.exec("INSERT OR IGNORE INTO %T VALUES (10, 'p', 1, 1, 1), (11, 'a', 1, 1, 1), (12, 'q', 1, 1, 1)");
  m.exec("INSERT OR IGNORE INTO %T VALUES (1, 'zz', 1, 1, 1)");
  m.exec("INSERT OR REPLACE INTO %T VALUES (20, 'a', 1, 1, 1)");
  m.exec("UPDATE OR IGNORE %T SET u = 'b' WHERE id > 2");
  m.exec("UPDATE OR REPLACE %T SET u = 'b' WHERE id = 3");
  m.exec("INSERT OR FAIL INTO %T VALUES (30, 'w', 1, 1, 1)");
  m.check_same_rows();
}

TEST_CASE("policies: extended result codes agree with a regular table", "[policies][codes]") {
  Db db;
  Mirror m(db, kDefinition);
  seed(m);
  auto both = [&](const std::string &tmpl) {
    Outcome r = db.attempt(replace_all(tmpl, "%T", "reg"));
    Outcome z = db.attempt(replace_all(tmpl, "%T", "zt"));
    INFO(tmpl << ": regular " << r.message << " / zumero " << z.message);
    CHECK(z.extended == r.extended);
  };
  both("INSERT INTO %T VALUES (10, 'a', 1, 1, 1)");          // UNIQUE
  both("INSERT INTO %T VALUES (1, 'zz', 1, 1, 1)");          // PRIMARY KEY
  both("INSERT INTO %T VALUES (10, 'zz', 1, 1, NULL)");      // NOT NULL
  both("INSERT INTO %T VALUES (10, 'zz', 1, -1, 1)");        // CHECK
  both("INSERT OR FAIL INTO %T VALUES (10, 'a', 1, 1, 1)");
  both("UPDATE OR ROLLBACK %T SET u = 'a' WHERE id = 2");
  m.check_same_rows();
}
