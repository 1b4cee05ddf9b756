// The module under hostile use from the application side, on a raw sqlite3*
// connection with the loadable extension: modules dropped while the functions stay,
// application tables that take the drop guard's name, DROP TABLE inside a
// transaction, and the extension loaded twice. The sanitizer build runs these too, so
// a use after free ends the run.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <string>
#include <vector>

#include "support.h"

namespace {

struct Result {
  int rc = SQLITE_OK;
  std::string message;
};

// A raw connection on a fresh file, the extension loaded; closed on destruction.
class RawConnection {
public:
  explicit RawConnection(std::string path = zt::fresh_db_path()) : path_(std::move(path)) {
    REQUIRE(sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) == SQLITE_OK);
    REQUIRE(load() == SQLITE_OK);
  }
  ~RawConnection() {
    if (db_) sqlite3_close_v2(db_);
  }
  RawConnection(const RawConnection &) = delete;
  RawConnection &operator=(const RawConnection &) = delete;

  sqlite3 *db() const { return db_; }
  const std::string &path() const { return path_; }

  int load() {
    sqlite3_enable_load_extension(db_, 1);
    char *error = nullptr;
    int rc = sqlite3_load_extension(db_, zt::extension_path().c_str(), nullptr, &error);
    sqlite3_free(error);
    return rc;
  }

  Result run(const std::string &sql) {
    char *error = nullptr;
    Result result;
    result.rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
    if (result.rc != SQLITE_OK) result.message = error ? error : sqlite3_errmsg(db_);
    sqlite3_free(error);
    return result;
  }

  void exec(const std::string &sql) {
    Result result = run(sql);
    INFO(sql << ": " << result.message);
    REQUIRE(result.rc == SQLITE_OK);
  }

  long long integer(const std::string &sql) {
    sqlite3_stmt *statement = nullptr;
    REQUIRE(sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK);
    long long value = -1;
    if (sqlite3_step(statement) == SQLITE_ROW) value = sqlite3_column_int64(statement, 0);
    sqlite3_finalize(statement);
    return value;
  }

  // Closes the connection; SQLITE_OK when nothing was left open.
  int close() {
    int rc = sqlite3_close(db_);
    if (rc == SQLITE_OK) db_ = nullptr;
    return rc;
  }

private:
  std::string path_;
  sqlite3 *db_ = nullptr;
};

void make_zumero_table(RawConnection &c) {
  c.exec(
      "CREATE VIRTUAL TABLE t USING zumero (k TEXT PRIMARY KEY, v INTEGER);"
      "INSERT INTO t VALUES ('one', 1), ('two', 2);");
}

// The table and its storage are still there with their rows.
void check_table_kept(RawConnection &c, long long rows) {
  CHECK(c.integer("SELECT count(*) FROM sqlite_master WHERE name = 't'") == 1);
  CHECK(c.integer("SELECT count(*) FROM sqlite_master WHERE name = 'z$t'") == 1);
  CHECK(c.integer("SELECT count(*) FROM \"z$t\"") == rows);
  CHECK(c.integer("SELECT count(*) FROM t") == rows);
}

}  // namespace

TEST_CASE("Zumero functions after sqlite3_drop_modules work or fail cleanly", "[module][hostile]") {
  std::string path;
  {
    RawConnection c;
    path = c.path();
    make_zumero_table(c);
    REQUIRE(sqlite3_drop_modules(c.db(), nullptr) == SQLITE_OK);

    // Each either works or reports an error; none may touch freed state.
    const std::vector<std::string> statements = {
        "SELECT zumero_named_constant('action_accept')",
        "SELECT zumero_add_row_rule('main', 't', zumero_named_constant('situation_mod_after_mod'),"
        " zumero_named_constant('action_accept'), NULL)",
        "SELECT zumero_alter_table_add_column('main', 't', 'w TEXT')",
        "SELECT zumero_define_audit_table('main')",
        "SELECT zumero_define_acl_table('main')",
        "SELECT zumero_purge_history('main')",
        "SELECT zumero_sync('main', 'http://127.0.0.1:9', 'nowhere')",
        "SELECT zumero_last_error_details()",
        "SELECT count(*) FROM t",
        "INSERT INTO t VALUES ('three', 3)",
        "CREATE VIRTUAL TABLE u USING zumero (a TEXT)",
        "CREATE TABLE plain (a); SELECT zumero_adopt_existing_table('main', 'plain')",
        "DROP TABLE t",
    };
    for (const std::string &sql : statements) {
      Result result = c.run(sql);
      INFO(sql << " -> " << result.rc << " " << result.message);
      CHECK((result.rc == SQLITE_OK || !result.message.empty()));
    }
    // Loading the extension again does not bring freed state back either.
    c.load();
    Result after = c.run("SELECT count(*) FROM t");
    INFO("after loading again: " << after.message);
    CHECK((after.rc == SQLITE_OK || !after.message.empty()));
    CHECK(c.close() == SQLITE_OK);
  }
  // However the calls above went, the table was not dropped.
  RawConnection reopened(path);
  CHECK(reopened.integer("SELECT count(*) FROM sqlite_master WHERE name = 't'") == 1);
  CHECK(reopened.integer("SELECT count(*) FROM sqlite_master WHERE name = 'z$t'") == 1);
  CHECK(reopened.integer("SELECT count(*) FROM \"z$t\" WHERE k IN ('one', 'two')") == 2);
  CHECK(reopened.integer("SELECT count(*) FROM t WHERE k IN ('one', 'two')") == 2);
  Result drop = reopened.run("DROP TABLE t");
  CHECK(drop.rc != SQLITE_OK);
  CHECK(reopened.integer("SELECT count(*) FROM \"z$t\" WHERE k IN ('one', 'two')") == 2);
}

TEST_CASE("An application object named zumero_drop_guard does not turn off the DROP TABLE refusal",
          "[module][hostile]") {
  struct Shadow {
    const char *what;
    const char *sql;
    const char *count;  // rows the application's object received
  };
  const std::vector<Shadow> shadows = {
      {"a table in main", "CREATE TABLE zumero_drop_guard (refused)", "SELECT count(*) FROM main.zumero_drop_guard"},
      {"a temp table", "CREATE TEMP TABLE zumero_drop_guard (refused)", "SELECT count(*) FROM temp.zumero_drop_guard"},
      {"a table with the name in upper case", "CREATE TABLE ZUMERO_DROP_GUARD (refused)",
       "SELECT count(*) FROM main.zumero_drop_guard"},
      {"a view with a trigger that swallows inserts",
       "CREATE TABLE seen (x); CREATE VIEW zumero_drop_guard AS SELECT 1 AS refused;"
       "CREATE TRIGGER swallow INSTEAD OF INSERT ON zumero_drop_guard BEGIN INSERT INTO seen VALUES (1); END",
       "SELECT count(*) FROM seen"},
      {"a temp view with a trigger that swallows inserts",
       "CREATE TEMP TABLE seen (x); CREATE TEMP VIEW zumero_drop_guard AS SELECT 1 AS refused;"
       "CREATE TEMP TRIGGER swallow INSTEAD OF INSERT ON zumero_drop_guard BEGIN INSERT INTO seen VALUES (1); END",
       "SELECT count(*) FROM seen"},
  };
  for (const Shadow &shadow : shadows) {
    INFO(shadow.what);
    RawConnection c;
    make_zumero_table(c);
    c.exec(shadow.sql);
    for (const char *drop : {"DROP TABLE t", "DROP TABLE IF EXISTS t", "DROP TABLE main.t"}) {
      INFO(drop);
      Result result = c.run(drop);
      CHECK(result.rc != SQLITE_OK);
      CHECK(sqlite3_get_autocommit(c.db()) == 1);
      check_table_kept(c, 2);
      CHECK(c.integer(shadow.count) == 0);
    }
    // The table still works, and the refusal holds after reopening.
    c.exec("INSERT INTO t VALUES ('three', 3)");
    CHECK(c.close() == SQLITE_OK);
    RawConnection reopened(c.path());
    CHECK(reopened.run("DROP TABLE t").rc != SQLITE_OK);
    check_table_kept(reopened, 3);
  }
}

TEST_CASE("DROP TABLE with only the guard module dropped is still refused", "[module][hostile]") {
  RawConnection c;
  make_zumero_table(c);
  const char *keep[] = {"zumero", nullptr};
  REQUIRE(sqlite3_drop_modules(c.db(), keep) == SQLITE_OK);
  CHECK(c.run("DROP TABLE t").rc != SQLITE_OK);
  check_table_kept(c, 2);
  CHECK(c.close() == SQLITE_OK);
  RawConnection reopened(c.path());
  check_table_kept(reopened, 2);
}

TEST_CASE("DROP TABLE inside a transaction fails at once and the transaction's other work commits",
          "[module][hostile]") {
  struct Transaction {
    const char *begin;
    const char *end;
    bool shadowed;  // an application table named zumero_drop_guard exists
  };
  const std::vector<Transaction> transactions = {
      {"BEGIN", "COMMIT", false},
      {"BEGIN IMMEDIATE", "COMMIT", false},
      {"SAVEPOINT outer", "RELEASE outer", false},
      {"BEGIN", "COMMIT", true},
      {"SAVEPOINT outer", "RELEASE outer", true},
  };
  for (const Transaction &transaction : transactions) {
    const bool shadowed = transaction.shadowed;
    INFO(transaction.begin << (shadowed ? ", with an application table named zumero_drop_guard" : ""));
    RawConnection c;
    make_zumero_table(c);
    c.exec("CREATE TABLE plain (a)");
    if (shadowed) c.exec("CREATE TABLE zumero_drop_guard (refused)");
    c.exec(std::string(transaction.begin) + "; INSERT INTO t VALUES ('three', 3); INSERT INTO plain VALUES ('before')");
    Result drop = c.run("DROP TABLE t");
    CHECK(drop.rc != SQLITE_OK);
    INFO("DROP TABLE said: " << drop.message);
    // Still inside the same transaction, which goes on.
    CHECK(sqlite3_get_autocommit(c.db()) == 0);
    c.exec("INSERT INTO t VALUES ('four', 4); UPDATE t SET v = 10 WHERE k = 'one'; INSERT INTO plain VALUES ('after')");
    c.exec(transaction.end);
    CHECK(sqlite3_get_autocommit(c.db()) == 1);
    check_table_kept(c, 4);
    CHECK(c.integer("SELECT v FROM t WHERE k = 'one'") == 10);
    CHECK(c.integer("SELECT count(*) FROM plain") == 2);
    if (shadowed) CHECK(c.integer("SELECT count(*) FROM zumero_drop_guard") == 0);
    // The committed changes are recorded for the next sync like any other.
    CHECK(c.integer("SELECT count(*) FROM \"t$tx\"") >= 2);
    CHECK(c.close() == SQLITE_OK);
    RawConnection reopened(c.path());
    check_table_kept(reopened, 4);
  }
}

TEST_CASE("Loading the extension twice on a connection is harmless", "[module][hostile]") {
  RawConnection c;
  REQUIRE(c.load() == SQLITE_OK);
  c.exec("SELECT load_extension(" + std::string("'") + zt::extension_path() + "')");
  make_zumero_table(c);
  CHECK(c.integer("SELECT count(*) FROM t") == 2);
  CHECK(c.integer("SELECT zumero_named_constant('action_accept')") ==
        c.integer("SELECT zumero_named_constant('action_accept')"));
  c.exec("SELECT zumero_alter_table_add_column('main', 't', 'w TEXT')");
  // One transaction recorded per write, not one per registration.
  long long transactions = c.integer("SELECT count(*) FROM \"t$tx\"");
  c.exec("INSERT INTO t (k, v, w) VALUES ('three', 3, 'x')");
  CHECK(c.integer("SELECT count(*) FROM \"t$tx\"") == transactions + 1);
  CHECK(c.integer("SELECT count(*) FROM \"z$old$t\"") == 0);
  CHECK(c.run("DROP TABLE t").rc != SQLITE_OK);
  check_table_kept(c, 3);
  CHECK(c.close() == SQLITE_OK);

  // A second connection to the same file with the extension loaded twice as well.
  RawConnection again(c.path());
  REQUIRE(again.load() == SQLITE_OK);
  check_table_kept(again, 3);
  again.exec("DELETE FROM t WHERE k = 'three'");
  check_table_kept(again, 2);
}
