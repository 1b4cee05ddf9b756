// Several zumero-server nodes sharing one PostgreSQL (--store): a node whose data
// directory is deleted while it runs, and multi-part pushes whose parts reach
// different nodes.
//
// Each test starts its own private PostgreSQL cluster (pg_cluster.h) and its nodes, so
// these run in every build; without PostgreSQL installed they WARN and pass.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "server/pg_client.h"
#include "server/tests/pg_cluster.h"
#include "server/tests/server_process.h"
#include "server/tests/tcp_balancer.h"
#include "ops_http.h"
#include "server_requests.h"
#include "sync/http_client.h"
#include "sync/package.h"
#include "sync_support.h"

using zumero::synctest::Client;
using zumero::synctest::Credentials;
using zumero::synctest::Rows;
using zumero::synctest::sql_quote;
using zumero::test::PgCluster;
using zumero::test::ServerProcess;
using zumero::test::TempDir;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

#define SKIP_WITHOUT_POSTGRESQL()                                               \
  do {                                                                          \
    if (!PgCluster::available()) {                                              \
      WARN("PostgreSQL (initdb, postgres) is not installed: test skipped");     \
      return;                                                                   \
    }                                                                           \
  } while (false)

ServerProcess::Options nodes_over(PgCluster &cluster, std::vector<std::string> args = {}, int nodes = 3) {
  ServerProcess::Options options;
  options.store = ServerProcess::Options::Store::postgresql;
  options.cluster = &cluster;
  options.nodes = nodes;
  options.args = std::move(args);
  return options;
}

const char *const kLabelTable = "CREATE VIRTUAL TABLE t USING zumero (label TEXT, writer INTEGER)";

std::int64_t version_on(const std::string &url, const std::string &dbfile) {
  return zumero::synctest::current_version(url, dbfile).value_or(-1);
}

// Part `part` of `parts` of package `pkg` from its own client: a package of one row
// whose text is `bytes` long (the first part also creates the table).
std::string push_part(const std::string &dbfile, int pkg, int part, int parts, std::size_t bytes) {
  zumero::sync::PackageWriter package;
  if (part == 1) package.schema({0, 0, "create_table", "t", nlohmann::json::array({"k TEXT"}).dump()});
  package.begin_table("t", {"k"});
  zumero::sync::RowState row;
  row.recid = part;
  row.values = {zumero::sync::Value::of_text(std::string(bytes, 'x'))};
  package.row(row);
  nlohmann::json header = {{"dbfile", dbfile},   {"auth", nullptr},         {"client", "parts-" + std::to_string(pkg)},
                           {"base", 0},          {"base_token", nullptr},   {"pkg", 1},
                           {"parts", parts},     {"part", part},            {"digest", "d" + std::to_string(pkg)}};
  return zumero::sync::seal_envelope({header.dump(), package.take()});
}

std::pair<long, std::string> post_push(const std::string &url, const std::string &body) {
  zumero::HttpResponse response = zumero::http_post(url, "/push", body, "application/x-zumero", 30);
  nlohmann::json answer = nlohmann::json::parse(response.body, nullptr, false);
  return {response.status, answer.is_object() ? answer.value("error", "") : std::string()};
}

}  // namespace

TEST_CASE("multinode: a node whose data directory is deleted while it runs rebuilds its copies",
          "[sync][postgresql][multinode]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgCluster cluster;
  ServerProcess server(nodes_over(cluster));
  TempDir dir;
  Client a(dir.path() / "a.db");
  a.exec(std::string(kLabelTable) + "; INSERT INTO t VALUES ('one', 1), ('two', 2)");
  a.sync_complete(server.node_url(1), "wiped");
  Client reader(dir.path() / "reader.db");
  reader.sync_complete(server.node_url(1), "wiped");

  std::filesystem::remove_all(server.node_data_dir(1));
  // Writes through the node, and through another one that it must catch up with.
  a.exec("INSERT INTO t VALUES ('three', 3)");
  REQUIRE(a.sync_error(server.node_url(1), "wiped") == "");
  a.exec("UPDATE t SET writer = 20 WHERE label = 'two'");
  REQUIRE(a.sync_error(server.node_url(0), "wiped") == "");
  REQUIRE(reader.sync_error(server.node_url(1), "wiped") == "");
  CHECK(reader.dump("t") == a.dump("t"));
  Client fresh(dir.path() / "fresh.db");
  REQUIRE(fresh.sync_error(server.node_url(1), "wiped") == "");
  CHECK(fresh.rows("SELECT label, writer FROM t ORDER BY label") == Rows{{"one", "1"}, {"three", "3"}, {"two", "20"}});
  CHECK(std::filesystem::exists(server.node_data_dir(1) / "copies" / "wiped.db"));
  // A dbfile made through the node after the deletion.
  Client other(dir.path() / "other.db");
  other.exec(std::string(kLabelTable) + "; INSERT INTO t VALUES ('new', 1)");
  REQUIRE(other.sync_error(server.node_url(1), "made_after") == "");
  Client check(dir.path() / "check.db");
  check.sync_complete(server.node_url(2), "made_after");
  CHECK(check.dump("t") == other.dump("t"));
  CHECK(server.node_log(1).find("[error]") == std::string::npos);
}

TEST_CASE("multinode: a push in several parts, each through another node, arrives as one version",
          "[sync][postgresql][multinode]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgCluster cluster;
  ServerProcess server(nodes_over(cluster, {"--max-body-bytes", "65536"}));
  TempDir dir;
  Client a(dir.path() / "a.db");
  a.exec("CREATE VIRTUAL TABLE t USING zumero (id INTEGER PRIMARY KEY, payload TEXT);"
         "INSERT INTO t VALUES (1, 'small')");
  a.sync_complete(server.url(), "parts");
  const std::int64_t before = version_on(server.url(), "parts");
  // About 2 MB of hex digits from random bytes: dozens of parts, spread by the balancer.
  a.exec("WITH RECURSIVE s(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM s WHERE i < 201) "
         "INSERT INTO t SELECT i, hex(randomblob(5000)) FROM s");
  REQUIRE(a.sync_error(server.url(), "parts") == "");
  CHECK(version_on(server.url(), "parts") == before + 1);
  std::vector<std::size_t> spread = server.balancer()->connections_per_upstream();
  for (std::size_t connections : spread) CHECK(connections > 1);
  Client fresh(dir.path() / "fresh.db");
  fresh.sync_complete(server.node_url(2), "parts");
  CHECK(fresh.integer("SELECT count(*) FROM t") == 201);
  CHECK(fresh.dump("t") == a.dump("t"));
}


TEST_CASE("multinode: unfinished multi-part pushes are bounded across all nodes together",
          "[sync][postgresql][multinode]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgCluster cluster;
  ServerProcess server(nodes_over(cluster, {"--max-push-bytes", "100000"}));
  // First parts of 60 kB, each to the next node: four times --max-push-bytes holds six.
  int accepted = 0;
  std::pair<long, std::string> refused;
  int pkg = 0;
  for (; pkg < 10 && refused.first == 0; ++pkg) {
    auto answer = post_push(server.node_url(pkg % 3), push_part("capped", pkg, 1, 2, 60000));
    if (answer.first == 202) ++accepted;
    else refused = answer;
  }
  CHECK(accepted == 6);
  CHECK(refused == std::make_pair(503L, std::string("server_busy")));
  // One push completed through another node frees its part's room for the next one.
  REQUIRE(post_push(server.node_url(1), push_part("capped", 0, 2, 2, 10)).first == 200);
  CHECK(post_push(server.node_url(2), push_part("capped", pkg, 1, 2, 60000)).first == 202);
  CHECK(post_push(server.node_url(0), push_part("capped", pkg + 1, 1, 2, 60000)).first == 503);
  zumero::server::pg::PgConnection db(server.store_conninfo());
  CHECK(db.exec("SELECT count(*) FROM zumero_push_parts").integer(0, 0) == 6);
}
