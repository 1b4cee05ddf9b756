// Several zumero-server nodes sharing one PostgreSQL (--store): reads on any node see
// what any node acknowledged, concurrent creation of one dbfile, a node killed during a
// stream of pushes or between PostgreSQL's commit and its answer, PostgreSQL restarted
// or crashed during traffic, a node that lost its copies (stopped or running), the one
// server log all nodes write, and multi-part pushes whose parts reach different nodes.
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

// Labels that are not exactly once in the client's table t.
Rows duplicated_labels(Client &client) {
  return client.rows("SELECT label, count(*) FROM t GROUP BY label HAVING count(*) <> 1 ORDER BY label");
}

// The acknowledged labels `client` does not have.
std::vector<std::string> missing_labels(Client &client, const std::vector<std::string> &labels) {
  std::set<std::string> present;
  for (const auto &row : client.rows("SELECT label FROM t")) present.insert(row[0]);
  std::vector<std::string> missing;
  for (const std::string &label : labels)
    if (!present.count(label)) missing.push_back(label);
  return missing;
}

// One client inserting uniquely labelled rows and syncing in a loop, from its own
// thread. A sync that returned success acknowledged every row inserted before it.
// After a lost connection it goes on with the next of its URLs.
struct Writer {
  int id = 0;
  std::vector<std::string> urls;
  std::unique_ptr<Client> client;
  std::vector<std::string> inserted;
  std::size_t acknowledged = 0;  // inserted[0, acknowledged) were in a successful sync
  std::map<std::string, int> errors;
  int syncs = 0;
  int successes_after_event = 0;
  int failures_after_event = 0;
  std::chrono::milliseconds longest_sync{0};
  std::string failure;  // an exception that ended the loop

  std::vector<std::string> acknowledged_labels() const {
    return std::vector<std::string>(inserted.begin(), inserted.begin() + static_cast<std::ptrdiff_t>(acknowledged));
  }

  void run(const std::string &dbfile, const std::atomic<bool> &stop, const std::atomic<bool> &event) {
    std::size_t at = 0;
    try {
      for (int k = 0; !stop; ++k) {
        std::string label = "w" + std::to_string(id) + "_" + std::to_string(k);
        client->exec("INSERT INTO t (label, writer) VALUES (" + sql_quote(label) + ", " + std::to_string(id) + ")");
        inserted.push_back(label);
        bool after = event.load();
        auto started = Clock::now();
        std::string error = client->sync_error(urls[at], dbfile);
        auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
        longest_sync = std::max(longest_sync, took);
        ++syncs;
        if (error.empty()) {
          acknowledged = inserted.size();
          if (after) ++successes_after_event;
          continue;
        }
        ++errors[error];
        if (after) ++failures_after_event;
        if (error == "zumero:network_connection_failed") at = (at + 1) % urls.size();
        std::this_thread::sleep_for(20ms);
      }
    } catch (const std::exception &e) {
      failure = e.what();
    }
  }
};

std::string describe(const Writer &writer) {
  std::string text = "writer " + std::to_string(writer.id) + ": " + std::to_string(writer.syncs) + " syncs, " +
                     std::to_string(writer.inserted.size()) + " rows, " + std::to_string(writer.acknowledged) +
                     " acknowledged, longest sync " + std::to_string(writer.longest_sync.count()) + " ms";
  for (const auto &[error, count] : writer.errors) text += ", " + std::to_string(count) + " x " + error;
  if (!writer.failure.empty()) text += ", stopped by: " + writer.failure;
  return text;
}

// A raw POST /versions to one node: the status and the error identifier it answered.
std::pair<long, std::string> raw_versions(const std::string &url, const std::string &dbfile) {
  nlohmann::json header = {{"dbfile", dbfile}, {"auth", nullptr}, {"versions", nlohmann::json::array()}};
  zumero::HttpResponse response = zumero::http_post(
      url, "/versions", zumero::sync::seal_envelope({header.dump(), std::string()}), "application/x-zumero", 30);
  nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
  return {response.status, body.is_object() ? body.value("error", "") : std::string()};
}

std::int64_t version_on(const std::string &url, const std::string &dbfile) {
  return zumero::synctest::current_version(url, dbfile).value_or(-1);
}

// The newest record PostgreSQL holds for `dbfile` (0 when it has none).
std::int64_t recorded_seq(const ServerProcess &server, const std::string &dbfile) {
  zumero::server::pg::PgConnection db(server.store_conninfo());
  zumero::server::pg::PgResult row =
      db.exec("SELECT seq FROM zumero_dbfiles WHERE name = $1", {zumero::server::pg::Param::text(dbfile)});
  return row.rows() ? row.integer(0, 0) : 0;
}

// How many answers of each HTTP status one node gave since it started, from its
// /metrics (read with administrator credentials "admin:<password>").
std::map<std::string, double> answers_by_status(const std::string &node_url, const std::string &admin) {
  zumero::opstest::HttpAnswer answer = zumero::opstest::http_get(node_url + "/metrics", admin);
  REQUIRE(answer.status == 200);
  std::map<std::string, double> counts;
  for (const auto &sample : zumero::opstest::parse_prometheus(answer.body).samples)
    if (sample.name == "zumero_http_requests_total") counts[sample.labels.at("status")] += sample.value;
  return counts;
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

TEST_CASE("multinode: a push acknowledged by one node is seen at once by a pull through another",
          "[sync][postgresql][multinode]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgCluster cluster;
  ServerProcess server(nodes_over(cluster));
  TempDir dir;
  Client a(dir.path() / "a.db");
  Client b(dir.path() / "b.db");
  a.exec(std::string(kLabelTable) + "; INSERT INTO t VALUES ('created on node 0', 0)");
  a.sync_complete(server.node_url(0), "ryw");
  // The dbfile made on node 0 is there for the others.
  CHECK(version_on(server.node_url(1), "ryw") == version_on(server.node_url(0), "ryw"));
  b.sync_complete(server.node_url(1), "ryw");
  CHECK(b.dump("t") == a.dump("t"));

  // Every direction between the three nodes, writing through one and reading through
  // the next right after the write was acknowledged.
  for (int round = 0; round < 6; ++round) {
    int writer_node = round % 3;
    int reader_node = (round + 1 + round / 3) % 3;
    Client &writer = round % 2 ? b : a;
    Client &reader = round % 2 ? a : b;
    INFO("round " << round << ": write through node " << writer_node << ", read through node " << reader_node);
    writer.exec("INSERT INTO t VALUES ('round " + std::to_string(round) + "', " + std::to_string(writer_node) + ")");
    writer.exec("UPDATE t SET writer = writer + 10 WHERE label = 'created on node 0'");
    REQUIRE(writer.sync_error(server.node_url(writer_node), "ryw") == "");
    std::int64_t acknowledged = version_on(server.node_url(writer_node), "ryw");
    CHECK(version_on(server.node_url(reader_node), "ryw") == acknowledged);
    CHECK(zumero::synctest::query_rows(server.node_url(reader_node), "ryw",
                                       "SELECT count(*) FROM t WHERE label = 'round " + std::to_string(round) + "'") ==
          Rows{{"1"}});
    REQUIRE(reader.sync_error(server.node_url(reader_node), "ryw") == "");
    CHECK(reader.dump("t") == writer.dump("t"));
  }
  CHECK(a.text("SELECT writer FROM t WHERE label = 'created on node 0'") == "60");
}

TEST_CASE("multinode: two nodes creating the same dbfile at once make one dbfile and lose nothing",
          "[sync][postgresql][multinode]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgCluster cluster;
  ServerProcess server(nodes_over(cluster));
  TempDir dir;
  constexpr int kRounds = 8;
  for (int round = 0; round < kRounds; ++round) {
    const std::string dbfile = "born_" + std::to_string(round);
    INFO(dbfile);
    Client a(dir.path() / (dbfile + "_a.db"));
    Client b(dir.path() / (dbfile + "_b.db"));
    a.exec(std::string(kLabelTable) + "; INSERT INTO t VALUES ('from a', 1)");
    b.exec(std::string(kLabelTable) + "; INSERT INTO t VALUES ('from b', 2)");
    std::atomic<int> ready{0};
    std::string error_a, error_b;
    auto at_once = [&](Client &client, int node, std::string &error) {
      ++ready;
      while (ready < 2) std::this_thread::yield();
      error = client.sync_error(server.node_url(node), dbfile);
    };
    std::thread first(at_once, std::ref(a), 0, std::ref(error_a));
    std::thread second(at_once, std::ref(b), 1, std::ref(error_b));
    first.join();
    second.join();
    CHECK(error_a == "");
    CHECK(error_b == "");
    REQUIRE(a.sync_error(server.node_url(2), dbfile) == "");
    REQUIRE(b.sync_error(server.node_url(2), dbfile) == "");
    REQUIRE(a.sync_error(server.node_url(1), dbfile) == "");

    Client fresh(dir.path() / (dbfile + "_fresh.db"));
    fresh.sync_complete(server.node_url(0), dbfile);
    CHECK(fresh.rows("SELECT label, writer FROM t ORDER BY label") == Rows{{"from a", "1"}, {"from b", "2"}});
    CHECK(a.dump("t") == fresh.dump("t"));
    CHECK(b.dump("t") == fresh.dump("t"));
  }
  // One row per dbfile in PostgreSQL, each made once.
  zumero::server::pg::PgConnection db(server.store_conninfo());
  CHECK(db.exec("SELECT count(*) FROM zumero_dbfiles WHERE name LIKE 'born\\_%'").integer(0, 0) == kRounds);
}

TEST_CASE("multinode: a node killed during a stream of pushes loses no acknowledged push",
          "[sync][postgresql][multinode]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgCluster cluster;
  ServerProcess::Options options = nodes_over(cluster);
  const std::string dbfile = "stream";
  // Pushes stay a moment inside their PostgreSQL transaction, and again after it
  // committed and before the answer, so the kill is likely to land in one of the two.
  options.env = {{"ZUMERO_TEST_PUSH_STALL_MS", "10"}, {"ZUMERO_TEST_RECORD_STALL", dbfile + ":30"}};
  ServerProcess server(options);
  TempDir dir;
  {
    Client creator(dir.path() / "creator.db");
    creator.exec(kLabelTable);
    creator.exec("INSERT INTO t VALUES ('first', -1)");
    creator.sync_complete(server.url(), dbfile);
  }

  constexpr int kDoomed = 1;
  std::vector<std::unique_ptr<Writer>> writers;
  for (int i = 0; i < 6; ++i) {
    auto writer = std::make_unique<Writer>();
    writer->id = i;
    writer->client = std::make_unique<Client>(dir.path() / ("writer" + std::to_string(i) + ".db"));
    if (i < 3) {
      // Pinned to node i, then to the others when it stops answering.
      for (int k = 0; k < 3; ++k) writer->urls.push_back(server.node_url((i + k) % 3));
    } else {
      writer->urls.push_back(server.url());  // the balancer skips a dead node
    }
    writer->client->sync_complete(writer->urls[0], dbfile);
    writers.push_back(std::move(writer));
  }

  std::atomic<bool> stop{false};
  std::atomic<bool> killed{false};
  std::vector<std::thread> threads;
  for (auto &writer : writers) threads.emplace_back([&, w = writer.get()] { w->run(dbfile, stop, killed); });
  std::this_thread::sleep_for(1500ms);
  server.kill_node(kDoomed);
  killed = true;
  std::this_thread::sleep_for(2500ms);
  stop = true;
  for (auto &thread : threads) thread.join();

  std::string report;
  for (const auto &writer : writers) report += describe(*writer) + "\n";
  INFO(report);
  for (const auto &writer : writers) CHECK(writer->failure == "");
  // The writer pinned to the dead node found another one and went on.
  CHECK(writers[kDoomed]->errors.count("zumero:network_connection_failed") == 1);
  CHECK(writers[kDoomed]->successes_after_event > 0);
  for (const auto &writer : writers) {
    CHECK(writer->successes_after_event > 0);
    // The only failures a client saw were connections the dead node dropped.
    for (const auto &[error, count] : writer->errors) CHECK(error == "zumero:network_connection_failed");
  }

  // Every acknowledged row is on the server exactly once, before the final syncs.
  Client observer(dir.path() / "observer.db");
  observer.sync_complete(server.node_url(0), dbfile);
  CHECK(duplicated_labels(observer).empty());
  std::size_t acknowledged = 0;
  for (const auto &writer : writers) {
    INFO("writer " << writer->id);
    CHECK(missing_labels(observer, writer->acknowledged_labels()).empty());
    acknowledged += writer->acknowledged;
  }
  CHECK(acknowledged > 0);

  // Everybody finishes through the surviving nodes and converges on every row, once.
  for (int pass = 0; pass < 2; ++pass)
    for (auto &writer : writers) REQUIRE(writer->client->sync_error(server.url(), dbfile) == "");
  observer.sync_complete(server.node_url(2), dbfile);
  CHECK(duplicated_labels(observer).empty());
  std::size_t written = 1;  // 'first'
  for (const auto &writer : writers) {
    CHECK(missing_labels(observer, writer->inserted).empty());
    CHECK(writer->client->dump("t") == observer.dump("t"));
    written += writer->inserted.size();
  }
  CHECK(observer.integer("SELECT count(*) FROM t") == static_cast<std::int64_t>(written));

  // The node comes back and serves the same.
  server.start_node(kDoomed);
  Client late(dir.path() / "late.db");
  late.sync_complete(server.node_url(kDoomed), dbfile);
  CHECK(late.dump("t") == observer.dump("t"));
}

TEST_CASE("multinode: a node killed after PostgreSQL committed a push, before it answered, applies it once",
          "[sync][postgresql][multinode]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgCluster cluster;
  const std::string dbfile = "acked_once";
  ServerProcess::Options options = nodes_over(cluster);
  // Every write of the dbfile waits 1.5 s between PostgreSQL's commit and the answer.
  options.env = {{"ZUMERO_TEST_RECORD_STALL", dbfile + ":1500"}};
  ServerProcess server(options);
  TempDir dir;
  Client a(dir.path() / "a.db");
  a.exec(std::string(kLabelTable) + "; INSERT INTO t VALUES ('before', 0)");
  a.sync_complete(server.node_url(0), dbfile);
  const std::int64_t version = version_on(server.node_url(0), dbfile);
  const std::int64_t seq = recorded_seq(server, dbfile);

  a.exec("INSERT INTO t VALUES ('in the window', 1)");
  std::string error;
  std::thread push([&] { error = a.sync_error(server.node_url(1), dbfile); });
  auto deadline = Clock::now() + 10s;
  while (recorded_seq(server, dbfile) == seq && Clock::now() < deadline) std::this_thread::sleep_for(10ms);
  const bool committed = recorded_seq(server, dbfile) == seq + 1;
  server.kill_node(1);  // inside the stall: the push is durable, its answer never left
  push.join();
  REQUIRE(committed);
  CHECK(error == "zumero:network_connection_failed");
  CHECK(version_on(server.node_url(0), dbfile) == version + 1);

  // The retry through another node gets the stored answer: no second version.
  REQUIRE(a.sync_error(server.node_url(2), dbfile) == "");
  CHECK(version_on(server.node_url(2), dbfile) == version + 1);
  CHECK(recorded_seq(server, dbfile) == seq + 1);
  Client fresh(dir.path() / "fresh.db");
  fresh.sync_complete(server.node_url(0), dbfile);
  CHECK(fresh.rows("SELECT label, count(*) FROM t GROUP BY label ORDER BY label") ==
        Rows{{"before", "1"}, {"in the window", "1"}});
  CHECK(fresh.dump("t") == a.dump("t"));
  // The killed node's copy never committed; back up, it serves the same.
  server.start_node(1);
  Client late(dir.path() / "late.db");
  late.sync_complete(server.node_url(1), dbfile);
  CHECK(late.dump("t") == a.dump("t"));
}

TEST_CASE("multinode: PostgreSQL restarted or crashed during traffic gives 503, then everything resumes",
          "[sync][postgresql][multinode]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgCluster cluster;
  ServerProcess server(nodes_over(cluster, {"--admin-password", "outage admin"}));
  TempDir dir;
  const std::string dbfile = "outage";
  {
    Client creator(dir.path() / "creator.db");
    creator.exec(kLabelTable);
    creator.exec("INSERT INTO t VALUES ('first', -1)");
    creator.sync_complete(server.url(), dbfile);
  }
  std::vector<std::unique_ptr<Writer>> writers;
  for (int i = 0; i < 4; ++i) {
    auto writer = std::make_unique<Writer>();
    writer->id = i;
    writer->client = std::make_unique<Client>(dir.path() / ("writer" + std::to_string(i) + ".db"));
    writer->urls.push_back(server.url());
    writer->client->sync_complete(server.url(), dbfile);
    writers.push_back(std::move(writer));
  }
  std::atomic<bool> stop{false};
  std::atomic<bool> outage{false};
  std::vector<std::thread> threads;
  for (auto &writer : writers) threads.emplace_back([&, w = writer.get()] { w->run(dbfile, stop, outage); });

  std::this_thread::sleep_for(800ms);
  outage = true;
  cluster.restart();  // fast shutdown: sessions end, connections break
  std::this_thread::sleep_for(800ms);
  cluster.kill_hard();  // a crash: the next start runs crash recovery
  std::vector<std::pair<long, std::string>> while_down;
  for (int node = 0; node < server.node_count(); ++node) while_down.push_back(raw_versions(server.node_url(node), dbfile));
  std::this_thread::sleep_for(500ms);
  cluster.start();
  std::this_thread::sleep_for(1500ms);
  stop = true;
  for (auto &thread : threads) thread.join();

  std::string report;
  for (const auto &writer : writers) report += describe(*writer) + "\n";
  INFO(report);
  for (const auto &[status, error] : while_down) {
    CHECK(status == 503);
    CHECK(error == "server_unavailable");
  }
  int failed_during_outage = 0;
  for (const auto &writer : writers) {
    CHECK(writer->failure == "");
    // A 503 is zumero:http_other for the client (guide chapter 11); nothing else happened.
    for (const auto &[error, count] : writer->errors) CHECK(error == "zumero:http_other");
    failed_during_outage += writer->failures_after_event;
    // Every sync ended within the connection timeouts, none hung on the outage.
    CHECK(writer->longest_sync < 30s);
  }
  CHECK(failed_during_outage > 0);
  // The answer when PostgreSQL is back.
  for (int node = 0; node < server.node_count(); ++node) CHECK(raw_versions(server.node_url(node), dbfile).first == 200);
  // What the nodes answered all along: 503 during the outage, never 500.
  double unavailable = 0;
  for (int node = 0; node < server.node_count(); ++node) {
    std::map<std::string, double> answers = answers_by_status(server.node_url(node), "admin:outage admin");
    INFO("node " << node);
    CHECK(answers["500"] == 0);
    unavailable += answers["503"];
  }
  CHECK(unavailable >= failed_during_outage + server.node_count());

  // Nothing acknowledged was lost, everything converges, every row once.
  Client observer(dir.path() / "observer.db");
  observer.sync_complete(server.url(), dbfile);
  CHECK(duplicated_labels(observer).empty());
  for (const auto &writer : writers) CHECK(missing_labels(observer, writer->acknowledged_labels()).empty());
  for (int pass = 0; pass < 2; ++pass)
    for (auto &writer : writers) REQUIRE(writer->client->sync_error(server.url(), dbfile) == "");
  observer.sync_complete(server.url(), dbfile);
  CHECK(duplicated_labels(observer).empty());
  for (const auto &writer : writers) {
    CHECK(missing_labels(observer, writer->inserted).empty());
    CHECK(writer->client->dump("t") == observer.dump("t"));
  }
}

TEST_CASE("multinode: a node whose data directory was deleted while stopped serves the same content",
          "[sync][postgresql][multinode]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgCluster cluster;
  ServerProcess server(nodes_over(cluster));
  TempDir dir;
  Client a(dir.path() / "a.db");
  a.exec(std::string(kLabelTable) + "; INSERT INTO t VALUES ('one', 1), ('two', 2)");
  a.sync_complete(server.node_url(1), "lost_copies");
  a.exec("UPDATE t SET writer = 20 WHERE label = 'two'; INSERT INTO t VALUES ('three', 3)");
  a.sync_complete(server.node_url(1), "lost_copies");
  REQUIRE(std::filesystem::exists(server.node_data_dir(1) / "copies" / "lost_copies.db"));

  server.stop_node(1);
  std::filesystem::remove_all(server.node_data_dir(1));
  // The others go on meanwhile.
  a.exec("DELETE FROM t WHERE label = 'one'; INSERT INTO t VALUES ('four', 4)");
  a.sync_complete(server.node_url(0), "lost_copies");
  server.start_node(1);

  Client fresh(dir.path() / "fresh.db");
  fresh.sync_complete(server.node_url(1), "lost_copies");
  CHECK(fresh.rows("SELECT label, writer FROM t ORDER BY label") ==
        Rows{{"four", "4"}, {"three", "3"}, {"two", "20"}});
  CHECK(fresh.dump("t") == a.dump("t"));
  // And it takes writes the others see.
  fresh.exec("INSERT INTO t VALUES ('five', 5)");
  REQUIRE(fresh.sync_error(server.node_url(1), "lost_copies") == "");
  a.sync_complete(server.node_url(2), "lost_copies");
  CHECK(a.dump("t") == fresh.dump("t"));
}

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

TEST_CASE("multinode: a restarted node rebuilds its copies, and all nodes write one server log",
          "[sync][postgresql][multinode]") {
  SKIP_WITHOUT_POSTGRESQL();
  PgCluster cluster;
  ServerProcess server(nodes_over(cluster, {"--admin-password", "log reader"}));
  const Credentials admin = Credentials::internal("zumero_users_admin", "admin", "log reader");
  TempDir dir;
  Client a(dir.path() / "a.db");
  a.exec(kLabelTable);
  int pushes = 0;
  for (int node = 0; node < server.node_count(); ++node) {
    a.exec("INSERT INTO t VALUES ('through node " + std::to_string(node) + "', " + std::to_string(node) + ")");
    REQUIRE(a.sync_error(server.node_url(node), "logged_everywhere") == "");
    ++pushes;
  }
  server.restart_node(2);
  // Its copies went with the restart; the first read rebuilds one from PostgreSQL.
  CHECK_FALSE(std::filesystem::exists(server.node_data_dir(2) / "copies" / "logged_everywhere.db"));
  Client b(dir.path() / "b.db");
  REQUIRE(b.sync_error(server.node_url(2), "logged_everywhere") == "");
  CHECK(std::filesystem::exists(server.node_data_dir(2) / "copies" / "logged_everywhere.db"));
  CHECK(b.dump("t") == a.dump("t"));
  b.exec("INSERT INTO t VALUES ('after the restart', 9)");
  REQUIRE(b.sync_error(server.node_url(2), "logged_everywhere") == "");
  ++pushes;
  a.sync_complete(server.node_url(0), "logged_everywhere");
  CHECK(a.dump("t") == b.dump("t"));

  // One log, whichever node it is read through.
  std::vector<Rows> logs;
  for (int node = 0; node < server.node_count(); ++node) {
    Client log(dir.path() / ("log" + std::to_string(node) + ".db"));
    log.sync_complete(server.node_url(node), "zumero_log", admin);
    INFO("log read through node " << node);
    // Three nodes started, one of them twice.
    CHECK(log.integer("SELECT count(*) FROM log WHERE url = 'SERVER_STARTUP'") == 4);
    CHECK(log.integer("SELECT count(*) FROM log WHERE url = 'CREATE_DBFILE' AND dbfile = 'logged_everywhere'") == 1);
    CHECK(log.integer("SELECT count(*) FROM log WHERE url = '/push' AND dbfile = 'logged_everywhere' AND status = 200") ==
          pushes);
    // Reading the log is logged too, so the pulls of zumero_log are left out.
    logs.push_back(log.rows("SELECT url, dbfile, status, unix_time FROM log WHERE dbfile IS NOT 'zumero_log' "
                            "ORDER BY rowid"));
  }
  CHECK(logs[1] == logs[0]);
  CHECK(logs[2] == logs[0]);
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

  // The node that took the first part dies; another one completes the push.
  REQUIRE(post_push(server.node_url(1), push_part("orphaned", 7, 1, 2, 1000)).first == 202);
  server.kill_node(1);
  REQUIRE(post_push(server.node_url(2), push_part("orphaned", 7, 2, 2, 10)).first == 200);
  CHECK(version_on(server.node_url(0), "orphaned") == 1);
  CHECK(zumero::synctest::query_rows(server.node_url(0), "orphaned", "SELECT length(k) FROM t ORDER BY length(k)") ==
        Rows{{"10"}, {"1000"}});
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
