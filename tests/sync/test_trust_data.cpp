// Regression tests for defects that lost, duplicated or corrupted synced data: row ids at
// the ends of the 64-bit range, tables with identical definitions, table names in another
// case, schema names, columns added while other clients write old-shape rows, writes
// made while a sync is on the network, and one file synced from two connections at once.
//
// Everything goes through SQL on client files with the extension loaded, against a real
// zumero-server. A write "during a sync" is made from a second connection while the
// server holds the push inside its write transaction (ZUMERO_TEST_PUSH_STALL_MS).
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "server/tests/server_process.h"
#include "server_requests.h"
#include "sync_support.h"
#include "tcp_proxy.h"

using zumero::synctest::Client;
using zumero::synctest::parse_sync_result;
using zumero::synctest::Rows;
using zumero::synctest::sql_quote;
using zumero::synctest::SyncStats;
using zumero::synctest::TcpProxy;
using zumero::test::CommandResult;
using zumero::test::ServerProcess;
using zumero::test::TempDir;
using namespace std::chrono_literals;

namespace {

const std::string kMaxRowid = "9223372036854775807";
const std::string kMinRowid = "-9223372036854775808";

ServerProcess::Options stalling_server(int milliseconds) {
  ServerProcess::Options options;
  options.env = {{"ZUMERO_TEST_PUSH_STALL_MS", std::to_string(milliseconds)}};
  return options;
}

std::string named(const std::string &constant) { return "zumero_named_constant('" + constant + "')"; }

// SELECT zumero_sync(schema, url, dbfile), one call.
SyncStats sync_schema(Client &client, const std::string &schema, const std::string &url, const std::string &dbfile) {
  return parse_sync_result(client.text("SELECT zumero_sync(" + sql_quote(schema) + ", " + sql_quote(url) + ", " +
                                       sql_quote(dbfile) + ")"));
}

// A new client file in `dir` that has synced `dbfile` completely.
std::unique_ptr<Client> fresh_client(const TempDir &dir, const std::string &url, const std::string &dbfile) {
  static int count = 0;
  auto client = std::make_unique<Client>(dir.path() / ("fresh" + std::to_string(++count) + ".db"));
  client->sync_complete(url, dbfile, 200);
  return client;
}

// Syncs until partial is 0; returns the number of zumero_sync calls (parts pulled).
int pull_in_parts(Client &client, const std::string &url, const std::string &dbfile) {
  for (int calls = 1; calls <= 500; ++calls)
    if (client.sync(url, dbfile).partial == 0) return calls;
  FAIL("the pull never completed");
  return -1;
}

bool wait_for_request(const TcpProxy &proxy, const std::string &path, std::chrono::milliseconds timeout = 20s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    for (const std::string &seen : proxy.forwarded_paths())
      if (seen == path) return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

// One sync of `client` on `schema` that a stalling server holds: `meanwhile` runs once
// the server has the push, so its writes land while the sync is on the network.
SyncStats held_sync(Client &client, const ServerProcess &server, const std::string &dbfile,
                    const std::function<void()> &meanwhile, const std::string &schema = "main") {
  TcpProxy proxy(server.port(), "");
  auto pending = std::async(std::launch::async, [&] { return sync_schema(client, schema, proxy.url(), dbfile); });
  bool held = wait_for_request(proxy, "/push");
  if (held) meanwhile();
  // The sync's apply phase holds the write lock: while it has not ended, the writes above
  // were committed before it began.
  bool during_sync = held && pending.wait_for(0s) == std::future_status::timeout;
  SyncStats stats = pending.get();
  REQUIRE(held);
  REQUIRE(during_sync);
  return stats;
}

// The output lines of a zumero_sql_runner child process (see sql_runner.cpp).
struct RunnerResult {
  int exit_code = -1;
  std::vector<std::string> lines;
  std::string output;
};

RunnerResult run_isolated(const std::filesystem::path &database, std::vector<std::string> actions,
                          std::chrono::milliseconds timeout = 20s) {
  actions.insert(actions.begin(), {ZUMERO_SQL_RUNNER_PATH, database.string()});
  CommandResult command = zumero::test::run_command(actions, timeout);
  RunnerResult result{command.exit_code, {}, command.output};
  std::istringstream in(command.output);
  for (std::string line; std::getline(in, line);) result.lines.push_back(line);
  if (command.exit_code == 128 + SIGKILL) result.output += "[killed: still running after the timeout]";
  return result;
}

std::vector<std::string> isolated_sync(const std::string &url, const std::string &dbfile) {
  return {"--sync", "main", url, dbfile};
}

// "" when `actual` holds exactly the rows of `expected`, else how they differ (a few
// examples each way), which keeps failure messages short for big tables.
std::string row_difference(const Rows &expected, const Rows &actual) {
  auto describe = [](const Rows &from, const Rows &other, const std::string &what) {
    std::set<zumero::synctest::Row> present(other.begin(), other.end());
    Rows absent;
    for (const auto &row : from)
      if (!present.count(row)) absent.push_back(row);
    if (absent.empty()) return std::string();
    Rows examples(absent.begin(), absent.begin() + std::min<std::size_t>(absent.size(), 3));
    return std::to_string(absent.size()) + " of " + std::to_string(from.size()) + " rows " + what +
           ", e.g.\n" + zumero::synctest::to_string(examples);
  };
  return describe(expected, actual, "missing") + describe(actual, expected, "unexpected");
}

}  // namespace

// ---------------------------------------------------------------------------------------
// 1. INTEGER PRIMARY KEY values of 0 and below.

TEST_CASE("Rows with an INTEGER PRIMARY KEY of 0 or below reach every client", "[sync][trust]") {
  const char *const kRandomRows =
      "CREATE VIRTUAL TABLE k USING zumero (id INTEGER PRIMARY KEY, x TEXT);"
      "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 300) "
      "INSERT INTO k SELECT random(), 'r' || n FROM s;";
  TempDir dir;
  Client a(dir.path() / "a.db");
  SECTION("0, negative and positive") {
    ServerProcess server;
    a.exec("CREATE VIRTUAL TABLE k USING zumero (id INTEGER PRIMARY KEY, x TEXT);"
           "INSERT INTO k VALUES (0, 'z'), (-5, 'n'), (7, 'p');");
    a.sync_complete(server.url(), "ipk_low");
    auto fresh = fresh_client(dir, server.url(), "ipk_low");
    CHECK(fresh->rows("SELECT id, x FROM k ORDER BY id") == Rows{{"-5", "n"}, {"0", "z"}, {"7", "p"}});
  }
  SECTION("300 random ids") {
    ServerProcess server;
    a.exec(kRandomRows);
    a.sync_complete(server.url(), "ipk_random");
    auto fresh = fresh_client(dir, server.url(), "ipk_random");
    CHECK(row_difference(a.dump("k"), fresh->dump("k")) == "");
  }
  SECTION("300 random ids, pulled in several parts") {
    ServerProcess server({"--pull-chunk-bytes", "2000"});
    a.exec(kRandomRows);
    a.sync_complete(server.url(), "ipk_parts");
    Client fresh(dir.path() / "parts.db");
    CHECK(pull_in_parts(fresh, server.url(), "ipk_parts") >= 2);
    CHECK(row_difference(a.dump("k"), fresh.dump("k")) == "");
  }
}

// ---------------------------------------------------------------------------------------
// 2. A row at rowid 2^63-1. Every write of such a row, and every sync or quarantine of
//    one, runs in a child process with resource limits: the failures guarded against are
//    signed overflows (fatal under the sanitizers) and loops over the whole id space.

namespace {

// `setup` creates `table` with a row at 2^63-1 in a.db: a plain insert then gets an
// unused positive id, locally and on the server, and a client that pulls both rows
// stays small and keeps syncing.
void check_insert_after_max(const TempDir &dir, const std::string &table, const std::string &setup) {
  ServerProcess server;
  const std::filesystem::path file = dir.path() / "a.db";
  RunnerResult written =
      run_isolated(file, {"--sql", setup, "--sql", "INSERT INTO " + table + " (x) VALUES ('next')"});
  CHECK(written.output == "");
  Client a(file);
  const std::string next = "SELECT rowid FROM " + table + " WHERE x = 'next'";
  CHECK(a.integer(next) > 0);
  CHECK(a.integer("SELECT count(DISTINCT rowid) FROM " + table) == 2);

  RunnerResult pushed = run_isolated(file, isolated_sync(server.url(), "rowid_max"));
  INFO("pushing client: " << pushed.output);
  REQUIRE(pushed.exit_code == 0);
  const std::filesystem::path puller = dir.path() / "puller.db";
  for (int round = 0; round < 4; ++round) {
    RunnerResult pulled = run_isolated(puller, isolated_sync(server.url(), "rowid_max"));
    INFO("pulling client, sync " << round << ": " << pulled.output);
    REQUIRE(pulled.exit_code == 0);
  }
  CHECK(std::filesystem::file_size(puller) < 5u << 20);
  CHECK(std::filesystem::file_size(file) < 5u << 20);
  Client pulled(puller);
  CHECK(pulled.dump(table) == a.dump(table));
  CHECK(pulled.integer(next) > 0);
  CHECK(pulled.text("SELECT x FROM " + table + " WHERE rowid = " + kMaxRowid) == "max");
}

}  // namespace

TEST_CASE("A row at rowid 2^63-1 neither wraps new ids nor stalls sync and quarantine", "[sync][trust]") {
  TempDir dir;
  SECTION("INTEGER PRIMARY KEY") {
    check_insert_after_max(dir, "k",
                           "CREATE VIRTUAL TABLE k USING zumero (id INTEGER PRIMARY KEY, x TEXT);"
                           "INSERT INTO k VALUES (" + kMaxRowid + ", 'max');");
  }
  SECTION("hidden rowid") {
    check_insert_after_max(dir, "t",
                           "CREATE VIRTUAL TABLE t USING zumero (x TEXT);"
                           "INSERT INTO t (rowid, x) VALUES (" + kMaxRowid + ", 'max');");
  }
  SECTION("quarantine of unsynced rows at both ends") {
    ServerProcess server;
    Client a(dir.path() / "a.db");
    a.exec("CREATE VIRTUAL TABLE k USING zumero (id INTEGER PRIMARY KEY, x TEXT)");
    a.sync_complete(server.url(), "rowid_ends");
    RunnerResult written = run_isolated(a.file(), {"--sql", "INSERT INTO k VALUES (" + kMaxRowid + ", 'max')", "--sql",
                                                   "INSERT INTO k VALUES (" + kMinRowid + ", 'min')"});
    REQUIRE(written.output == "");
    RunnerResult quarantined =
        run_isolated(a.file(), {"--sql", "SELECT zumero_quarantine_since_last_sync('main')"}, 10s);
    INFO("quarantine: " << quarantined.output);
    REQUIRE(quarantined.exit_code == 0);
    REQUIRE(quarantined.lines.size() == 1);
    const std::string qid = quarantined.lines[0];
    CHECK(std::stoll(qid) > 0);
    CHECK(a.integer("SELECT count(*) FROM k") == 0);
    RunnerResult restored =
        run_isolated(a.file(), {"--sql", "SELECT zumero_restore_quarantine('main', " + qid + ")"}, 10s);
    INFO("restore: " << restored.output);
    REQUIRE(restored.exit_code == 0);
    CHECK(a.rows("SELECT x FROM k ORDER BY x") == Rows{{"max"}, {"min"}});
  }
}

// ---------------------------------------------------------------------------------------
// 3. Two tables with identical definitions.

TEST_CASE("Tables with identical definitions are all created and altered on every client", "[sync][trust]") {
  ServerProcess server;
  TempDir dir;
  Client a(dir.path() / "a.db");
  Client b(dir.path() / "b.db");
  a.exec("CREATE VIRTUAL TABLE inbox USING zumero (msg TEXT);"
         "CREATE VIRTUAL TABLE outbox USING zumero (msg TEXT);"
         "INSERT INTO inbox VALUES ('in'); INSERT INTO outbox VALUES ('out');");
  a.sync_complete(server.url(), "twins");
  REQUIRE(b.sync_error(server.url(), "twins") == "");
  CHECK(b.rows("SELECT msg FROM inbox") == Rows{{"in"}});
  CHECK(b.rows("SELECT msg FROM outbox") == Rows{{"out"}});
  CHECK(fresh_client(dir, server.url(), "twins")->rows("SELECT msg FROM outbox") == Rows{{"out"}});

  a.exec("SELECT zumero_alter_table_add_column('main', 'inbox', 'n INTEGER');"
         "SELECT zumero_alter_table_add_column('main', 'outbox', 'n INTEGER');");
  a.reopen();
  a.exec("UPDATE inbox SET n = 1; UPDATE outbox SET n = 2;");
  a.sync_complete(server.url(), "twins");
  REQUIRE(b.sync_error(server.url(), "twins") == "");
  b.reopen();
  auto fresh = fresh_client(dir, server.url(), "twins");
  fresh->reopen();
  for (Client *c : {&b, fresh.get()}) {
    CHECK(c->rows("SELECT msg, n FROM inbox") == Rows{{"in", "1"}});
    CHECK(c->rows("SELECT msg, n FROM outbox") == Rows{{"out", "2"}});
  }
}

// ---------------------------------------------------------------------------------------
// 4. Table names are case-insensitive.

TEST_CASE("Table names in mixed case keep every row and every reference", "[sync][trust]") {
  TempDir dir;
  SECTION("a pull in several parts over alpha, Notes and zeta") {
    ServerProcess server({"--pull-chunk-bytes", "2000"});
    Client a(dir.path() / "a.db");
    for (const std::string table : {"alpha", "Notes", "zeta"})
      // Each definition differs (its column's name), so only the case is under test.
      a.exec("CREATE VIRTUAL TABLE " + table + " USING zumero (id INTEGER PRIMARY KEY, " + table + "_body TEXT);"
             "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 100) "
             "INSERT INTO " + table + " SELECT n, 'a row of " + table + " number ' || n FROM s;");
    a.sync_complete(server.url(), "cases");
    Client fresh(dir.path() / "fresh.db");
    CHECK(pull_in_parts(fresh, server.url(), "cases") >= 3);
    for (const std::string table : {"alpha", "Notes", "zeta"}) {
      INFO("table " << table);
      CHECK(row_difference(a.dump(table), fresh.dump(table)) == "");
    }
  }
  SECTION("a foreign key that names its table in another case") {
    ServerProcess server;
    Client a(dir.path() / "a.db");
    Client b(dir.path() / "b.db");
    a.exec("CREATE VIRTUAL TABLE Parent USING zumero (id INTEGER PRIMARY KEY, label TEXT);"
           "CREATE VIRTUAL TABLE child USING zumero "
           "(id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parent, label TEXT);");
    a.sync_complete(server.url(), "fk_case");
    b.sync_complete(server.url(), "fk_case");
    for (auto [client, owner] : {std::pair<Client *, std::string>{&a, "a"}, {&b, "b"}})
      client->exec("INSERT INTO Parent (label) VALUES ('parent of " + owner + "');"
                   "INSERT INTO child (parent, label) "
                   "SELECT id, 'child of " + owner + "' FROM Parent WHERE label = 'parent of " + owner + "';");
    REQUIRE(a.integer("SELECT id FROM Parent") == b.integer("SELECT id FROM Parent"));
    for (int round = 0; round < 2; ++round)
      for (Client *c : {&a, &b}) c->sync_complete(server.url(), "fk_case");
    auto fresh = fresh_client(dir, server.url(), "fk_case");
    const Rows expected{{"child of a", "parent of a"}, {"child of b", "parent of b"}};
    const std::string pairs = "SELECT c.label, p.label FROM child c JOIN Parent p ON p.id = c.parent ORDER BY c.label";
    CHECK(a.rows(pairs) == expected);
    CHECK(b.rows(pairs) == expected);
    CHECK(fresh->rows(pairs) == expected);
  }
}

// ---------------------------------------------------------------------------------------
// 5. Schema names are not baked into a file.

TEST_CASE("A zumero file works under any schema name", "[sync][trust]") {
  TempDir dir;
  const std::filesystem::path file = dir.path() / "file.db";
  const std::string attach = "ATTACH " + sql_quote(file.string()) + " AS aux";
  auto create = [](const std::string &prefix) {
    return "CREATE VIRTUAL TABLE " + prefix + "t USING zumero (k TEXT PRIMARY KEY, v INTEGER)";
  };
  SECTION("(a) created as main, written and synced as aux") {
    ServerProcess server;
    {
      Client original(file);
      original.exec(create("") + "; INSERT INTO t VALUES ('one', 1), ('two', 2);");
      original.sync_complete(server.url(), "schemas");
    }
    Client host(dir.path() / "host.db");
    host.exec(attach);
    host.exec("INSERT INTO aux.t VALUES ('three', 3)");
    host.exec("UPDATE aux.t SET v = 20 WHERE k = 'two'");
    host.exec("DELETE FROM aux.t WHERE k = 'one'");
    CHECK(host.rows("SELECT k, v FROM aux.t ORDER BY k") == Rows{{"three", "3"}, {"two", "20"}});
    REQUIRE(sync_schema(host, "aux", server.url(), "schemas").partial == 0);
    CHECK(fresh_client(dir, server.url(), "schemas")->rows("SELECT k, v FROM t ORDER BY k") ==
          Rows{{"three", "3"}, {"two", "20"}});
  }
  SECTION("(b) created as aux, written and synced as main") {
    ServerProcess server;
    {
      Client host(dir.path() / "host.db");
      host.exec(attach);
      host.exec(create("aux.") + "; INSERT INTO aux.t VALUES ('one', 1);");
    }
    Client direct(file);
    direct.exec("INSERT INTO t VALUES ('two', 2)");
    direct.exec("UPDATE t SET v = 10 WHERE k = 'one'");
    REQUIRE(direct.sync_error(server.url(), "schemas") == "");
    CHECK(fresh_client(dir, server.url(), "schemas")->rows("SELECT k, v FROM t ORDER BY k") ==
          Rows{{"one", "10"}, {"two", "2"}});
  }
  SECTION("(c) attached as aux, a write during the sync reaches the server next") {
    ServerProcess server(stalling_server(600));
    {
      Client original(file);
      original.exec(create("") + "; INSERT INTO t VALUES ('one', 1);");
      original.sync_complete(server.url(), "schemas");
    }
    Client syncing(dir.path() / "host1.db");
    Client writing(dir.path() / "host2.db");
    syncing.exec(attach);
    writing.exec(attach);
    syncing.exec("INSERT INTO aux.t VALUES ('pushed', 2)");
    held_sync(
        syncing, server, "schemas",
        [&] {
          writing.exec("INSERT INTO aux.t VALUES ('late', 3)");
          writing.exec("UPDATE aux.t SET v = 10 WHERE k = 'one'");
          writing.exec("UPDATE aux.t SET v = 20 WHERE k = 'pushed'");
        },
        "aux");
    REQUIRE(sync_schema(syncing, "aux", server.url(), "schemas").partial == 0);
    CHECK(fresh_client(dir, server.url(), "schemas")->rows("SELECT k, v FROM t ORDER BY k") ==
          Rows{{"late", "3"}, {"one", "10"}, {"pushed", "20"}});
  }
}

// ---------------------------------------------------------------------------------------
// 6. A column added while other clients still write rows without it.

TEST_CASE("Old-shape rows pushed after a column was added get its default", "[sync][trust]") {
  ServerProcess server;
  TempDir dir;
  Client a(dir.path() / "a.db");
  Client b(dir.path() / "b.db");
  a.exec("CREATE VIRTUAL TABLE t USING zumero (id INTEGER PRIMARY KEY, who TEXT)");
  a.sync_complete(server.url(), "added");
  b.sync_complete(server.url(), "added");
  auto add_column = [&](const std::string &definition) {
    a.exec("SELECT zumero_alter_table_add_column('main', 't', " + sql_quote(definition) + ")");
    a.reopen();
  };
  // B, which has not synced since the column was added, inserts a row and syncs.
  auto old_shape_insert = [&] {
    b.exec("INSERT INTO t (who) VALUES ('b')");
    REQUIRE(b.sync_error(server.url(), "added") == "");
    b.sync_complete(server.url(), "added");
    a.sync_complete(server.url(), "added");
    b.reopen();
  };
  auto check_everywhere = [&](const std::string &sql, const Rows &expected) {
    auto fresh = fresh_client(dir, server.url(), "added");
    fresh->reopen();
    CHECK(a.rows(sql) == expected);
    CHECK(b.rows(sql) == expected);
    CHECK(fresh->rows(sql) == expected);
  };
  SECTION("DEFAULT 'dflt'") {
    add_column("c TEXT DEFAULT 'dflt'");
    a.sync_complete(server.url(), "added");
    old_shape_insert();
    check_everywhere("SELECT who, c FROM t", Rows{{"b", "dflt"}});
  }
  SECTION("NOT NULL DEFAULT 'dflt'") {
    add_column("c TEXT NOT NULL DEFAULT 'dflt'");
    a.sync_complete(server.url(), "added");
    old_shape_insert();
    check_everywhere("SELECT who, c FROM t", Rows{{"b", "dflt"}});
  }
  SECTION("a renumbered old-shape insert does not take another row's value") {
    add_column("c TEXT DEFAULT 'dflt'");
    a.exec("INSERT INTO t (who, c) VALUES ('a', 'secret')");
    REQUIRE(a.integer("SELECT id FROM t WHERE who = 'a'") == 1);
    a.sync_complete(server.url(), "added");
    REQUIRE(b.integer("SELECT count(*) FROM t") == 0);
    old_shape_insert();
    check_everywhere("SELECT who, c FROM t ORDER BY who", Rows{{"a", "secret"}, {"b", "dflt"}});
  }
}

// ---------------------------------------------------------------------------------------
// 7. Writes made while a sync is on the network go through the conflict rules.

namespace {

// Clients A and X of one dbfile on a stalling server, sharing row r of t; n is an empty
// INTEGER PRIMARY KEY table. A has a second connection for writes during its syncs.
struct SharedRow {
  explicit SharedRow(const std::string &extra_setup = "")
      : server(stalling_server(600)), a(dir.path() / "a.db"), a_late(dir.path() / "a.db"), x(dir.path() / "x.db") {
    a.exec("CREATE VIRTUAL TABLE t USING zumero (k TEXT PRIMARY KEY, v TEXT);"
           "CREATE VIRTUAL TABLE n USING zumero (id INTEGER PRIMARY KEY, who TEXT);"
           "INSERT INTO t VALUES ('r', 'original');" +
           extra_setup);
    a.sync_complete(url(), dbfile);
    x.sync_complete(url(), dbfile);
  }
  const std::string &url() const { return server.url(); }
  // X changes the row and syncs; A, which has not pulled that, starts a held sync (with
  // a change of its own to push) and writes `late` from its second connection meanwhile.
  SyncStats x_then_late_a(const std::string &x_change, const std::string &late) {
    x.exec(x_change);
    x.sync_complete(url(), dbfile);
    a.exec("INSERT INTO t VALUES ('a pending', 'pushed by the held sync')");
    return held_sync(a, server, dbfile, [&] { a_late.exec(late); });
  }
  // Everyone syncs twice; returns the last quarantine id one of A's syncs reported, or 0.
  std::int64_t sync_everyone() {
    std::int64_t quarantined = 0;
    for (int round = 0; round < 2; ++round) {
      if (std::int64_t id = a.sync_complete(url(), dbfile).quarantine) quarantined = id;
      x.sync_complete(url(), dbfile);
    }
    return quarantined;
  }
  void check_everywhere(const std::string &sql, const Rows &expected) {
    auto fresh = fresh_client(dir, url(), dbfile);
    CHECK(a.rows(sql) == expected);
    CHECK(x.rows(sql) == expected);
    CHECK(fresh->rows(sql) == expected);
  }

  const std::string dbfile = "late";
  ServerProcess server;
  TempDir dir;
  Client a;
  Client a_late;
  Client x;
};

const char *const kRowR = "SELECT k, v FROM t WHERE k = 'r'";

// Random inserts, updates and deletes of one writer's own rows of t(k, v), whose keys
// start with `prefix`; `rows` is the state the writer last left them in.
struct OwnRows {
  OwnRows(std::string prefix, unsigned seed) : prefix(std::move(prefix)), random(seed) {}
  std::string prefix;
  std::mt19937 random;
  std::map<std::string, int> rows;
  int serial = 0;

  void change(Client &c) {
    int choice = static_cast<int>(random() % 4);
    int value = static_cast<int>(random() % 1000);
    if (rows.empty() || choice < 2) {
      std::string key = prefix + std::to_string(++serial);
      c.exec("INSERT INTO t VALUES ('" + key + "', " + std::to_string(value) + ")");
      rows[key] = value;
      return;
    }
    auto row = std::next(rows.begin(), static_cast<long>(random() % rows.size()));
    if (choice == 2) {
      c.exec("UPDATE t SET v = " + std::to_string(value) + " WHERE k = '" + row->first + "'");
      row->second = value;
    } else {
      c.exec("DELETE FROM t WHERE k = '" + row->first + "'");
      rows.erase(row);
    }
  }
  Rows expected() const {
    Rows result;
    for (const auto &row : rows) result.push_back({row.first, std::to_string(row.second)});
    return result;
  }
};

// Errors of work done in threads, reported by the main thread afterwards.
class ThreadErrors {
public:
  template <typename Work>
  void capture(const std::string &who, Work &&work) {
    try {
      work();
    } catch (const std::exception &failure) {
      std::lock_guard<std::mutex> guard(mutex_);
      errors_.push_back(who + ": " + failure.what());
    }
  }
  template <typename Work>
  std::thread run(const std::string &who, Work work) {
    return std::thread([this, who, work] { capture(who, work); });
  }
  bool any() {
    std::lock_guard<std::mutex> guard(mutex_);
    return !errors_.empty();
  }
  std::vector<std::string> all() {
    std::lock_guard<std::mutex> guard(mutex_);
    return errors_;
  }

private:
  std::mutex mutex_;
  std::vector<std::string> errors_;
};

}  // namespace

TEST_CASE("Writes made while a sync is on the network go through the conflict rules", "[sync][trust]") {
  SECTION("(a) mod_after_mod with action_ignore: X's update stays") {
    SharedRow s("SELECT zumero_add_row_rule('main', NULL, " + named("situation_mod_after_mod") + ", " +
                named("action_ignore") + ", NULL);");
    s.x_then_late_a("UPDATE t SET v = 'from x' WHERE k = 'r'", "UPDATE t SET v = 'from a' WHERE k = 'r'");
    s.sync_everyone();
    s.check_everywhere(kRowR, Rows{{"r", "from x"}});
  }
  SECTION("(b) mod_after_mod with action_reject: A's late update is quarantined") {
    SharedRow s("SELECT zumero_add_row_rule('main', NULL, " + named("situation_mod_after_mod") + ", " +
                named("action_reject") + ", NULL);");
    SyncStats held =
        s.x_then_late_a("UPDATE t SET v = 'from x' WHERE k = 'r'", "UPDATE t SET v = 'from a' WHERE k = 'r'");
    std::int64_t later = s.sync_everyone();
    CHECK((held.quarantine != 0 || later != 0));
    CHECK(s.a.integer("SELECT count(*) FROM t$q WHERE package IS NOT NULL") >= 1);
    s.check_everywhere(kRowR, Rows{{"r", "from x"}});
  }
  SECTION("(c) default del_after_mod: A's late delete is ignored") {
    SharedRow s;
    s.x_then_late_a("UPDATE t SET v = 'from x' WHERE k = 'r'", "DELETE FROM t WHERE k = 'r'");
    s.sync_everyone();
    s.check_everywhere(kRowR, Rows{{"r", "from x"}});
  }
  SECTION("(d) a late update of A's own renumbered row stays on A's row") {
    SharedRow s;
    s.x.exec("INSERT INTO n (who) VALUES ('x')");
    s.x.sync_complete(s.url(), s.dbfile);
    s.a.exec("INSERT INTO n (who) VALUES ('a')");
    REQUIRE(s.a.integer("SELECT id FROM n WHERE who = 'a'") == 1);
    held_sync(s.a, s.server, s.dbfile, [&] {
      s.a_late.exec("UPDATE n SET who = 'a, updated' WHERE id = 1");
      s.a_late.exec("INSERT INTO n (who) VALUES ('a, second')");
    });
    s.sync_everyone();
    s.check_everywhere("SELECT who FROM n ORDER BY who", Rows{{"a, second"}, {"a, updated"}, {"x"}});
    s.check_everywhere("SELECT id FROM n WHERE who = 'x'", Rows{{"1"}});
  }
  SECTION("(e) a background sync loop while two clients write their own rows") {
    ServerProcess server(stalling_server(20));
    TempDir dir;
    Client main_db(dir.path() / "main.db");
    Client other(dir.path() / "other.db");
    main_db.exec("CREATE VIRTUAL TABLE t USING zumero (k TEXT PRIMARY KEY, v INTEGER)");
    main_db.sync_complete(server.url(), "background");
    other.sync_complete(server.url(), "background");

    ThreadErrors errors;
    std::atomic<bool> writing{true};
    std::atomic<int> background_syncs{0};
    std::thread background = errors.run("background sync", [&] {
      Client syncing(main_db.file());
      while (writing || background_syncs < 20) {
        syncing.sync_complete(server.url(), "background");
        ++background_syncs;
      }
    });
    OwnRows theirs("o", 7);
    std::thread other_writer = errors.run("other client", [&] {
      while (writing) {
        for (int op = 0; op < 5; ++op) theirs.change(other);
        other.sync_complete(server.url(), "background");
      }
    });
    OwnRows mine("m", 11);
    errors.capture("main thread", [&] {
      for (int op = 0; op < 300 || (background_syncs < 20 && !errors.any()); ++op) {
        mine.change(main_db);
        std::this_thread::sleep_for(1ms);
      }
    });
    writing = false;
    background.join();
    other_writer.join();
    for (const std::string &error : errors.all()) FAIL_CHECK(error);

    for (int round = 0; round < 2; ++round)
      for (Client *c : {&main_db, &other}) c->sync_complete(server.url(), "background");
    auto fresh = fresh_client(dir, server.url(), "background");
    CHECK(row_difference(mine.expected(), fresh->rows("SELECT k, v FROM t WHERE k LIKE 'm%'")) == "");
    CHECK(row_difference(theirs.expected(), fresh->rows("SELECT k, v FROM t WHERE k LIKE 'o%'")) == "");
    CHECK(row_difference(fresh->dump("t"), main_db.dump("t")) == "");
    CHECK(row_difference(fresh->dump("t"), other.dump("t")) == "");
  }
}

// ---------------------------------------------------------------------------------------
// 8. Two connections syncing one file at the same moment.

TEST_CASE("Two connections syncing one file at once push its rows once", "[sync][trust]") {
  constexpr int kRows = 20000;
  ServerProcess server;
  TempDir dir;
  Client a(dir.path() / "a.db");
  a.exec("CREATE VIRTUAL TABLE t USING zumero (id INTEGER PRIMARY KEY, v TEXT);"
         "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 20000) "
         "INSERT INTO t (v) SELECT 'row ' || n FROM s;");
  std::string outcome;  // what the two syncs said, for failure messages
  SECTION("two threads") {
    Client second(a.file());
    std::atomic<int> ready{0};
    auto sync_at_once = [&](Client &c) {
      ++ready;
      while (ready < 2) std::this_thread::yield();
      return c.sync_error(server.url(), "twice");
    };
    auto first_sync = std::async(std::launch::async, sync_at_once, std::ref(a));
    auto second_sync = std::async(std::launch::async, sync_at_once, std::ref(second));
    // Whether the later of two simultaneous syncs may fail is not specified; duplicates are.
    outcome = "first sync: '" + first_sync.get() + "', second sync: '" + second_sync.get() + "'";
  }
  SECTION("two processes") {
    const std::filesystem::path go = dir.path() / "go";
    auto sync_process = [&] {
      return run_isolated(a.file(), {"--wait-for", go.string(), "--sync", "main", server.url(), "twice"}, 60s);
    };
    auto first_sync = std::async(std::launch::async, sync_process);
    auto second_sync = std::async(std::launch::async, sync_process);
    std::this_thread::sleep_for(300ms);  // both started and waiting
    std::ofstream(go).put('\n');
    RunnerResult first = first_sync.get();
    RunnerResult second = second_sync.get();
    outcome = "first process: " + first.output + "second process: " + second.output;
    INFO(outcome);
    // Each one either synced or reported an error: none hung or crashed.
    CHECK((first.exit_code == 0 || first.exit_code == 1));
    CHECK((second.exit_code == 0 || second.exit_code == 1));
  }
  INFO(outcome);
  a.sync_complete(server.url(), "twice");
  CHECK(zumero::synctest::query_rows(server.url(), "twice", "SELECT count(*), count(DISTINCT v) FROM \"z$t\"") ==
        Rows{{std::to_string(kRows), std::to_string(kRows)}});
  auto fresh = fresh_client(dir, server.url(), "twice");
  CHECK(fresh->integer("SELECT count(*) FROM t") == kRows);
  CHECK(a.integer("SELECT count(*) FROM t") == kRows);
}
