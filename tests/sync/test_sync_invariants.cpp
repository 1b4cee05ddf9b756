// The invariants of the sync model against a real server: atomic push (server killed
// inside the push's write transaction), idempotent retry after a lost reply, pull cost
// proportional to the changes, staged multi-part pulls, and rebase of local changes made
// while a sync was on the network.
#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <thread>

#include "server/tests/server_process.h"
#include "sync_support.h"
#include "tcp_proxy.h"

using zumero::synctest::Client;
using zumero::synctest::Rows;
using zumero::synctest::TcpProxy;
using zumero::test::ServerProcess;
using zumero::test::TempDir;
using namespace std::chrono_literals;

namespace {

ServerProcess::Options stalling_server(int milliseconds) {
  ServerProcess::Options options;
  options.test_hooks = true;
  options.env = {{"ZUMERO_TEST_PUSH_STALL_MS", std::to_string(milliseconds)}};
  return options;
}

// Waits until the proxy forwarded a request for `path` (the client is then past its
// read phase and waiting for the server).
bool wait_for_request(const TcpProxy &proxy, const std::string &path, std::chrono::milliseconds timeout = 20s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    for (const std::string &seen : proxy.forwarded_paths())
      if (seen == path) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

}  // namespace

TEST_CASE("Atomic push: a server killed inside the push applies none of it", "[sync][invariant][atomic]") {
  ServerProcess server(stalling_server(3000));
  TempDir dir;
  Client a(dir.path() / "a.db");
  a.exec("CREATE VIRTUAL TABLE t USING zumero (k TEXT PRIMARY KEY, v INTEGER);"
         "INSERT INTO t VALUES ('base', 0);");
  a.sync_complete(server.url(), "atomic");  // stalls too, then commits
  a.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50) "
         "INSERT INTO t SELECT 'row' || i, i FROM n;"
         "UPDATE t SET v = -1 WHERE k = 'base';");

  std::string failure;
  {
    TcpProxy proxy(server.port(), "");
    auto pending = std::async(std::launch::async, [&] { return a.sync_error(proxy.url(), "atomic"); });
    REQUIRE(wait_for_request(proxy, "/push"));
    std::this_thread::sleep_for(700ms);  // well inside the 3 s stall
    server.kill_hard();
    failure = pending.get();
  }
  CHECK(failure == "zumero:network_connection_failed");

  server.restart();
  Client before(dir.path() / "before.db");
  before.sync_complete(server.url(), "atomic");
  CHECK(before.rows("SELECT k, v FROM t ORDER BY k") == Rows{{"base", "0"}});

  // The client still has its package and sends it again; all of it arrives, once.
  REQUIRE(a.sync_error(server.url(), "atomic") == "");
  Client after(dir.path() / "after.db");
  after.sync_complete(server.url(), "atomic");
  CHECK(after.integer("SELECT count(*) FROM t") == 51);
  CHECK(after.integer("SELECT count(DISTINCT k) FROM t") == 51);
  CHECK(after.integer("SELECT v FROM t WHERE k = 'base'") == -1);
  CHECK(after.dump("t") == a.dump("t"));
  // The earlier fresh client catches up to the same state.
  before.sync_complete(server.url(), "atomic");
  CHECK(before.dump("t") == a.dump("t"));
}

TEST_CASE("Idempotent push: a retry after a lost reply applies nothing twice", "[sync][invariant][idempotent]") {
  ServerProcess server;
  TempDir dir;
  Client a(dir.path() / "a.db");
  Client b(dir.path() / "b.db");
  a.exec("CREATE VIRTUAL TABLE t USING zumero (k TEXT PRIMARY KEY, v INTEGER);"
         "CREATE VIRTUAL TABLE n USING zumero (id INTEGER PRIMARY KEY, label TEXT);"
         "INSERT INTO t VALUES ('base', 0);");
  a.sync_complete(server.url(), "idem");
  b.sync_complete(server.url(), "idem");
  // B takes id 1 of n first, so A's lost push has ids to renumber.
  b.exec("INSERT INTO n (label) VALUES ('from b')");
  b.sync_complete(server.url(), "idem");

  a.exec("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 20) "
         "INSERT INTO t SELECT 'row' || i, i FROM s;"
         "INSERT INTO n (label) VALUES ('first'), ('second');"
         "UPDATE t SET v = v + 1 WHERE k = 'base';");
  {
    TcpProxy proxy(server.port(), "/push");
    CHECK(a.sync_error(proxy.url(), "idem") == "zumero:network_connection_failed");
    CHECK(proxy.dropped() == 1);
  }

  // The server applied it before the reply was lost.
  Client witness(dir.path() / "witness.db");
  witness.sync_complete(server.url(), "idem");
  CHECK(witness.integer("SELECT count(*) FROM t") == 21);
  CHECK(witness.integer("SELECT count(*) FROM n") == 3);
  b.sync_complete(server.url(), "idem");
  CHECK(b.integer("SELECT count(*) FROM t") == 21);

  // More local work before the retry: one sync sends the retry (answered from what the
  // server kept, applying nothing twice) and then the newer changes.
  a.exec("UPDATE t SET v = 500 WHERE k = 'row5'; INSERT INTO n (label) VALUES ('third');");
  REQUIRE(a.sync_error(server.url(), "idem") == "");
  CHECK(a.integer("SELECT v FROM t WHERE k = 'row5'") == 500);
  b.sync_complete(server.url(), "idem");
  CHECK(b.integer("SELECT v FROM t WHERE k = 'row5'") == 500);
  CHECK(b.integer("SELECT count(*) FROM t") == 21);
  a.sync_complete(server.url(), "idem");

  Client fresh(dir.path() / "fresh.db");
  fresh.sync_complete(server.url(), "idem");
  CHECK(fresh.integer("SELECT count(*) FROM t") == 21);
  CHECK(fresh.integer("SELECT v FROM t WHERE k = 'base'") == 1);
  CHECK(fresh.integer("SELECT v FROM t WHERE k = 'row5'") == 500);
  // Only the colliding id was renumbered (to the next free one).
  CHECK(fresh.rows("SELECT label FROM n ORDER BY label") == Rows{{"first"}, {"from b"}, {"second"}, {"third"}});
  CHECK(fresh.text("SELECT label FROM n WHERE id = 1") == "from b");
  CHECK(fresh.integer("SELECT count(DISTINCT id) FROM n") == 4);
  CHECK(fresh.dump("t") == a.dump("t"));
  CHECK(fresh.dump("n") == a.dump("n"));
  b.sync_complete(server.url(), "idem");
  CHECK(b.dump("t") == a.dump("t"));
  CHECK(b.dump("n") == a.dump("n"));
}

TEST_CASE("Pull cost follows the changes, not the table size", "[sync][invariant][pull]") {
  ServerProcess server;
  TempDir dir;
  Client a(dir.path() / "a.db");
  Client b(dir.path() / "b.db");
  a.exec("CREATE VIRTUAL TABLE big USING zumero (id INTEGER PRIMARY KEY, payload TEXT);"
         "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 20000) "
         "INSERT INTO big SELECT i, 'payload number ' || i FROM s;");
  a.sync_complete(server.url(), "bigfile");
  auto first = b.sync_complete(server.url(), "bigfile");
  REQUIRE(b.integer("SELECT count(*) FROM big") == 20000);

  a.exec("UPDATE big SET payload = 'changed' WHERE id = 12345");
  a.sync_complete(server.url(), "bigfile");
  auto small = b.sync_complete(server.url(), "bigfile");
  INFO("first pull: " << first.text << ", incremental pull: " << small.text);
  CHECK(small.bytes_down_full > 0);
  CHECK(small.bytes_down_full < 2000);
  CHECK(b.text("SELECT payload FROM big WHERE id = 12345") == "changed");
  CHECK(b.integer("SELECT count(*) FROM big") == 20000);
}

TEST_CASE("A multi-part pull is staged and applied at once", "[sync][invariant][partial]") {
  ServerProcess server({"--pull-chunk-bytes", "300"});
  TempDir dir;
  Client a(dir.path() / "a.db");
  a.exec("CREATE VIRTUAL TABLE t USING zumero (k TEXT PRIMARY KEY, v TEXT);"
         "CREATE VIRTUAL TABLE u USING zumero (id INTEGER PRIMARY KEY, w TEXT);"
         "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 300) "
         "INSERT INTO t SELECT 'key' || i, 'value ' || i FROM s;"
         "INSERT INTO u (w) VALUES ('one'), ('two');");
  a.sync_complete(server.url(), "chunks");

  Client b(dir.path() / "b.db");
  int partial_calls = 0;
  for (;;) {
    auto stats = b.sync(server.url(), "chunks");
    if (stats.partial == 0) break;
    ++partial_calls;
    REQUIRE(partial_calls < 2000);
    // Staged: nothing of the dbfile is visible yet.
    REQUIRE(b.integer("SELECT count(*) FROM sqlite_master WHERE name IN ('z$t', 'z$u', 't', 'u')") == 0);
  }
  INFO("partial calls: " << partial_calls);
  CHECK(partial_calls >= 3);
  CHECK(b.dump("t") == a.dump("t"));
  CHECK(b.dump("u") == a.dump("u"));

  // A large change to tables B already has: old values stay until the last part.
  a.exec("UPDATE t SET v = v || ' changed'; DELETE FROM u WHERE w = 'one';");
  a.sync_complete(server.url(), "chunks");
  partial_calls = 0;
  for (;;) {
    auto stats = b.sync(server.url(), "chunks");
    if (stats.partial == 0) break;
    ++partial_calls;
    REQUIRE(partial_calls < 2000);
    REQUIRE(b.integer("SELECT count(*) FROM t WHERE v LIKE '% changed'") == 0);
    REQUIRE(b.integer("SELECT count(*) FROM u") == 2);
  }
  CHECK(partial_calls >= 3);
  CHECK(b.integer("SELECT count(*) FROM t WHERE v LIKE '% changed'") == 300);
  CHECK(b.dump("t") == a.dump("t"));
  CHECK(b.dump("u") == a.dump("u"));

  // A push lands while B is between parts: B's pull still describes one version.
  a.exec("UPDATE t SET v = 'round three'");
  a.sync_complete(server.url(), "chunks");
  REQUIRE(b.sync(server.url(), "chunks").partial > 0);
  a.exec("UPDATE t SET v = 'round four' WHERE k IN ('key1', 'key300'); INSERT INTO u (w) VALUES ('late');");
  a.sync_complete(server.url(), "chunks");
  b.sync_complete(server.url(), "chunks");
  CHECK(b.integer("SELECT count(*) FROM t WHERE v = 'round three'") + b.integer("SELECT count(*) FROM t WHERE v = 'round four'") == 300);
  // Either the pull stopped at the version it started with, or it already has the newer one.
  std::int64_t newer = b.integer("SELECT count(*) FROM t WHERE v = 'round four'");
  CHECK((newer == 0 || newer == 2));
  CHECK(b.integer("SELECT count(*) FROM u WHERE w = 'late'") == (newer ? 1 : 0));
  b.sync_complete(server.url(), "chunks");
  CHECK(b.dump("t") == a.dump("t"));
  CHECK(b.dump("u") == a.dump("u"));
}

TEST_CASE("Local changes made during a sync survive it and are pushed next", "[sync][invariant][rebase]") {
  ServerProcess server(stalling_server(1500));
  TempDir dir;
  Client a(dir.path() / "a.db");
  a.exec("CREATE VIRTUAL TABLE t USING zumero (k TEXT PRIMARY KEY, v INTEGER);"
         "INSERT INTO t VALUES ('a', 1), ('b', 2);");
  a.sync_complete(server.url(), "rebase");
  {
    // Another client changes 'e' on the server; A pulls that change in the stalled sync
    // while deleting 'e' locally: del_after_mod, whose default keeps the changed row.
    Client other(dir.path() / "other.db");
    other.sync_complete(server.url(), "rebase");
    other.exec("INSERT INTO t VALUES ('e', 5)");
    other.sync_complete(server.url(), "rebase");
    a.sync_complete(server.url(), "rebase");
    other.exec("UPDATE t SET v = 55 WHERE k = 'e'");
    other.sync_complete(server.url(), "rebase");
  }
  a.exec("INSERT INTO t VALUES ('c', 3)");  // goes up with the stalled push

  Client second(a.file());
  std::string failure;
  {
    TcpProxy proxy(server.port(), "");
    auto pending = std::async(std::launch::async, [&] { return a.sync_error(proxy.url(), "rebase"); });
    REQUIRE(wait_for_request(proxy, "/push"));
    second.exec("INSERT INTO t VALUES ('d', 4)");
    second.exec("UPDATE t SET v = 20 WHERE k = 'b'");
    second.exec("UPDATE t SET v = 33 WHERE k = 'c'");
    second.exec("DELETE FROM t WHERE k = 'e'");
    failure = pending.get();
  }
  REQUIRE(failure == "");
  const Rows rebased{{"a", "1"}, {"b", "20"}, {"c", "33"}, {"d", "4"}, {"e", "55"}};
  CHECK(a.rows("SELECT k, v FROM t ORDER BY k") == rebased);
  CHECK(second.rows("SELECT k, v FROM t ORDER BY k") == rebased);

  // What the server has now: the pushed state of the stalled sync.
  Client middle(dir.path() / "middle.db");
  middle.sync_complete(server.url(), "rebase");
  CHECK(middle.rows("SELECT k, v FROM t ORDER BY k") == Rows{{"a", "1"}, {"b", "2"}, {"c", "3"}, {"e", "55"}});

  a.sync_complete(server.url(), "rebase");
  Client fresh(dir.path() / "fresh.db");
  fresh.sync_complete(server.url(), "rebase");
  CHECK(fresh.rows("SELECT k, v FROM t ORDER BY k") == rebased);
  CHECK(fresh.dump("t") == a.dump("t"));
}
