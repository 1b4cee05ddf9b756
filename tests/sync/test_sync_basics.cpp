// zumero_sync() arguments and return value, dbfile creation and first pulls, what a
// sync carries (rows, later tables, added columns, rules, z_acl, z_audit; not local
// indexes), zumero_pull_without_history, zumero_get_storage_usage_on_server, and the
// error for a server that is not there.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/tests/server_process.h"
#include "sync_support.h"

using zumero::synctest::Client;
using zumero::synctest::Rows;
using zumero::synctest::sql_quote;
using zumero::test::ServerProcess;
using zumero::test::TempDir;

TEST_CASE("zumero_sync accepts 3, 6 or 7 arguments and returns eight integers", "[sync][arguments]") {
  ServerProcess server;
  TempDir dir;
  Client a(dir.path() / "a.db");
  a.exec("CREATE VIRTUAL TABLE t USING zumero (k TEXT PRIMARY KEY, v INTEGER);"
         "INSERT INTO t VALUES ('one', 1);");
  const std::string url = sql_quote(server.url());

  std::string three = a.text("SELECT zumero_sync('main', " + url + ", 'args')");
  auto stats = zumero::synctest::parse_sync_result(three);
  INFO("result: " << three);
  CHECK(stats.field_count == 8);
  CHECK(stats.partial == 0);
  CHECK(stats.quarantine == 0);
  CHECK(stats.bytes_up_full > 0);
  CHECK(stats.bytes_up_compressed > 0);
  CHECK(stats.elapsed_ms_total >= stats.elapsed_ms_net);

  a.exec("INSERT INTO t VALUES ('two', 2)");
  std::string six = a.text("SELECT zumero_sync('main', " + url + ", 'args', NULL, NULL, NULL)");
  CHECK(zumero::synctest::parse_sync_result(six).field_count == 8);

  a.exec("INSERT INTO t VALUES ('three', 3)");
  std::string seven =
      a.text("SELECT zumero_sync('main', " + url + ", 'args', NULL, NULL, NULL, " + sql_quote(dir.path().string()) + ")");
  CHECK(zumero::synctest::parse_sync_result(seven).field_count == 8);

  CHECK(a.error_of("SELECT zumero_sync('main', " + url + ", 'args', NULL)") == "zumero:invalid_argument");
  CHECK(a.error_of("SELECT zumero_sync('main', " + url + ", 'args', NULL, NULL)") == "zumero:invalid_argument");

  // Another client sees all three rows, so each form really synced.
  Client b(dir.path() / "b.db");
  b.sync_complete(server.url(), "args");
  CHECK(b.integer("SELECT count(*) FROM t") == 3);
}

TEST_CASE("zumero_sync inside an explicit transaction is refused", "[sync][arguments]") {
  ServerProcess server;
  TempDir dir;
  Client a(dir.path() / "a.db");
  a.exec("CREATE VIRTUAL TABLE t USING zumero (k TEXT PRIMARY KEY);"
         "INSERT INTO t VALUES ('x');");
  a.exec("BEGIN");
  CHECK(a.error_of("SELECT zumero_sync('main', " + sql_quote(server.url()) + ", 'tx')") == "zumero:invalid_argument");
  a.exec("ROLLBACK");
  CHECK_FALSE(server.has_dbfile("tx"));
  CHECK(a.sync_error(server.url(), "tx") == "");
}

TEST_CASE("Invalid dbfile names are refused", "[sync][arguments]") {
  ServerProcess server;
  TempDir dir;
  Client a(dir.path() / "a.db");
  a.exec("CREATE VIRTUAL TABLE t USING zumero (k TEXT PRIMARY KEY);"
         "INSERT INTO t VALUES ('x');");
  for (const char *name : {"Abc", "1x", "a-b", "zumero_foo", "", "_a", "a b"}) {
    INFO("dbfile name: '" << name << "'");
    CHECK(a.sync_error(server.url(), name) == "zumero:invalid_dbfile_name");
  }
  // Nothing was created for any of them.
  CHECK(server.dbfiles() == std::vector<std::string>{"zumero_log"});

  // A local file is bound to the first dbfile it synced with.
  REQUIRE(a.sync_error(server.url(), "first") == "");
  a.exec("INSERT INTO t VALUES ('y')");
  CHECK(a.sync_error(server.url(), "second") == "zumero:invalid_argument");
  CHECK_FALSE(server.has_dbfile("second"));
  CHECK(a.sync_error(server.url(), "first") == "");
}

TEST_CASE("The first push creates the dbfile and a fresh client pulls all of it", "[sync][create]") {
  ServerProcess server;
  TempDir dir;
  Client a(dir.path() / "a.db");
  a.exec("CREATE VIRTUAL TABLE t USING zumero (k TEXT PRIMARY KEY, v INTEGER);"
         "CREATE VIRTUAL TABLE u USING zumero (x INTEGER PRIMARY KEY, y TEXT);"
         "INSERT INTO t VALUES ('one', 1), ('two', 2), ('three', 3);"
         "INSERT INTO u (y) VALUES ('alpha'), ('beta');");
  REQUIRE_FALSE(server.has_dbfile("created"));
  auto stats = a.sync_complete(server.url(), "created");
  CHECK(stats.bytes_up_full > 0);
  CHECK(server.has_dbfile("created"));

  // History on the server: an update and a delete after the first version.
  a.exec("UPDATE t SET v = 10 WHERE k = 'one'; DELETE FROM t WHERE k = 'two';");
  a.sync_complete(server.url(), "created");

  Client b(dir.path() / "b.db");
  b.sync_complete(server.url(), "created");
  CHECK(b.dump("t") == a.dump("t"));
  CHECK(b.dump("u") == a.dump("u"));
  CHECK(b.rows("SELECT k, v FROM t ORDER BY k") == Rows{{"one", "10"}, {"three", "3"}});
  // The superseded versions came along: ('one', 1) was updated, ('two', 2) deleted.
  CHECK(b.integer("SELECT count(*) FROM \"z$old$t\" WHERE k = 'one' AND v = 1 AND z_deleted = 0") == 1);
  CHECK(b.integer("SELECT count(*) FROM \"z$old$t\" WHERE k = 'two' AND v = 2 AND z_deleted = 1") == 1);
  // A client with no local changes has nothing more to receive.
  auto again = b.sync_complete(server.url(), "created");
  INFO("sync without changes: " << again.text);
  CHECK(again.bytes_down_full == 0);
  CHECK(again.bytes_up_full < 500);  // at most the pull request itself
  CHECK(b.dump("t") == a.dump("t"));
}

TEST_CASE("Values that do not compress sync both ways", "[sync][create]") {
  // Random bytes make an envelope that deflate cannot shrink; with the small window a
  // small message gets, zlib writes more than compressBound, which once failed the sync.
  ServerProcess server;
  TempDir dir;
  Client a(dir.path() / "a.db");
  Client b(dir.path() / "b.db");
  a.exec("CREATE VIRTUAL TABLE noise USING zumero (id INTEGER PRIMARY KEY, v BLOB)");
  for (int size : {200, 300, 450, 700, 1000, 1400, 1900}) {
    INFO("blob of " << size << " bytes");
    a.exec("INSERT INTO noise (id, v) VALUES (" + std::to_string(size) + ", randomblob(" + std::to_string(size) + "))");
    CHECK(a.sync_error(server.url(), "noise") == "");
    // b pulls each row on its own, in a reply about as large as the push.
    CHECK(b.sync_error(server.url(), "noise") == "");
    CHECK(b.text("SELECT hex(v) FROM noise WHERE id = " + std::to_string(size)) ==
          a.text("SELECT hex(v) FROM noise WHERE id = " + std::to_string(size)));
  }
  CHECK(b.dump("noise") == a.dump("noise"));
}

TEST_CASE("Syncing an empty database against a nonexistent dbfile creates nothing", "[sync][create]") {
  ServerProcess server;
  TempDir dir;
  Client a(dir.path() / "a.db");
  auto stats = a.sync(server.url(), "nothing_here");
  CHECK(stats.partial == 0);
  CHECK(stats.field_count == 8);
  CHECK_FALSE(server.has_dbfile("nothing_here"));
  CHECK(a.integer("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name LIKE 'z$%'") == 0);
  // Later the same file can still create it.
  a.exec("CREATE VIRTUAL TABLE t USING zumero (k TEXT PRIMARY KEY); INSERT INTO t VALUES ('x');");
  a.sync_complete(server.url(), "nothing_here");
  CHECK(server.has_dbfile("nothing_here"));
}

TEST_CASE("Tables, added columns, rules, z_acl and z_audit sync, local indexes do not", "[sync][schema]") {
  ServerProcess server;
  TempDir dir;
  Client a(dir.path() / "a.db");
  Client b(dir.path() / "b.db");
  a.exec("CREATE VIRTUAL TABLE t USING zumero (k TEXT PRIMARY KEY, v INTEGER);"
         "INSERT INTO t VALUES ('one', 1);");
  // The ACL protects itself: in a dbfile anyone created, its rows come with the push
  // that creates the dbfile (later ones may not add to it without an entry allowing it).
  a.exec("SELECT zumero_define_acl_table('main')");
  a.exec("INSERT INTO z_acl (scheme, who, tbl, op, result) VALUES ('', 'anyone', '', 'pull', 'allow')");
  a.sync_complete(server.url(), "everything");
  b.sync_complete(server.url(), "everything");
  REQUIRE(b.dump("t") == a.dump("t"));
  REQUIRE(b.dump("z_acl") == a.dump("z_acl"));

  // Everything below is new since B's base.
  a.exec("CREATE VIRTUAL TABLE later USING zumero (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
         "INSERT INTO later (name) VALUES ('first'), ('second');");
  a.exec("SELECT zumero_alter_table_add_column('main', 't', 'note TEXT')");
  a.reopen();
  a.exec("UPDATE t SET note = 'annotated' WHERE k = 'one'; INSERT INTO t VALUES ('two', 2, 'new');");
  a.exec("SELECT zumero_add_row_rule('main', 't', zumero_named_constant('situation_mod_after_mod'),"
         " zumero_named_constant('action_accept'), NULL)");
  a.exec("SELECT zumero_add_column_rule('main', 't', 'note', zumero_named_constant('action_ignore'), NULL)");
  a.exec("SELECT zumero_define_audit_table('main')");
  a.exec("CREATE INDEX t_by_v ON \"z$t\" (v)");
  a.sync_complete(server.url(), "everything");

  b.sync_complete(server.url(), "everything");
  b.reopen();
  CHECK(b.rows("SELECT k, v, note FROM t ORDER BY k") == Rows{{"one", "1", "annotated"}, {"two", "2", "new"}});
  CHECK(b.dump("t") == a.dump("t"));
  CHECK(b.dump("later") == a.dump("later"));
  CHECK(b.rows("SELECT name FROM later ORDER BY id") == Rows{{"first"}, {"second"}});
  CHECK(b.integer("SELECT count(*) FROM \"t$schema\" WHERE kind = 'row_rule'") == 1);
  CHECK(b.integer("SELECT count(*) FROM \"t$schema\" WHERE kind = 'column_rule'") == 1);
  CHECK(b.dump("z_acl") == a.dump("z_acl"));
  CHECK(b.integer("SELECT count(*) FROM z_acl") == a.integer("SELECT count(*) FROM z_acl"));
  CHECK(b.integer("SELECT count(*) FROM z_acl WHERE op = 'pull'") == 1);
  CHECK(b.integer("SELECT count(*) FROM sqlite_master WHERE name = 'z_audit'") == 1);
  CHECK(b.integer("SELECT count(*) FROM z_audit") == 0);
  // The index is A's own business.
  CHECK(a.integer("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 't_by_v'") == 1);
  CHECK(b.integer("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 't_by_v'") == 0);

  // A third client starting from nothing gets the same.
  Client c(dir.path() / "c.db");
  c.sync_complete(server.url(), "everything");
  c.reopen();
  CHECK(c.dump("t") == a.dump("t"));
  CHECK(c.dump("later") == a.dump("later"));
  CHECK(c.dump("z_acl") == a.dump("z_acl"));
  CHECK(c.integer("SELECT count(*) FROM \"t$schema\" WHERE kind = 'row_rule'") == 1);
}

TEST_CASE("zumero_pull_without_history and zumero_get_storage_usage_on_server", "[sync][functions]") {
  ServerProcess server({"--admin-password", "usage"});
  TempDir dir;
  Client a(dir.path() / "a.db");
  a.exec("CREATE VIRTUAL TABLE t USING zumero (k TEXT PRIMARY KEY, v INTEGER);"
         "INSERT INTO t VALUES ('one', 1), ('two', 2);");
  a.sync_complete(server.url(), "hist");
  a.exec("UPDATE t SET v = 100; DELETE FROM t WHERE k = 'two';");
  a.sync_complete(server.url(), "hist");

  const std::string call = "SELECT zumero_pull_without_history('main', " + sql_quote(server.url()) + ", 'hist')";
  Client fresh(dir.path() / "fresh.db");
  auto stats = zumero::synctest::parse_sync_result(fresh.text(call));
  CHECK(stats.field_count == 8);
  if (stats.partial) fresh.sync_complete(server.url(), "hist");
  CHECK(fresh.dump("t") == a.dump("t"));
  CHECK(fresh.integer("SELECT count(*) FROM \"z$old$t\"") == 0);
  // A normal client got the history.
  Client full(dir.path() / "full.db");
  full.sync_complete(server.url(), "hist");
  CHECK(full.integer("SELECT count(*) FROM \"z$old$t\"") >= 2);

  // Only for an empty database.
  std::string again = fresh.error_of(call);
  CHECK(again.rfind("zumero:", 0) == 0);
  Client local(dir.path() / "local.db");
  local.exec("CREATE VIRTUAL TABLE mine USING zumero (k TEXT)");
  std::string nonempty = local.error_of(call);
  CHECK(nonempty.rfind("zumero:", 0) == 0);
  CHECK(local.integer("SELECT count(*) FROM sqlite_master WHERE name = 'z$t'") == 0);
  // Later syncs of the history-less client work as usual.
  fresh.exec("INSERT INTO t VALUES ('three', 3)");
  fresh.sync_complete(server.url(), "hist");
  a.sync_complete(server.url(), "hist");
  CHECK(a.dump("t") == fresh.dump("t"));

  // Storage usage.
  Client other(dir.path() / "other.db");
  other.exec("CREATE VIRTUAL TABLE w USING zumero (k TEXT); INSERT INTO w VALUES ('w');");
  other.sync_complete(server.url(), "second_file");
  // Until zumero_config says otherwise, only administrators see every dbfile.
  CHECK(a.error_of("SELECT zumero_get_storage_usage_on_server(" + sql_quote(server.url()) +
                   ", NULL, NULL, NULL, 'usage')") == "zumero:permission_denied");
  a.exec("SELECT zumero_get_storage_usage_on_server(" + sql_quote(server.url()) +
         ", zumero_internal_auth_scheme('zumero_users_admin'), 'admin', 'usage', 'usage')");
  Rows usage = a.rows("SELECT dbfile, size > 0 FROM temp.usage WHERE dbfile IN ('hist', 'second_file') ORDER BY dbfile");
  CHECK(usage == Rows{{"hist", "1"}, {"second_file", "1"}});
  // With SQLite files the size is the file's (in PostgreSQL, that of the answering node's copy).
  if (!server.uses_postgresql())
    CHECK(a.integer("SELECT count(*) FROM temp.usage WHERE dbfile = 'hist' AND size = " +
                    std::to_string(std::filesystem::file_size(server.data_dir() / "hist.db"))) == 1);
}

TEST_CASE("A server that is not listening gives zumero:network_connection_failed", "[sync][errors]") {
  // A port that was free a moment ago and has no listener now.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr *>(&address), sizeof address) == 0);
  socklen_t size = sizeof address;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr *>(&address), &size) == 0);
  int port = ntohs(address.sin_port);
  ::close(fd);

  TempDir dir;
  Client a(dir.path() / "a.db");
  a.exec("CREATE VIRTUAL TABLE t USING zumero (k TEXT); INSERT INTO t VALUES ('x');");
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  CHECK(a.sync_error(url, "nowhere") == "zumero:network_connection_failed");
  // The local change is still pending and goes up once a server is there.
  ServerProcess server;
  CHECK(a.sync_error(server.url(), "nowhere") == "");
  Client b(dir.path() / "b.db");
  b.sync_complete(server.url(), "nowhere");
  CHECK(b.dump("t") == a.dump("t"));
}

// What a connection keeps between syncs (its own connection to the file, the lock
// file, the HTTP connection) belongs to the file a schema names at each call.
TEST_CASE("Syncs follow the file a schema names, and connections of one file see each other's syncs",
          "[sync][session]") {
  ServerProcess server;
  TempDir dir;
  Client app(dir.path() / "app.db");
  for (const char *name : {"first", "second"}) {
    Client file(dir.path() / (std::string(name) + ".db"));
    file.exec(std::string("CREATE VIRTUAL TABLE t USING zumero (k TEXT); INSERT INTO t VALUES ('") + name + "')");
  }
  auto sync_aux = [&](const std::string &dbfile) {
    return app.text("SELECT zumero_sync('aux', " + sql_quote(server.url()) + ", " + sql_quote(dbfile) + ")");
  };
  app.exec("ATTACH " + sql_quote((dir.path() / "first.db").string()) + " AS aux");
  CHECK(sync_aux("one").rfind("0;0;", 0) == 0);
  app.exec("DETACH aux");
  app.exec("ATTACH " + sql_quote((dir.path() / "second.db").string()) + " AS aux");
  CHECK(sync_aux("two").rfind("0;0;", 0) == 0);
  app.exec("DETACH aux");
  Client one(dir.path() / "one.db");
  one.sync_complete(server.url(), "one");
  CHECK(one.rows("SELECT k FROM t") == Rows{{"first"}});
  Client two(dir.path() / "two.db");
  two.sync_complete(server.url(), "two");
  CHECK(two.rows("SELECT k FROM t") == Rows{{"second"}});

  // Two connections of one file, syncing in turns: each sees what the other did.
  Client again(dir.path() / "one.db");
  one.exec("INSERT INTO t VALUES ('by one')");
  one.sync_complete(server.url(), "one");
  again.exec("INSERT INTO t VALUES ('by again')");
  again.sync_complete(server.url(), "one");
  one.sync_complete(server.url(), "one");
  CHECK(one.integer("SELECT count(*) FROM \"t$dirty\"") == 0);
  Client fresh(dir.path() / "fresh.db");
  fresh.sync_complete(server.url(), "one");
  CHECK(fresh.rows("SELECT k FROM t ORDER BY k") == Rows{{"by again"}, {"by one"}, {"first"}});
  CHECK(one.rows("SELECT k FROM t ORDER BY k") == fresh.rows("SELECT k FROM t ORDER BY k"));
}
