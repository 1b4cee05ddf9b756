// The libpq wrapper (server/pg_client.h) against real private PostgreSQL clusters
// (server/tests/pg_cluster.h).
#include "server/pg_client.h"
#include "server/tests/pg_cluster.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using zumero::server::pg::Isolation;
using zumero::server::pg::Param;
using zumero::server::pg::PgConnection;
using zumero::server::pg::PgError;
using zumero::server::pg::PgPool;
using zumero::server::pg::sqlstate_means_unavailable;
using zumero::test::PgCluster;
using Transaction = PgConnection::Transaction;
using namespace std::chrono_literals;

namespace {

#define SKIP_WITHOUT_POSTGRESQL()                                            \
  do {                                                                       \
    if (!PgCluster::available()) {                                           \
      WARN("PostgreSQL is not installed (no initdb found): test skipped"); \
      return;                                                                \
    }                                                                        \
  } while (false)

// One cluster for every test that leaves the server running.
PgCluster &shared_cluster() {
  static std::unique_ptr<PgCluster> cluster = std::make_unique<PgCluster>();
  return *cluster;
}

// The tests that stop, restart or kill the server share another one.
PgCluster &restart_cluster() {
  static std::unique_ptr<PgCluster> cluster = std::make_unique<PgCluster>();
  cluster->start();  // in case an earlier test failed while it was down
  return *cluster;
}

std::optional<PgError> pg_error_from(const std::function<void()> &action) {
  try {
    action();
  } catch (const PgError &error) {
    return error;
  }
  return std::nullopt;
}

// Polls `condition` until it holds; false when it still does not after `timeout`.
bool eventually(const std::function<bool()> &condition, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

bool process_gone(std::int64_t pid) { return kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH; }

std::int64_t backend_pid(PgConnection &connection) {
  return connection.exec("SELECT pg_backend_pid()").integer(0, 0);
}

std::string every_byte_value() {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  return std::string(1, '\0') + bytes + bytes + std::string(3, '\0');
}

}  // namespace

// ---------------------------------------------------------------------------------
// Parameters and results

TEST_CASE("text parameters round-trip quotes, backslashes and unicode", "[postgresql]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgConnection db(shared_cluster().conninfo());
  const std::string tricky = "it's \"quoted\" \\ back\\slash; $1 -- ?\n\t\xC3\xBC\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80";
  auto result = db.exec("SELECT $1::text, length($1::text), $2::text", {Param::text(tricky), Param::text("")});
  REQUIRE(result.rows() == 1);
  REQUIRE(result.columns() == 3);
  CHECK(result.text(0, 0) == tricky);
  CHECK(result.integer(0, 1) == 44);  // characters, not bytes: the encoding is UTF8
  CHECK(result.text(0, 2).empty());
  CHECK_FALSE(result.is_null(0, 2));
}

TEST_CASE("an untyped text parameter takes the type its place asks for", "[postgresql]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgConnection db(shared_cluster().conninfo());
  db.exec("CREATE TEMP TABLE numbers (n integer)");
  db.exec("INSERT INTO numbers VALUES (1), (2), (3)");
  auto result = db.exec("SELECT count(*) FROM numbers WHERE n >= $1", {Param::text("2")});
  CHECK(result.integer(0, 0) == 2);
  auto error = pg_error_from([&] { db.exec("SELECT count(*) FROM numbers WHERE n = $1", {Param::text("two")}); });
  REQUIRE(error);
  CHECK(error->sqlstate() == "22P02");  // invalid_text_representation
}

TEST_CASE("integer parameters round-trip at the int64 limits", "[postgresql]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgConnection db(shared_cluster().conninfo());
  for (std::int64_t value : {INT64_MIN, INT64_C(-1), INT64_C(0), INT64_C(42), INT64_MAX}) {
    auto result = db.exec("SELECT $1, pg_typeof($1)::text", {Param::integer(value)});
    CHECK(result.integer(0, 0) == value);
    CHECK(result.text(0, 1) == "bigint");
  }
  // A bigint parameter goes into and compares with an integer column.
  db.exec("CREATE TEMP TABLE small (n integer)");
  db.exec("INSERT INTO small VALUES ($1)", {Param::integer(7)});
  CHECK(db.exec("SELECT count(*) FROM small WHERE n = $1", {Param::integer(7)}).integer(0, 0) == 1);
  auto error = pg_error_from([&] { db.exec("INSERT INTO small VALUES ($1)", {Param::integer(INT64_MAX)}); });
  REQUIRE(error);
  CHECK(error->sqlstate() == "22003");  // numeric_value_out_of_range
}

TEST_CASE("bytea parameters carry every byte value, NUL included", "[postgresql]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgConnection db(shared_cluster().conninfo());
  const std::string blob = every_byte_value();
  auto direct = db.exec("SELECT $1, octet_length($1)", {Param::bytes(blob)});
  CHECK(direct.bytes(0, 0) == blob);
  CHECK(direct.integer(0, 1) == static_cast<std::int64_t>(blob.size()));

  db.exec("CREATE TEMP TABLE blobs (id integer PRIMARY KEY, body bytea)");
  db.exec("INSERT INTO blobs VALUES (1, $1), (2, $2)", {Param::bytes(blob), Param::bytes("")});
  auto stored = db.exec("SELECT body, body IS NULL FROM blobs ORDER BY id");
  REQUIRE(stored.rows() == 2);
  CHECK(stored.bytes(0, 0) == blob);
  CHECK(stored.bytes(1, 0).empty());
  CHECK(stored.text(1, 1) == "f");  // empty, not NULL
  // The server sees the same bytes: compare there too.
  CHECK(db.exec("SELECT body = $1 FROM blobs WHERE id = 1", {Param::bytes(blob)}).text(0, 0) == "t");
}

TEST_CASE("NULL parameters and NULL cells", "[postgresql]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgConnection db(shared_cluster().conninfo());
  auto result = db.exec("SELECT $1::text IS NULL, $1::text, $2::bytea", {Param::null(), Param::null()});
  CHECK(result.text(0, 0) == "t");
  CHECK(result.is_null(0, 1));
  CHECK(result.is_null(0, 2));
  // The typed accessors refuse NULL instead of inventing a value.
  CHECK_THROWS_AS(result.text(0, 1), PgError);
  CHECK_THROWS_AS(result.integer(0, 1), PgError);
  CHECK_THROWS_AS(result.bytes(0, 2), PgError);
}

TEST_CASE("typed accessors refuse cells that do not fit", "[postgresql]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgConnection db(shared_cluster().conninfo());
  auto result = db.exec("SELECT 'abc'::text, 1.5::numeric, '12x'::text, 99999999999999999999::numeric, ' 7'::text");
  for (int column = 0; column < result.columns(); ++column) {
    INFO("column " << column);
    auto error = pg_error_from([&] { result.integer(0, column); });
    REQUIRE(error);
    CHECK_FALSE(error->unavailable());
  }
  CHECK_THROWS_AS(result.text(1, 0), std::out_of_range);
  CHECK_THROWS_AS(result.text(0, 5), std::out_of_range);
  CHECK_THROWS_AS(result.is_null(-1, 0), std::out_of_range);
}

TEST_CASE("affected() counts rows and command() gives the tag", "[postgresql]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgConnection db(shared_cluster().conninfo());
  db.exec("CREATE TEMP TABLE counted (n integer)");
  auto inserted = db.exec("INSERT INTO counted SELECT generate_series(1, 5)");
  CHECK(inserted.affected() == 5);
  CHECK(inserted.command() == "INSERT 0 5");
  CHECK(db.exec("UPDATE counted SET n = n + 1 WHERE n > $1", {Param::integer(2)}).affected() == 3);
  CHECK(db.exec("DELETE FROM counted WHERE n > 100").affected() == 0);
  CHECK(db.exec("SET search_path TO public, pg_temp").affected() == 0);
}

TEST_CASE("a text parameter with a NUL is refused before it is sent", "[postgresql]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgConnection db(shared_cluster().conninfo());
  auto error = pg_error_from([&] { db.exec("SELECT $1::text", {Param::text(std::string("a\0b", 3))}); });
  REQUIRE(error);
  CHECK(error->sqlstate() == "22021");
  CHECK_FALSE(error->unavailable());
  CHECK_FALSE(db.broken());
}

// ---------------------------------------------------------------------------------
// Errors

TEST_CASE("a syntax error is 42601, not unavailable, and the connection goes on", "[postgresql]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgConnection db(shared_cluster().conninfo());
  auto error = pg_error_from([&] { db.exec("SELEC 1"); });
  REQUIRE(error);
  CHECK(error->sqlstate() == "42601");
  CHECK_FALSE(error->unavailable());
  CHECK_FALSE(error->serialization_failure());
  CHECK(std::string(error->what()).find("syntax error") != std::string::npos);
  CHECK_FALSE(db.broken());
  CHECK(db.exec("SELECT 1").integer(0, 0) == 1);
}

TEST_CASE("exec runs one statement: a second one in the string is refused", "[postgresql]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgConnection db(shared_cluster().conninfo());
  db.exec("CREATE TABLE one_statement (n integer)");
  auto error = pg_error_from([&] { db.exec("INSERT INTO one_statement VALUES (1); DROP TABLE one_statement"); });
  REQUIRE(error);
  CHECK(error->sqlstate() == "42601");
  CHECK(db.exec("SELECT count(*) FROM one_statement").integer(0, 0) == 0);
  db.exec("DROP TABLE one_statement");
}

TEST_CASE("a parameter is a value, never SQL", "[postgresql]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgConnection db(shared_cluster().conninfo());
  db.exec("CREATE TEMP TABLE names (name text)");
  const std::string attack = "x'); DROP TABLE names; --";
  db.exec("INSERT INTO names VALUES ($1)", {Param::text(attack)});
  auto result = db.exec("SELECT name FROM names");
  REQUIRE(result.rows() == 1);
  CHECK(result.text(0, 0) == attack);
}

TEST_CASE("a unique violation is 23505", "[postgresql]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgConnection db(shared_cluster().conninfo());
  db.exec("CREATE TEMP TABLE keys (k text PRIMARY KEY)");
  db.exec("INSERT INTO keys VALUES ($1)", {Param::text("a")});
  auto error = pg_error_from([&] { db.exec("INSERT INTO keys VALUES ($1)", {Param::text("a")}); });
  REQUIRE(error);
  CHECK(error->sqlstate() == "23505");
  CHECK_FALSE(error->unavailable());
  CHECK_FALSE(db.broken());
}

TEST_CASE("which SQLSTATEs mean the server is unavailable", "[pg_client]") {
  for (const char *state : {"08000", "08006", "08P01", "53000", "53100", "53200", "53300", "57P01", "57P02", "57P03"}) {
    INFO(state);
    CHECK(sqlstate_means_unavailable(state));
  }
  for (const char *state : {"", "42601", "23505", "40001", "40P01", "57014", "57P04", "25P02", "0800"}) {
    INFO(state);
    CHECK_FALSE(sqlstate_means_unavailable(state));
  }
  CHECK(PgError("x", "40001", false).serialization_failure());
  CHECK(PgError("x", "40P01", false).serialization_failure());
  CHECK_FALSE(PgError("x", "23505", false).serialization_failure());
}

TEST_CASE("connections name themselves zumero-server unless the conninfo says otherwise", "[postgresql]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgConnection plain(shared_cluster().conninfo());
  CHECK(plain.exec("SELECT current_setting('application_name')").text(0, 0) == "zumero-server");
  CHECK(plain.exec("SELECT current_setting('client_encoding')").text(0, 0) == "UTF8");
  PgConnection named(shared_cluster().conninfo() + "?application_name=other");
  CHECK(named.exec("SELECT current_setting('application_name')").text(0, 0) == "other");
}

// ---------------------------------------------------------------------------------
// Transactions

TEST_CASE("a transaction that is not committed leaves nothing", "[postgresql]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgConnection db(shared_cluster().conninfo());
  db.exec("CREATE TEMP TABLE ledger (n integer)");
  {
    Transaction tx(db);
    db.exec("INSERT INTO ledger VALUES (1)");
    CHECK(db.in_transaction());
  }
  CHECK_FALSE(db.in_transaction());
  CHECK(db.exec("SELECT count(*) FROM ledger").integer(0, 0) == 0);

  try {
    Transaction tx(db);
    db.exec("INSERT INTO ledger VALUES (2)");
    throw std::runtime_error("the caller gives up");
  } catch (const std::runtime_error &) {
  }
  CHECK(db.exec("SELECT count(*) FROM ledger").integer(0, 0) == 0);

  {
    Transaction tx(db);
    db.exec("INSERT INTO ledger VALUES (3)");
    tx.commit();
  }
  CHECK(db.exec("SELECT n FROM ledger").integer(0, 0) == 3);
}

TEST_CASE("commit after a failed statement throws 25P02 and keeps nothing", "[postgresql]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgConnection db(shared_cluster().conninfo());
  db.exec("CREATE TEMP TABLE unique_ledger (n integer PRIMARY KEY)");
  Transaction tx(db);
  db.exec("INSERT INTO unique_ledger VALUES (1)");
  CHECK(pg_error_from([&] { db.exec("INSERT INTO unique_ledger VALUES (1)"); }));  // caught, and the caller goes on
  auto error = pg_error_from([&] { tx.commit(); });
  REQUIRE(error);
  CHECK(error->sqlstate() == "25P02");
  CHECK_FALSE(db.in_transaction());
  CHECK(db.exec("SELECT count(*) FROM unique_ledger").integer(0, 0) == 0);
}

TEST_CASE("a transaction cannot be opened inside another", "[postgresql]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgConnection db(shared_cluster().conninfo());
  Transaction outer(db);
  CHECK_THROWS_AS(Transaction(db), std::logic_error);
  CHECK(db.in_transaction());
}

TEST_CASE("a concurrent update under REPEATABLE READ is a serialization failure", "[postgresql]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgConnection first(shared_cluster().conninfo());
  PgConnection second(shared_cluster().conninfo());
  first.exec("DROP TABLE IF EXISTS rr_counter");
  first.exec("CREATE TABLE rr_counter (id integer PRIMARY KEY, value integer)");
  first.exec("INSERT INTO rr_counter VALUES (1, 0)");

  Transaction tx(second, Isolation::repeatable_read);
  CHECK(second.exec("SELECT value FROM rr_counter WHERE id = 1").integer(0, 0) == 0);  // takes the snapshot
  first.exec("UPDATE rr_counter SET value = 1 WHERE id = 1");
  auto error = pg_error_from([&] { second.exec("UPDATE rr_counter SET value = 2 WHERE id = 1"); });
  REQUIRE(error);
  CHECK(error->sqlstate() == "40001");
  CHECK(error->serialization_failure());
  CHECK_FALSE(error->unavailable());
  CHECK_FALSE(second.broken());
  first.exec("DROP TABLE rr_counter");
}

TEST_CASE("SELECT ... FOR UPDATE makes a second transaction wait for the first", "[postgresql]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgConnection first(shared_cluster().conninfo());
  PgConnection second(shared_cluster().conninfo());
  PgConnection observer(shared_cluster().conninfo());
  first.exec("DROP TABLE IF EXISTS locked_counter");
  first.exec("CREATE TABLE locked_counter (id integer PRIMARY KEY, value integer)");
  first.exec("INSERT INTO locked_counter VALUES (1, 0)");
  const std::int64_t first_pid = backend_pid(first);
  const std::int64_t second_pid = backend_pid(second);

  std::mutex events_mutex;
  std::vector<std::string> events;
  auto record = [&](const std::string &event) {
    std::lock_guard<std::mutex> lock(events_mutex);
    events.push_back(event);
  };

  std::optional<Transaction> first_tx;
  first_tx.emplace(first);
  first.exec("SELECT value FROM locked_counter WHERE id = 1 FOR UPDATE");

  std::exception_ptr second_failure;
  std::thread second_thread([&] {
    try {
      Transaction tx(second);
      auto seen = second.exec("SELECT value FROM locked_counter WHERE id = 1 FOR UPDATE").integer(0, 0);
      record("second locked the row and saw " + std::to_string(seen));
      second.exec("UPDATE locked_counter SET value = value + 10 WHERE id = 1");
      tx.commit();
    } catch (...) {
      second_failure = std::current_exception();
    }
  });

  // The server itself says the second transaction waits on the first one's lock.
  bool second_blocked = eventually([&] {
    return observer.exec("SELECT $1::integer = ANY(pg_blocking_pids($2::integer))",
                         {Param::integer(first_pid), Param::integer(second_pid)})
               .text(0, 0) == "t";
  });
  first.exec("UPDATE locked_counter SET value = value + 1 WHERE id = 1");
  record("first commits");
  first_tx->commit();
  second_thread.join();

  REQUIRE(second_blocked);
  if (second_failure) std::rethrow_exception(second_failure);
  CHECK(events == std::vector<std::string>{"first commits", "second locked the row and saw 1"});
  CHECK(observer.exec("SELECT value FROM locked_counter WHERE id = 1").integer(0, 0) == 11);
  observer.exec("DROP TABLE locked_counter");
}

// ---------------------------------------------------------------------------------
// The pool

TEST_CASE("the pool hands an idle connection out again", "[postgresql]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgPool pool(shared_cluster().conninfo());
  std::int64_t first_pid = 0;
  {
    auto lease = pool.lease();
    first_pid = backend_pid(*lease);
  }
  CHECK(pool.idle_count() == 1);
  auto again = pool.lease();
  CHECK(backend_pid(*again) == first_pid);
  CHECK(pool.idle_count() == 0);
  // Two leases at the same time are two connections.
  auto other = pool.lease();
  CHECK(backend_pid(*other) != first_pid);
}

TEST_CASE("the pool keeps at most max_idle connections", "[postgresql]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgPool pool(shared_cluster().conninfo(), 2);
  {
    std::vector<PgPool::Lease> leases;
    for (int i = 0; i < 4; ++i) leases.push_back(pool.lease());
  }
  CHECK(pool.idle_count() == 2);
}

TEST_CASE("a transaction left open is rolled back before the connection is reused", "[postgresql]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgPool pool(shared_cluster().conninfo());
  {
    auto lease = pool.lease();
    lease->exec("CREATE TEMP TABLE abandoned (n integer)");
    lease->exec("BEGIN");
    lease->exec("INSERT INTO abandoned VALUES (1)");
  }
  REQUIRE(pool.idle_count() == 1);
  auto lease = pool.lease();
  CHECK_FALSE(lease->in_transaction());
  CHECK(lease->exec("SELECT count(*) FROM abandoned").integer(0, 0) == 0);
}

TEST_CASE("request threads share one pool", "[postgresql]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgPool pool(shared_cluster().conninfo(), 2);
  std::atomic<int> wrong{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        try {
          auto lease = pool.lease();
          std::int64_t n = t * 1000 + i;
          if (lease->exec("SELECT $1 + 1", {Param::integer(n)}).integer(0, 0) != n + 1) ++wrong;
        } catch (const std::exception &) {
          ++failed;
        }
      }
    });
  }
  for (auto &thread : threads) thread.join();
  CHECK(wrong == 0);
  CHECK(failed == 0);
  CHECK(pool.idle_count() <= 2);
}

// ---------------------------------------------------------------------------------
// A server that goes away

TEST_CASE("a stopped server is unavailable, and the pool recovers once it is back", "[postgresql]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgCluster &cluster = restart_cluster();
  PgPool pool(cluster.conninfo());
  {
    auto lease = pool.lease();
    CHECK(lease->exec("SELECT 1").integer(0, 0) == 1);
    cluster.stop();
    auto error = pg_error_from([&] { lease->exec("SELECT 1"); });
    REQUIRE(error);
    CHECK(error->unavailable());
    CHECK(lease->broken());
  }
  CHECK(pool.idle_count() == 0);  // the broken connection was not given back

  auto connect_error = pg_error_from([&] { PgConnection fresh(cluster.conninfo()); });
  REQUIRE(connect_error);
  CHECK(connect_error->unavailable());
  CHECK(connect_error->sqlstate().empty());
  auto lease_error = pg_error_from([&] { pool.lease(); });
  REQUIRE(lease_error);
  CHECK(lease_error->unavailable());

  cluster.start();
  auto lease = pool.lease();
  CHECK(lease->exec("SELECT 1").integer(0, 0) == 1);
}

TEST_CASE("idle connections closed by a server restart are skipped", "[postgresql]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgCluster &cluster = restart_cluster();
  PgPool pool(cluster.conninfo());
  std::int64_t old_pid = 0;
  {
    auto first = pool.lease();
    auto second = pool.lease();
    old_pid = backend_pid(*first);
    backend_pid(*second);
  }
  REQUIRE(pool.idle_count() == 2);
  cluster.restart();
  auto lease = pool.lease();  // not one of the two dead ones
  CHECK(pool.idle_count() == 0);
  CHECK(backend_pid(*lease) != old_pid);
}

TEST_CASE("after kill_hard(), start() recovers what was committed", "[postgresql]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgCluster &cluster = restart_cluster();
  PgConnection db(cluster.conninfo());
  db.exec("DROP TABLE IF EXISTS survivors");
  db.exec("CREATE TABLE survivors (n integer)");
  db.exec("INSERT INTO survivors SELECT generate_series(1, 3)");
  std::int64_t backend = backend_pid(db);
  pid_t postmaster = cluster.postmaster_pid();

  cluster.kill_hard();
  CHECK_FALSE(cluster.running());
  // Killed and reaped: no process (not even a zombie) is left.
  CHECK(process_gone(postmaster));
  CHECK(process_gone(backend));
  auto error = pg_error_from([&] { db.exec("SELECT 1"); });
  REQUIRE(error);
  CHECK(error->unavailable());
  CHECK(db.broken());

  cluster.start();
  CHECK(cluster.log().find("automatic recovery in progress") != std::string::npos);
  PgConnection after(cluster.conninfo());
  CHECK(after.exec("SELECT count(*) FROM survivors").integer(0, 0) == 3);
  after.exec("DROP TABLE survivors");
}

// ---------------------------------------------------------------------------------
// The fixture itself

TEST_CASE("create_database makes a database conninfo reaches, whatever its name", "[postgresql]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgCluster &cluster = shared_cluster();
  const std::string name = "zumero \"odd\"/name";
  cluster.create_database(name);
  PgConnection db(cluster.conninfo(name));
  CHECK(db.exec("SELECT current_database()").text(0, 0) == name);
}

TEST_CASE("a destroyed cluster leaves no process and no directory behind", "[postgresql]") {
  SKIP_WITHOUT_POSTGRESQL();
  std::optional<PgConnection> db;  // outlives the cluster: its backend is running at shutdown
  pid_t postmaster = -1;
  std::int64_t backend = 0;
  std::filesystem::path directory;
  {
    PgCluster cluster;
    CHECK(cluster.port() != shared_cluster().port());
    db.emplace(cluster.conninfo());
    backend = backend_pid(*db);
    postmaster = cluster.postmaster_pid();
    directory = cluster.directory();
  }
  CHECK(process_gone(postmaster));
  CHECK(process_gone(backend));
  const char *keep = std::getenv("ZUMERO_KEEP_TEST_DIRS");
  if (!keep || std::string(keep) != "1") CHECK_FALSE(std::filesystem::exists(directory));
  CHECK(pg_error_from([&] { db->exec("SELECT 1"); })->unavailable());
}
