// Foreign keys between zumero tables (guide 3.4 and 5.2.2): REFERENCES as a column
// constraint, always deferred, checked at COMMIT.
#include "support.h"

using namespace zt;

namespace {

void setup(Db &db) {
  db.exec("CREATE VIRTUAL TABLE foo USING zumero (a text PRIMARY KEY)");
  db.exec("CREATE VIRTUAL TABLE bar USING zumero (b text REFERENCES foo (a))");
  db.exec("INSERT INTO foo (a) VALUES ('hello')");
  db.exec("INSERT INTO bar (b) VALUES ('hello')");
}

// COMMIT must fail; whatever state the failure leaves, end the transaction.
void expect_commit_refused(Db &db) {
  Outcome o = db.attempt("COMMIT");
  INFO("COMMIT result: " << o.message);
  CHECK(o.rc != SQLITE_OK);
  if (!sqlite3_get_autocommit(db.handle())) db.exec("ROLLBACK");
}

void run_common_checks(Db &db) {
  SECTION("a dangling reference in an autocommit statement is refused") {
    db.expect_failure("INSERT INTO bar (b) VALUES ('nope')");
    CHECK(db.count("bar") == 1);
    CHECK(db.count("z$bar") == 1);
  }
  SECTION("a violation is refused at COMMIT") {
    db.exec("BEGIN");
    // Deferred: the statement itself succeeds.
    db.exec("INSERT INTO bar (b) VALUES ('nope')");
    expect_commit_refused(db);
    CHECK(db.column("SELECT b FROM bar") == std::vector<std::string>{"hello"});
    check_consistent(db, "bar");
  }
  SECTION("a violation fixed before COMMIT is accepted") {
    db.exec("BEGIN");
    db.exec("INSERT INTO bar (b) VALUES ('later')");
    db.exec("INSERT INTO foo (a) VALUES ('later')");
    db.exec("COMMIT");
    CHECK(db.column("SELECT b FROM bar ORDER BY b") == std::vector<std::string>{"hello", "later"});
  }
  SECTION("deleting a referenced parent row is refused at COMMIT") {
    db.exec("BEGIN");
    db.exec("DELETE FROM foo");
    expect_commit_refused(db);
    CHECK(db.column("SELECT a FROM foo") == std::vector<std::string>{"hello"});
    db.expect_failure("DELETE FROM foo WHERE a = 'hello'");
    CHECK(db.count("foo") == 1);
  }
  SECTION("changing a referenced key is refused at COMMIT") {
    db.exec("BEGIN");
    db.exec("UPDATE foo SET a = 'bye'");
    expect_commit_refused(db);
    CHECK(db.column("SELECT a FROM foo") == std::vector<std::string>{"hello"});
  }
  SECTION("pointing a child row at a missing parent is refused") {
    db.expect_failure("UPDATE bar SET b = 'missing'");
    CHECK(db.column("SELECT b FROM bar") == std::vector<std::string>{"hello"});
  }
  SECTION("NULL references and unreferenced parents are fine") {
    db.exec("INSERT INTO bar (b) VALUES (NULL)");
    db.exec("INSERT INTO foo (a) VALUES ('free')");
    db.exec("DELETE FROM foo WHERE a = 'free'");
    db.exec("DELETE FROM bar; DELETE FROM foo");
    CHECK(db.count("foo") == 0);
    CHECK(db.count("bar") == 0);
  }
  SECTION("a key given up and taken again in the same transaction is fine") {
    db.exec("BEGIN");
    db.exec("DELETE FROM foo WHERE a = 'hello'");
    db.exec("INSERT INTO foo (a) VALUES ('hello')");
    db.exec("COMMIT");
    CHECK(db.column("SELECT a FROM foo") == std::vector<std::string>{"hello"});
  }
  SECTION("a violation made in a transaction that also writes other tables is refused") {
    db.exec("CREATE VIRTUAL TABLE other USING zumero (x TEXT)");
    db.exec("BEGIN");
    db.exec("INSERT INTO other VALUES ('first')");
    db.exec("UPDATE foo SET a = 'renamed'");
    db.exec("INSERT INTO other VALUES ('last')");
    expect_commit_refused(db);
    CHECK(db.column("SELECT a FROM foo") == std::vector<std::string>{"hello"});
    CHECK(db.count("other") == 0);
  }
  SECTION("a failed COMMIT leaves history and the transaction log untouched") {
    long long tx = db.count("t$tx");
    long long old_foo = db.count("z$old$foo");
    db.exec("BEGIN");
    db.exec("DELETE FROM foo");
    expect_commit_refused(db);
    CHECK(db.count("t$tx") == tx);
    CHECK(db.count("z$old$foo") == old_foo);
    check_consistent(db, "foo");
  }
}

}  // namespace

TEST_CASE("foreign keys: deferred checks with foreign_keys=ON", "[fk]") {
  Db db;
  db.exec("PRAGMA foreign_keys = ON");
  setup(db);
  run_common_checks(db);
}

TEST_CASE("foreign keys: still enforced with foreign_keys=OFF", "[fk]") {
  Db db;
  db.exec("PRAGMA foreign_keys = OFF");
  setup(db);
  run_common_checks(db);
}

TEST_CASE("foreign keys: reference to an INTEGER PRIMARY KEY parent", "[fk]") {
  Db db;
  db.exec("PRAGMA foreign_keys = ON");
  db.exec("CREATE VIRTUAL TABLE authors USING zumero (id INTEGER PRIMARY KEY, name TEXT)");
  db.exec("CREATE VIRTUAL TABLE books USING zumero (id INTEGER PRIMARY KEY, "
          "author INTEGER REFERENCES authors (id), title TEXT)");
  db.exec("INSERT INTO authors VALUES (1, 'Ann'), (2, 'Bob')");
  db.exec("INSERT INTO books (author, title) VALUES (1, 'One'), (2, 'Two'), (2, 'Three')");
  db.expect_failure("INSERT INTO books (author, title) VALUES (3, 'Orphan')");
  db.exec("BEGIN; DELETE FROM books WHERE author = 2; DELETE FROM authors WHERE id = 2; COMMIT");
  CHECK(db.column("SELECT title FROM books") == std::vector<std::string>{"One"});
  CHECK(db.column("SELECT name FROM authors") == std::vector<std::string>{"Ann"});
  check_consistent(db, "books");
  check_consistent(db, "authors");
}
