// The server log (guide chapter 9): every request becomes a row of table `log` in the
// dbfile zumero_log, which a client can pull like any other dbfile.
#include <catch2/catch.hpp>

#include <ctime>

#include "server/tests/server_process.h"
#include "sync_support.h"

using zumero::synctest::Client;
using zumero::synctest::Credentials;
using zumero::synctest::Rows;
using zumero::test::ServerProcess;
using zumero::test::TempDir;

TEST_CASE("The server log records startups, dbfile creation, pushes and pulls", "[sync][log]") {
  ServerProcess server({"--admin-password", "log reader"});
  const Credentials admin = Credentials::internal("zumero_users_admin", "admin", "log reader");
  TempDir dir;
  Client a(dir.path() / "a.db");
  Client b(dir.path() / "b.db");
  a.exec("CREATE VIRTUAL TABLE t USING zumero (k TEXT PRIMARY KEY, v TEXT);"
         "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 50) "
         "INSERT INTO t SELECT 'key' || i, 'some repetitive text to compress ' || i FROM s;");
  a.sync_complete(server.url(), "logged");
  b.sync_complete(server.url(), "logged");
  b.sync_complete(server.url(), "logged");  // nothing new: 304
  // A rejected push (UNIQUE) is logged with its details.
  a.exec("CREATE VIRTUAL TABLE u USING zumero (name TEXT UNIQUE)");
  a.sync_complete(server.url(), "logged");
  b.sync_complete(server.url(), "logged");
  a.exec("INSERT INTO u VALUES ('same')");
  b.exec("INSERT INTO u VALUES ('same')");
  a.sync_complete(server.url(), "logged");
  REQUIRE(b.sync_error(server.url(), "logged") == "zumero:unique_constraint_violation");
  server.restart();

  Client log(dir.path() / "log.db");
  log.sync_complete(server.url(), "zumero_log", admin);
  const Rows columns = log.rows("SELECT name FROM pragma_table_info('z$log') ORDER BY cid");
  const Rows expected_columns{{"dbfile"},        {"url"},          {"ip_address"},    {"unix_time"},
                              {"scheme"},        {"username"},     {"request_size"},  {"response_size"},
                              {"status"},        {"elapsed"},      {"constraint_details"}, {"full_request_size"},
                              {"full_response_size"}, {"txid_max"}};
  CHECK(columns == expected_columns);
  CHECK(log.rows("SELECT name FROM pragma_table_info('log') ORDER BY cid") == expected_columns);

  // Every node writes its startup into the one log.
  CHECK(log.integer("SELECT count(*) FROM log WHERE url = 'SERVER_STARTUP'") == 2 * server.node_count());
  CHECK(log.integer("SELECT count(*) FROM log WHERE url = 'CREATE_DBFILE' AND dbfile = 'logged'") == 1);
  CHECK(log.integer("SELECT count(*) FROM log WHERE url = '/push' AND dbfile = 'logged' AND status = 200") >= 3);
  CHECK(log.integer("SELECT count(*) FROM log WHERE url = '/push' AND dbfile = 'logged' AND status = 200 "
                    "AND (request_size <= 0 OR full_request_size <= 0)") == 0);
  CHECK(log.integer("SELECT count(*) FROM log WHERE url = '/pull' AND dbfile = 'logged' AND status = 200") >= 1);
  CHECK(log.integer("SELECT count(*) FROM log WHERE url = '/pull' AND dbfile = 'logged' AND status = 304") >= 1);
  CHECK(log.integer("SELECT count(*) FROM log WHERE url IN ('/push', '/pull') AND ip_address <> '127.0.0.1'") == 0);
  const std::int64_t now = std::time(nullptr);
  CHECK(log.integer("SELECT count(*) FROM log WHERE unix_time < " + std::to_string(now - 3600) + " OR unix_time > " +
                    std::to_string(now + 60)) == 0);
  CHECK(log.integer("SELECT count(*) FROM log WHERE url = '/push' AND status = 406 AND dbfile = 'logged'") == 1);
  std::string details = log.text("SELECT constraint_details FROM log WHERE url = '/push' AND status = 406");
  INFO("constraint_details: " << details);
  CHECK(details.find("u") != std::string::npos);
  CHECK(details != "<null>");
  // The entry for the creating push is there as well, after CREATE_DBFILE or before.
  CHECK(log.integer("SELECT count(*) FROM log WHERE url = '/push' AND dbfile = 'logged' AND status = 200 "
                    "AND response_size > 0") >= 1);

  // The sample queries of 9.3.
  Rows by_url = log.rows("SELECT url, avg(elapsed) avg_time FROM z$log GROUP BY url ORDER BY avg_time DESC");
  CHECK(by_url.size() >= 4);  // SERVER_STARTUP, CREATE_DBFILE, /push, /pull
  for (const auto &row : by_url) CHECK(std::stod(row[1]) >= 0);
  CHECK(std::stod(log.text("SELECT avg(request_size) FROM z$log WHERE url='/push'")) > 0);
  CHECK(log.integer("SELECT sum(response_size) FROM z$log") > 0);
  CHECK(log.integer("SELECT sum(request_size) FROM z$log") > 0);
  // Nobody tried what they were not allowed to.
  CHECK(log.rows("SELECT DISTINCT scheme,username FROM z$log WHERE status=403").empty());
  std::string compression =
      log.text("SELECT 100 - avg(request_size * 100 / full_request_size) FROM z$log WHERE full_request_size > 0");
  INFO("compression: " << compression);
  REQUIRE(compression != "<null>");
  CHECK(std::stod(compression) >= 0);
  CHECK(std::stod(compression) <= 100);

  // Later requests keep being appended.
  std::int64_t count = log.integer("SELECT count(*) FROM log");
  a.sync_complete(server.url(), "logged");
  log.sync_complete(server.url(), "zumero_log", admin);
  CHECK(log.integer("SELECT count(*) FROM log") > count);
}
