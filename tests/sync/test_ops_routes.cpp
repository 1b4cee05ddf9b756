// The operator's routes: GET /metrics (Prometheus text format) and GET /status (HTML),
// for users of zumero_users_admin by HTTP Basic authentication, or for anyone on the
// --metrics-listen address. Tests of one process's counters and page are tagged
// [one-node]: behind a balancer each node shows only what it served.
#include <catch2/catch.hpp>

#include <regex>

#include "ops_http.h"
#include "server/metrics.h"
#include "server/status_page.h"
#include "server/tests/server_process.h"
#include "sync_support.h"

using zumero::opstest::Exposition;
using zumero::opstest::http_get;
using zumero::opstest::parse_prometheus;
using zumero::server::Metrics;
using zumero::synctest::Client;
using zumero::synctest::Credentials;
using zumero::test::ServerProcess;
using zumero::test::TempDir;

namespace {

const std::string kAdmin = "admin:ops secret";

// A server with an administrator and a metrics listener on a free port.
struct OpsServer {
  ServerProcess server{std::vector<std::string>{"--admin-password", "ops secret", "--metrics-listen", "127.0.0.1:0"}};
  std::string metrics_url;
  OpsServer() {
    REQUIRE(server.wait_for_log("metrics listening on"));
    int port = zumero::opstest::metrics_port_from_log(server.log());
    REQUIRE(port > 0);
    metrics_url = "http://127.0.0.1:" + std::to_string(port);
  }
  Exposition metrics() const {
    auto answer = http_get(server.url() + "/metrics", kAdmin);
    REQUIRE(answer.status == 200);
    return parse_prometheus(answer.body);
  }
};

std::size_t count_of(const std::string &text, const std::string &part) {
  std::size_t count = 0;
  for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + part.size())) ++count;
  return count;
}

}  // namespace

TEST_CASE("GET /metrics and /status answer administrators only, by HTTP Basic authentication", "[ops][auth]") {
  OpsServer ops;
  for (const std::string route : {"/metrics", "/status"}) {
    INFO(route);
    const std::string url = ops.server.url() + route;
    auto anonymous = http_get(url);
    CHECK(anonymous.status == 401);
    CHECK(anonymous.headers["www-authenticate"].rfind("Basic ", 0) == 0);
    CHECK(anonymous.body.find("zumero_http") == std::string::npos);

    auto wrong_password = http_get(url, std::string("admin:not it"));
    CHECK(wrong_password.status == 401);
    CHECK(wrong_password.headers["www-authenticate"].rfind("Basic ", 0) == 0);
    CHECK(http_get(url, std::string("nobody:ops secret")).status == 401);
    CHECK(http_get(url, std::nullopt, {"Authorization: Basic !!not base64!!"}).status == 401);
    CHECK(http_get(url, std::nullopt, {"Authorization: Bearer ops secret"}).status == 401);

    auto admin = http_get(url, kAdmin);
    CHECK(admin.status == 200);
    CHECK(admin.headers["cache-control"] == "no-store");
  }
  CHECK(http_get(ops.server.url() + "/metrics", kAdmin).headers["content-type"].rfind("text/plain; version=0.0.4", 0) ==
        0);
  auto page = http_get(ops.server.url() + "/status", kAdmin);
  CHECK(page.headers["content-type"] == "text/html; charset=utf-8");
  CHECK(page.headers["content-security-policy"].find("default-src 'none'") != std::string::npos);
}

TEST_CASE("A server without zumero_users_admin answers /metrics and /status with 401 to everyone", "[ops][auth]") {
  ServerProcess server;
  CHECK(http_get(server.url() + "/metrics").status == 401);
  CHECK(http_get(server.url() + "/metrics", std::string("admin:anything")).status == 401);
  CHECK(http_get(server.url() + "/status", std::string("admin:")).status == 401);
}

TEST_CASE("The metrics listener answers /metrics, /status and /health without credentials, and nothing else",
          "[ops][auth]") {
  OpsServer ops;
  auto metrics = http_get(ops.metrics_url + "/metrics");
  REQUIRE(metrics.status == 200);
  CHECK_NOTHROW(parse_prometheus(metrics.body));
  CHECK(http_get(ops.metrics_url + "/status").status == 200);
  CHECK(http_get(ops.metrics_url + "/health").status == 200);
  CHECK(http_get(ops.metrics_url + "/pull").status == 404);
  CHECK(http_get(ops.metrics_url + "/anything").status == 404);
  // The sync routes are not served there.
  Client client(ops.server.work_dir() / "client.db");
  client.exec("CREATE VIRTUAL TABLE t USING zumero (v TEXT)");
  CHECK(client.sync_error(ops.metrics_url, "not_here") != "");
  // The main listener still asks.
  CHECK(http_get(ops.server.url() + "/metrics").status == 401);
}

TEST_CASE("/metrics is valid Prometheus text and its counters follow the traffic", "[ops][metrics][one-node]") {
  OpsServer ops;
  const Exposition before = ops.metrics();
  CHECK(before.types.at("zumero_http_requests_total") == "counter");
  CHECK(before.types.at("zumero_http_request_duration_seconds") == "histogram");
  CHECK(before.types.at("zumero_conflicts_total") == "counter");
  CHECK(before.types.at("zumero_dbfiles") == "gauge");
  CHECK(before.types.at("zumero_backup_age_seconds") == "gauge");
  for (const auto &[family, type] : before.types) CHECK(before.help.count(family) == 1);
  CHECK(before.value("zumero_backup_age_seconds") == -1);  // no backup yet
  // Which node answers, and over which backend.
  bool described = false;
  for (const auto &sample : before.samples) {
    if (sample.name != "zumero_server_info") continue;
    described = true;
    CHECK(sample.value == 1);
    auto labels = sample.labels;
    CHECK(labels["backend"] == "sqlite-files");
    CHECK(labels["node"].size() > 1);
    CHECK(labels["node"].find(':') != std::string::npos);
    CHECK(labels["node"].substr(labels["node"].rfind(':') + 1) != "0");
  }
  CHECK(described);
  CHECK(before.value("zumero_http_requests_total", {{"route", "/push"}, {"status", "200"}}) == 0);

  // Ringo and George (guide 5.1.2): two changes to one row, merged column by column.
  TempDir dir;
  Client ringo(dir.path() / "ringo.db");
  Client george(dir.path() / "george.db");
  ringo.exec("CREATE VIRTUAL TABLE foo USING zumero (a TEXT PRIMARY KEY, b INTEGER, c INTEGER);"
             "INSERT INTO foo VALUES ('bar', 17, 13), ('baz', 1, 2), ('qux', 3, 4);");
  ringo.sync_complete(ops.server.url(), "beatles");
  george.sync_complete(ops.server.url(), "beatles");
  ringo.exec("UPDATE foo SET b = 289 WHERE a = 'bar'");
  george.exec("UPDATE foo SET c = 169 WHERE a = 'bar'");
  ringo.sync_complete(ops.server.url(), "beatles");
  george.sync_complete(ops.server.url(), "beatles");
  ringo.sync_complete(ops.server.url(), "beatles");
  // A rule that rejects the next such conflict.
  ringo.exec("SELECT zumero_add_row_rule('main', 'foo', zumero_named_constant('situation_mod_after_mod'), "
             "zumero_named_constant('action_reject'), NULL)");
  ringo.sync_complete(ops.server.url(), "beatles");
  george.sync_complete(ops.server.url(), "beatles");
  ringo.exec("UPDATE foo SET b = 100 WHERE a = 'baz'");
  george.exec("UPDATE foo SET c = 200 WHERE a = 'baz'");
  ringo.sync_complete(ops.server.url(), "beatles");
  REQUIRE(george.sync_error(ops.server.url(), "beatles") == "zumero:package_rejected");

  const Exposition after = ops.metrics();
  const double pushes = after.value("zumero_http_requests_total", {{"route", "/push"}, {"status", "200"}});
  CHECK(pushes >= 5);
  CHECK(after.value("zumero_pushes_total") == pushes);
  CHECK(after.value("zumero_http_requests_total", {{"route", "/push"}, {"status", "406"}}) == 1);
  CHECK(after.value("zumero_http_requests_total", {{"route", "/pull"}, {"status", "200"}}) >= 4);
  CHECK(after.value("zumero_http_requests_total", {{"route", "/metrics"}, {"status", "200"}}) == 1);
  // 3 rows created, 2 updates, 1 rule (no rows), 1 update; George's rejected push counts none.
  CHECK(after.value("zumero_rows_pushed_total") == 6);
  // George's first pull (3 rows) and Ringo's pull of the merged row.
  CHECK(after.value("zumero_rows_pulled_total") >= 4);
  CHECK(after.value("zumero_rows_pulled_total") > before.value("zumero_rows_pulled_total"));
  CHECK(after.value("zumero_conflicts_total", {{"situation", "mod_after_mod"}, {"action", "column_merge"}}) == 1);
  CHECK(after.value("zumero_conflicts_total", {{"situation", "mod_after_mod"}, {"action", "reject"}}) == 1);
  CHECK(after.value("zumero_conflicts_total", {{"situation", "del_after_mod"}, {"action", "ignore"}}) == 0);
  // beatles, zumero_log and zumero_users_admin.
  CHECK(after.value("zumero_dbfiles") == 3);
  CHECK(after.value("zumero_dbfile_bytes") > 3 * 4096);

  double push_requests = 0;
  for (const auto &sample : after.samples)
    if (sample.name == "zumero_http_requests_total" && sample.labels.at("route") == "/push") push_requests += sample.value;
  CHECK(after.value("zumero_http_request_duration_seconds_count", {{"route", "/push"}}) == push_requests);
  CHECK(after.value("zumero_http_request_duration_seconds_sum", {{"route", "/push"}}) > 0);
  CHECK(after.value("zumero_http_received_bytes_total", {{"route", "/push"}}) >
        before.value("zumero_http_received_bytes_total", {{"route", "/push"}}) + 500);
  CHECK(after.value("zumero_http_sent_bytes_total", {{"route", "/pull"}}) > 500);
  CHECK(after.value("zumero_http_sent_bytes_total", {{"route", "/metrics"}}) >= 1000);  // the first scrape
}

TEST_CASE("/status lists the dbfiles, the recent requests and errors, and a chart of syncs, all escaped",
          "[ops][status][one-node]") {
  OpsServer ops;
  TempDir dir;
  Client client(dir.path() / "client.db");
  client.exec("CREATE VIRTUAL TABLE notes USING zumero (title TEXT NOT NULL, body TEXT);"
              "INSERT INTO notes VALUES ('hello', 'world');");
  client.sync_complete(ops.server.url(), "field_notes");
  client.exec("INSERT INTO notes VALUES ('again', 'and again');");
  client.sync_complete(ops.server.url(), "field_notes");
  // A user name and a path with markup in them, both refused.
  Client intruder(dir.path() / "intruder.db");
  intruder.exec("CREATE VIRTUAL TABLE t USING zumero (v TEXT)");
  CHECK(intruder.sync_error(ops.server.url(), "field_notes",
                            Credentials::internal("zumero_users_admin", "<b>mallory</b>&\"'", "guess")) ==
        "zumero:authentication_failed");
  CHECK(http_get(ops.server.url() + "/<script>alert(1)</script>").status == 404);

  auto page = http_get(ops.server.url() + "/status", kAdmin);
  REQUIRE(page.status == 200);
  const std::string &html = page.body;
  INFO(html.substr(0, 4000));
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(html.find("<tr class=\"dbfile\"><td class=\"wrap\">field_notes</td>") != std::string::npos);
  CHECK(html.find(">zumero_users_admin</td>") != std::string::npos);
  CHECK(html.find("<p id=\"node\">node ") != std::string::npos);
  CHECK(html.find(", storage sqlite-files</p>") != std::string::npos);
  // No script, no external asset.
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("src=") == std::string::npos);
  CHECK(html.find("href=") == std::string::npos);
  // Markup from requests arrives escaped.
  CHECK(html.find("<b>mallory") == std::string::npos);
  CHECK(html.find("&lt;b&gt;mallory&lt;/b&gt;&amp;&quot;&#39;") != std::string::npos);
  CHECK(html.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
  CHECK(html.find("authentication_failed") != std::string::npos);
  // Recent requests name the dbfile of each sync.
  CHECK(count_of(html, "<td class=\"wrap\">field_notes</td>") >= 3);
  // The chart: 60 minutes, the syncs of this test in the newest ones.
  CHECK(html.find("<svg id=\"syncs-chart\"") != std::string::npos);
  CHECK(count_of(html, "<g class=\"minute\"") == 60);
  CHECK(count_of(html, "<rect class=\"bar-pull\"") == 60);
  std::smatch total;
  REQUIRE(std::regex_search(html, total, std::regex("data-total=\"([0-9]+)\"")));
  CHECK(std::stoi(total[1].str()) >= 4);  // at least two pushes and two pulls
}

TEST_CASE("Metrics keeps syncs per minute, the rings of recent requests and errors, and the last backup",
          "[ops][unit]") {
  Metrics metrics;
  const auto now = Metrics::SystemClock::now();
  auto request = [&](const std::string &path, int status, std::chrono::minutes ago, const std::string &dbfile = "d",
                     const std::string &user = "") {
    Metrics::RequestRecord record;
    record.time = now - ago;
    record.method = "POST";
    record.path = path;
    record.status = status;
    record.dbfile = dbfile;
    record.user = user;
    metrics.record_request(record);
  };
  request("/push", 200, std::chrono::minutes(0));
  request("/pull", 304, std::chrono::minutes(0));
  request("/pull", 200, std::chrono::minutes(2));
  request("/push", 202, std::chrono::minutes(0));  // one part of several: not a sync
  request("/pull", 200, std::chrono::minutes(61));  // older than the chart
  auto minutes = metrics.syncs_per_minute(now);
  REQUIRE(minutes.size() == 60);
  CHECK(minutes.back().pushes == 1);
  CHECK(minutes.back().pulls == 1);
  CHECK(minutes[57].pulls == 1);
  std::uint64_t total = 0;
  for (const auto &minute : minutes) total += minute.pushes + minute.pulls;
  CHECK(total == 3);
  // An hour later the slot is reused: the old minute's count is not shown as the new
  // minute's, and the new minute starts from zero.
  CHECK(metrics.syncs_per_minute(now + std::chrono::minutes(60)).back().pushes == 0);
  request("/push", 200, -std::chrono::minutes(60));
  CHECK(metrics.syncs_per_minute(now + std::chrono::minutes(60)).back().pushes == 1);

  for (int i = 0; i < 150; ++i) request("/pull", i % 2 ? 200 : 500, std::chrono::minutes(0), "d" + std::to_string(i));
  request("/health", 200, std::chrono::minutes(0));   // routine: counted, not listed
  request("/metrics", 200, std::chrono::minutes(0));  // routine
  request("/status", 401, std::chrono::minutes(0), "");  // the challenge before credentials
  request("/metrics", 401, std::chrono::minutes(0), "", "mallory");  // refused credentials are listed
  auto recent = metrics.recent_requests();
  REQUIRE(recent.size() == Metrics::kRecentRequests);
  CHECK(recent.front().path == "/metrics");
  CHECK(recent.front().status == 401);
  CHECK(recent.front().user == "mallory");
  CHECK(recent[1].dbfile == "d149");
  auto errors = metrics.recent_errors();
  REQUIRE(errors.size() == Metrics::kRecentErrors);
  CHECK(errors[1].dbfile == "d148");
  for (const auto &error : errors) CHECK(error.status >= 400);
  CHECK(metrics.errors_total() == 77);
  CHECK(metrics.requests_total() == 6 + 150 + 4);
  CHECK(metrics.last_syncs().at("d149") == now);

  CHECK_FALSE(metrics.last_backup());
  metrics.set_last_backup(now - std::chrono::seconds(90));
  REQUIRE(metrics.last_backup());
  Exposition exposition = parse_prometheus(metrics.prometheus_text({2, 8192}));
  CHECK(exposition.value("zumero_backup_age_seconds") >= 90);
  CHECK(exposition.value("zumero_backup_age_seconds") < 90 + 3600);
  CHECK(exposition.value("zumero_dbfiles") == 2);
  CHECK(exposition.value("zumero_dbfile_bytes") == 8192);
  CHECK(exposition.value("zumero_http_requests_total", {{"route", "other"}, {"status", "200"}}) == 0);
  CHECK(exposition.value("zumero_http_requests_total", {{"route", "/pull"}, {"status", "500"}}) == 75);
}

TEST_CASE("Label values and page text are escaped", "[ops][unit]") {
  using zumero::server::html_escape;
  using zumero::server::prometheus_label_value;
  CHECK(prometheus_label_value("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
  Exposition read = parse_prometheus("# TYPE x counter\nx{v=\"" + prometheus_label_value("a\\b\"c\nd") + "\"} 1\n");
  CHECK(read.samples.at(0).labels.at("v") == "a\\b\"c\nd");
  CHECK_THROWS(parse_prometheus("# TYPE x counter\nx{v=\"a\"b\"} 1\n"));
  CHECK_THROWS(parse_prometheus("x 1\n"));                                  // no TYPE
  CHECK_THROWS(parse_prometheus("# TYPE x counter\nx 1\n# TYPE y gauge\ny 1\nx 2\n"));  // family split

  CHECK(html_escape("<a href=\"x\">&'</a>") == "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
  CHECK(html_escape("caf\xC3\xA9 \xE2\x82\xAC") == "caf\xC3\xA9 \xE2\x82\xAC");      // valid UTF-8 stays
  CHECK(html_escape("bad \xC3 byte") == "bad \xEF\xBF\xBD byte");                   // a cut sequence
  CHECK(html_escape("nul\x01") == "nul\xEF\xBF\xBD");
  CHECK(html_escape("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");      // a surrogate
}
