// Conflict resolution on the server (guide 5.1), constraint violations (5.2) and
// INTEGER PRIMARY KEY renumbering (5.2.5), each with two clients of one dbfile.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "server/tests/server_process.h"
#include "sync_support.h"

using zumero::synctest::Client;
using zumero::synctest::Rows;
using zumero::synctest::sql_quote;
using zumero::test::ServerProcess;
using zumero::test::TempDir;

namespace {

// Two clients of one dbfile, both at the version that holds `setup`.
struct Pair {
  ServerProcess &server;
  TempDir dir;
  std::string dbfile;
  Client first;
  Client second;
  Pair(ServerProcess &server, const std::string &dbfile, const std::string &setup)
      : server(server), dbfile(dbfile), first(dir.path() / "first.db"), second(dir.path() / "second.db") {
    first.exec(setup);
    first.sync_complete(server.url(), dbfile);
    second.sync_complete(server.url(), dbfile);
  }
  const std::string &url() const { return server.url(); }
  Rows fresh_rows(const std::string &sql) {
    Client fresh(dir.path() / ("fresh" + std::to_string(++fresh_count) + ".db"));
    fresh.sync_complete(url(), dbfile);
    return fresh.rows(sql);
  }
  int fresh_count = 0;
};

std::string named(const std::string &constant) { return "zumero_named_constant('" + constant + "')"; }

// Ringo and George (guide 5.1.2) with an optional mod_after_mod rule on foo. Returns
// the error of George's sync ("" when it succeeded).
std::string ringo_and_george(Pair &p, const std::string &action) {
  if (!action.empty()) {
    p.first.exec("SELECT zumero_add_row_rule('main', 'foo', " + named("situation_mod_after_mod") + ", " + named(action) +
                 ", NULL)");
    p.first.sync_complete(p.url(), p.dbfile);
    p.second.sync_complete(p.url(), p.dbfile);
  }
  p.first.exec("UPDATE foo SET b = 289 WHERE a = 'bar'");   // Ringo
  p.second.exec("UPDATE foo SET c = 169 WHERE a = 'bar'");  // George
  p.first.sync_complete(p.url(), p.dbfile);
  std::string george = p.second.sync_error(p.url(), p.dbfile);
  if (george.empty()) {
    p.second.sync_complete(p.url(), p.dbfile);
    p.first.sync_complete(p.url(), p.dbfile);
  }
  return george;
}

const char *const kFoo = "CREATE VIRTUAL TABLE foo USING zumero (a TEXT PRIMARY KEY, b INTEGER, c INTEGER);"
                         "INSERT INTO foo (a, b, c) VALUES ('bar', 17, 13);";

}  // namespace

TEST_CASE("del_after_mod: the update wins by default (John and Paul)", "[sync][conflict]") {
  ServerProcess server;
  Pair p(server, "john_paul",
         "CREATE VIRTUAL TABLE items USING zumero (name TEXT PRIMARY KEY, value INTEGER);"
         "INSERT INTO items VALUES ('foo', 42);");
  p.first.exec("UPDATE items SET value = 13 WHERE name = 'foo'");  // John
  p.second.exec("DELETE FROM items WHERE name = 'foo'");           // Paul
  p.first.sync_complete(p.url(), p.dbfile);
  REQUIRE(p.second.sync_error(p.url(), p.dbfile) == "");
  p.second.sync_complete(p.url(), p.dbfile);
  p.first.sync_complete(p.url(), p.dbfile);
  const Rows expected{{"foo", "13"}};
  CHECK(p.first.rows("SELECT name, value FROM items") == expected);
  CHECK(p.second.rows("SELECT name, value FROM items") == expected);
  CHECK(p.fresh_rows("SELECT name, value FROM items") == expected);
  CHECK(p.first.dump("items") == p.second.dump("items"));
}

TEST_CASE("mod_after_del: the update brings the row back by default", "[sync][conflict]") {
  ServerProcess server;
  Pair p(server, "mod_after_del",
         "CREATE VIRTUAL TABLE items USING zumero (name TEXT PRIMARY KEY, value INTEGER);"
         "INSERT INTO items VALUES ('foo', 42), ('other', 1);");
  p.first.exec("DELETE FROM items WHERE name = 'foo'");
  p.first.sync_complete(p.url(), p.dbfile);
  p.second.exec("UPDATE items SET value = 7 WHERE name = 'foo'");
  REQUIRE(p.second.sync_error(p.url(), p.dbfile) == "");
  p.second.sync_complete(p.url(), p.dbfile);
  p.first.sync_complete(p.url(), p.dbfile);
  const Rows expected{{"foo", "7"}, {"other", "1"}};
  CHECK(p.first.rows("SELECT name, value FROM items ORDER BY name") == expected);
  CHECK(p.second.rows("SELECT name, value FROM items ORDER BY name") == expected);
  CHECK(p.fresh_rows("SELECT name, value FROM items ORDER BY name") == expected);
}

TEST_CASE("mod_after_mod: column merge by default (Ringo and George)", "[sync][conflict]") {
  ServerProcess server;
  Pair p(server, "ringo_george", kFoo);
  REQUIRE(ringo_and_george(p, "") == "");
  const Rows expected{{"bar", "289", "169"}};
  CHECK(p.first.rows("SELECT a, b, c FROM foo") == expected);
  CHECK(p.second.rows("SELECT a, b, c FROM foo") == expected);
  CHECK(p.fresh_rows("SELECT a, b, c FROM foo") == expected);
}

TEST_CASE("mod_after_mod with a row rule: accept, ignore, reject", "[sync][conflict][rules]") {
  ServerProcess server;
  SECTION("action_accept: George's whole row") {
    Pair p(server, "rule_accept", kFoo);
    REQUIRE(ringo_and_george(p, "action_accept") == "");
    const Rows expected{{"bar", "17", "169"}};
    CHECK(p.first.rows("SELECT a, b, c FROM foo") == expected);
    CHECK(p.second.rows("SELECT a, b, c FROM foo") == expected);
    CHECK(p.fresh_rows("SELECT a, b, c FROM foo") == expected);
  }
  SECTION("action_ignore: Ringo's row stays") {
    Pair p(server, "rule_ignore", kFoo);
    REQUIRE(ringo_and_george(p, "action_ignore") == "");
    const Rows expected{{"bar", "289", "13"}};
    CHECK(p.first.rows("SELECT a, b, c FROM foo") == expected);
    CHECK(p.second.rows("SELECT a, b, c FROM foo") == expected);
    CHECK(p.fresh_rows("SELECT a, b, c FROM foo") == expected);
  }
  SECTION("action_reject: George's package is rejected") {
    Pair p(server, "rule_reject", kFoo);
    CHECK(ringo_and_george(p, "action_reject") == "zumero:package_rejected");
    CHECK(p.fresh_rows("SELECT a, b, c FROM foo") == Rows{{"bar", "289", "13"}});
    // George's change is still his own.
    CHECK(p.second.rows("SELECT a, b, c FROM foo") == Rows{{"bar", "17", "169"}});
  }
}

TEST_CASE("Column rule attempt_text_merge|accept merges edits of different lines", "[sync][conflict][rules]") {
  ServerProcess server;
  Pair p(server, "wiki",
         "CREATE VIRTUAL TABLE wiki USING zumero (title TEXT PRIMARY KEY, content TEXT);"
         "INSERT INTO wiki VALUES ('home', 'line one\nline two\nline three\nline four\nline five\nline six\n');"
         "SELECT zumero_add_column_rule('main', 'wiki', 'content', "
         "zumero_named_constant('action_attempt_text_merge') | zumero_named_constant('action_accept'), NULL);");
  p.first.exec("UPDATE wiki SET content = replace(content, 'line one', 'LINE ONE (first)')");
  p.second.exec("UPDATE wiki SET content = replace(content, 'line six', 'LINE SIX (second)')");
  p.first.sync_complete(p.url(), p.dbfile);
  REQUIRE(p.second.sync_error(p.url(), p.dbfile) == "");
  p.second.sync_complete(p.url(), p.dbfile);
  p.first.sync_complete(p.url(), p.dbfile);
  const std::string merged = "LINE ONE (first)\nline two\nline three\nline four\nline five\nLINE SIX (second)\n";
  CHECK(p.first.text("SELECT content FROM wiki") == merged);
  CHECK(p.second.text("SELECT content FROM wiki") == merged);
  CHECK(p.fresh_rows("SELECT content FROM wiki") == Rows{{merged}});

  // Both edit the same line: the merge fails and the incoming side is accepted.
  p.first.exec("UPDATE wiki SET content = replace(content, 'line three', 'three by first')");
  p.second.exec("UPDATE wiki SET content = replace(content, 'line three', 'three by second')");
  p.first.sync_complete(p.url(), p.dbfile);
  REQUIRE(p.second.sync_error(p.url(), p.dbfile) == "");
  p.first.sync_complete(p.url(), p.dbfile);
  const std::string accepted = "LINE ONE (first)\nline two\nthree by second\nline four\nline five\nLINE SIX (second)\n";
  CHECK(p.first.text("SELECT content FROM wiki") == accepted);
  CHECK(p.second.text("SELECT content FROM wiki") == accepted);
}

TEST_CASE("A resolved conflict adds a z_audit row that reaches the clients", "[sync][conflict][audit]") {
  ServerProcess server;
  Pair p(server, "audited", std::string(kFoo) + "SELECT zumero_define_audit_table('main');");
  REQUIRE(p.second.integer("SELECT count(*) FROM z_audit") == 0);
  REQUIRE(ringo_and_george(p, "") == "");
  for (Client *c : {&p.first, &p.second}) {
    Rows audit = c->rows("SELECT tbl, ancestor, already, incoming, result FROM z_audit");
    REQUIRE(audit.size() == 1);
    CHECK(audit[0][0] == "foo");
    INFO("audit row: " << zumero::synctest::to_string(audit));
    CHECK(audit[0][1].find("17") != std::string::npos);   // ancestor ('bar', 17, 13)
    CHECK(audit[0][2].find("289") != std::string::npos);  // already: Ringo's
    CHECK(audit[0][3].find("169") != std::string::npos);  // incoming: George's
    CHECK(audit[0][4].find("289") != std::string::npos);  // result: merged
    CHECK(audit[0][4].find("169") != std::string::npos);
    for (int i = 1; i <= 4; ++i) CHECK(nlohmann::json::accept(audit[0][i]));
  }
  CHECK(p.first.dump("z_audit") == p.second.dump("z_audit"));
  CHECK(p.fresh_rows("SELECT count(*) FROM z_audit") == Rows{{"1"}});
}

namespace {

void check_details_name(Client &c, const std::string &table) {
  std::string details = c.text("SELECT zumero_last_error_details()");
  INFO("details: " << details);
  REQUIRE(details != "<null>");
  auto json = nlohmann::json::parse(details, nullptr, false);
  REQUIRE(json.is_object());
  REQUIRE(json.contains("table"));
  CHECK(json["table"] == table);
}

}  // namespace

TEST_CASE("Constraint violations on the server reject the package", "[sync][constraints]") {
  ServerProcess server;
  SECTION("CHECK (Nancy and Ann)") {
    Pair p(server, "check_c",
           "CREATE VIRTUAL TABLE items USING zumero (a INT, b INT, c INT, CHECK (c > (a + b)));"
           "INSERT INTO items (a, b, c) VALUES (10, 20, 50);");
    p.first.exec("UPDATE items SET a = 25");   // Nancy
    p.second.exec("UPDATE items SET b = 35");  // Ann
    p.second.sync_complete(p.url(), p.dbfile);
    CHECK(p.first.sync_error(p.url(), p.dbfile) == "zumero:check_constraint_violation");
    check_details_name(p.first, "items");
    CHECK(p.fresh_rows("SELECT a, b, c FROM items") == Rows{{"10", "35", "50"}});
  }
  SECTION("FOREIGN KEY (Harold and Don)") {
    Pair p(server, "fk_c",
           "CREATE VIRTUAL TABLE foo USING zumero (a TEXT PRIMARY KEY);"
           "CREATE VIRTUAL TABLE bar USING zumero (b TEXT REFERENCES foo (a));"
           "INSERT INTO foo (a) VALUES ('hello');");
    p.first.exec("INSERT INTO bar (b) VALUES ('hello')");  // Harold
    p.second.exec("DELETE FROM foo");                      // Don
    p.second.sync_complete(p.url(), p.dbfile);
    CHECK(p.first.sync_error(p.url(), p.dbfile) == "zumero:foreign_key_constraint_violation");
    check_details_name(p.first, "bar");
    CHECK(p.fresh_rows("SELECT (SELECT count(*) FROM foo), (SELECT count(*) FROM bar)") == Rows{{"0", "0"}});
  }
  SECTION("UNIQUE (Phil and Lew)") {
    Pair p(server, "unique_c",
           "CREATE VIRTUAL TABLE foo USING zumero (a TEXT, b INTEGER, c DOUBLE, UNIQUE (a, b));");
    p.first.exec("INSERT INTO foo (a, b, c) VALUES ('rose', 16, 3.14159)");   // Phil
    p.second.exec("INSERT INTO foo (a, b, c) VALUES ('rose', 16, 1.41421)");  // Lew
    p.second.sync_complete(p.url(), p.dbfile);
    CHECK(p.first.sync_error(p.url(), p.dbfile) == "zumero:unique_constraint_violation");
    check_details_name(p.first, "foo");
    CHECK(p.fresh_rows("SELECT a, b, c FROM foo") == Rows{{"rose", "16", "1.41421"}});
    // Phil fixes his row and syncs again.
    CHECK(p.first.rows("SELECT a, b, c FROM foo") == Rows{{"rose", "16", "3.14159"}});
    p.first.exec("UPDATE foo SET b = 17 WHERE c > 3");
    REQUIRE(p.first.sync_error(p.url(), p.dbfile) == "");
    p.first.sync_complete(p.url(), p.dbfile);
    p.second.sync_complete(p.url(), p.dbfile);
    const Rows both{{"rose", "16", "1.41421"}, {"rose", "17", "3.14159"}};
    CHECK(p.first.rows("SELECT a, b, c FROM foo ORDER BY b") == both);
    CHECK(p.second.rows("SELECT a, b, c FROM foo ORDER BY b") == both);
    CHECK(p.first.dump("foo") == p.second.dump("foo"));
  }
}

TEST_CASE("Conflicting definitions of a table or column give zumero:column_definition_mismatch", "[sync][schema]") {
  ServerProcess server;
  SECTION("the same column added with two definitions") {
    Pair p(server, "add_mismatch", "CREATE VIRTUAL TABLE t USING zumero (k TEXT PRIMARY KEY); INSERT INTO t VALUES ('x');");
    p.first.exec("SELECT zumero_alter_table_add_column('main', 't', 'extra TEXT')");
    p.second.exec("SELECT zumero_alter_table_add_column('main', 't', 'extra INTEGER')");
    p.first.sync_complete(p.url(), p.dbfile);
    CHECK(p.second.sync_error(p.url(), p.dbfile) == "zumero:column_definition_mismatch");
  }
  SECTION("the same column added identically by both is fine") {
    Pair p(server, "add_same", "CREATE VIRTUAL TABLE t USING zumero (k TEXT PRIMARY KEY); INSERT INTO t VALUES ('x');");
    p.first.exec("SELECT zumero_alter_table_add_column('main', 't', 'extra TEXT')");
    p.second.exec("SELECT zumero_alter_table_add_column('main', 't', 'extra TEXT')");
    p.first.reopen();
    p.second.reopen();
    p.first.exec("UPDATE t SET extra = 'from first'");
    p.first.sync_complete(p.url(), p.dbfile);
    REQUIRE(p.second.sync_error(p.url(), p.dbfile) == "");
    p.second.reopen();
    CHECK(p.second.rows("SELECT k, extra FROM t") == Rows{{"x", "from first"}});
  }
  SECTION("the same table created with two definitions") {
    Pair p(server, "create_mismatch", "CREATE VIRTUAL TABLE base USING zumero (k TEXT); INSERT INTO base VALUES ('x');");
    p.first.exec("CREATE VIRTUAL TABLE late USING zumero (a TEXT, b INTEGER)");
    p.second.exec("CREATE VIRTUAL TABLE late USING zumero (a INTEGER)");
    p.first.sync_complete(p.url(), p.dbfile);
    CHECK(p.second.sync_error(p.url(), p.dbfile) == "zumero:column_definition_mismatch");
  }
}

TEST_CASE("INTEGER PRIMARY KEY values are renumbered and references follow", "[sync][ipk]") {
  ServerProcess server;
  Pair p(server, "ipk",
         "CREATE VIRTUAL TABLE parent USING zumero (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
         "CREATE VIRTUAL TABLE child USING zumero (cid INTEGER PRIMARY KEY, pid INTEGER REFERENCES parent (id), note TEXT);");
  p.first.exec("INSERT INTO parent (name) VALUES ('a1'); INSERT INTO parent (name) VALUES ('a2');");
  p.second.exec("INSERT INTO parent (name) VALUES ('b1'); INSERT INTO parent (name) VALUES ('b2');");
  REQUIRE(p.first.rows("SELECT id FROM parent ORDER BY id") == Rows{{"1"}, {"2"}});
  REQUIRE(p.second.rows("SELECT id FROM parent ORDER BY id") == Rows{{"1"}, {"2"}});
  p.second.exec("INSERT INTO child (pid, note) VALUES ((SELECT id FROM parent WHERE name = 'b2'), 'child of b2')");

  p.first.sync_complete(p.url(), p.dbfile);
  REQUIRE(p.second.sync_error(p.url(), p.dbfile) == "");
  p.second.sync_complete(p.url(), p.dbfile);
  p.first.sync_complete(p.url(), p.dbfile);

  for (Client *c : {&p.first, &p.second}) {
    CHECK(c->integer("SELECT count(*) FROM parent") == 4);
    CHECK(c->integer("SELECT count(DISTINCT id) FROM parent") == 4);
    CHECK(c->rows("SELECT name FROM parent ORDER BY name") == Rows{{"a1"}, {"a2"}, {"b1"}, {"b2"}});
    CHECK(c->rows("SELECT p.name, c.note FROM child c JOIN parent p ON p.id = c.pid") == Rows{{"b2", "child of b2"}});
  }
  // The first client's rows were synced first and kept their ids.
  CHECK(p.first.rows("SELECT id FROM parent WHERE name IN ('a1', 'a2') ORDER BY id") == Rows{{"1"}, {"2"}});
  CHECK(p.first.dump("parent") == p.second.dump("parent"));
  CHECK(p.first.dump("child") == p.second.dump("child"));
  CHECK(p.fresh_rows("SELECT p.name FROM child c JOIN parent p ON p.id = c.pid") == Rows{{"b2"}});
}

TEST_CASE("z_ipk_no_change_on_sync turns an id collision into a unique violation", "[sync][ipk]") {
  ServerProcess server;
  Pair p(server, "ipk_fixed",
         "CREATE VIRTUAL TABLE fixed USING zumero (x INTEGER CONSTRAINT z_ipk_no_change_on_sync PRIMARY KEY, y TEXT);");
  p.first.exec("INSERT INTO fixed (y) VALUES ('from first')");
  p.second.exec("INSERT INTO fixed (y) VALUES ('from second')");
  p.first.sync_complete(p.url(), p.dbfile);
  CHECK(p.second.sync_error(p.url(), p.dbfile) == "zumero:unique_constraint_violation");
  CHECK(p.fresh_rows("SELECT x, y FROM fixed") == Rows{{"1", "from first"}});
  CHECK(p.second.rows("SELECT x, y FROM fixed") == Rows{{"1", "from second"}});
}

TEST_CASE("A rejected change is quarantined, the sync goes on, and the change is restored later",
          "[sync][quarantine]") {
  ServerProcess server;
  Pair p(server, "quarantine_q",
         "CREATE VIRTUAL TABLE foo USING zumero (a TEXT, b INTEGER, c DOUBLE, UNIQUE (a, b));"
         "INSERT INTO foo (a, b, c) VALUES ('keep', 1, 1.0);");
  p.second.exec("INSERT INTO foo (a, b, c) VALUES ('rose', 16, 1.41421)");  // Lew
  p.second.sync_complete(p.url(), p.dbfile);
  p.first.exec("INSERT INTO foo (a, b, c) VALUES ('rose', 16, 3.14159)");   // Phil
  p.first.exec("UPDATE foo SET c = 2.0 WHERE a = 'keep'");
  CHECK(p.first.sync_error(p.url(), p.dbfile) == "zumero:unique_constraint_violation");

  // Set aside: Phil's database is back at the last synced state, and can sync again.
  std::int64_t qid = p.first.integer("SELECT zumero_quarantine_since_last_sync('main')");
  CHECK(qid > 0);
  CHECK(p.first.rows("SELECT a, b, c FROM foo") == Rows{{"keep", "1", "1.0"}});
  REQUIRE(p.first.sync_error(p.url(), p.dbfile) == "");
  CHECK(p.first.rows("SELECT a, b, c FROM foo ORDER BY a") == Rows{{"keep", "1", "1.0"}, {"rose", "16", "1.41421"}});

  // Restoring while the conflict remains fails and changes nothing.
  CHECK(p.first.error_of("SELECT zumero_restore_quarantine('main', " + std::to_string(qid) + ")") ==
        "zumero:unique_constraint_violation");
  CHECK(p.first.integer("SELECT count(*) FROM t$q") == 1);
  CHECK(p.first.integer("SELECT count(*) FROM foo") == 2);

  // Once it fits, the restored change is a new local row, not an overwrite of Lew's.
  p.first.exec("UPDATE foo SET b = 17 WHERE a = 'rose'");
  p.first.exec("SELECT zumero_restore_quarantine('main', " + std::to_string(qid) + ")");
  CHECK(p.first.integer("SELECT count(*) FROM t$q") == 0);
  p.first.sync_complete(p.url(), p.dbfile);
  p.second.sync_complete(p.url(), p.dbfile);
  const Rows expected{{"keep", "1", "2.0"}, {"rose", "16", "3.14159"}, {"rose", "17", "1.41421"}};
  CHECK(p.first.rows("SELECT a, b, c FROM foo ORDER BY a, b") == expected);
  CHECK(p.second.rows("SELECT a, b, c FROM foo ORDER BY a, b") == expected);
}
