// Robustness of the wire protocol against malformed requests (sent with the raw HTTP
// client), the request size limit, and HTTPS with a self-signed certificate.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "server/tests/server_process.h"
#include "sync/http_client.h"
#include "sync/package.h"
#include "sync_support.h"

using zumero::synctest::Client;
using zumero::synctest::Rows;
using zumero::synctest::sql_quote;
using zumero::test::ServerProcess;
using zumero::test::TempDir;
namespace zs = zumero::sync;

namespace {

zs::Value text_value(const std::string &text) {
  zs::Value value;
  value.type = zs::Value::Text;
  value.bytes = text;
  return value;
}

zs::Value integer_value(std::int64_t number) {
  zs::Value value;
  value.type = zs::Value::Integer;
  value.integer = number;
  return value;
}

// A push of one new row ('raw', 99) into table t(k, v) with the given recid.
std::string push_package(std::int64_t recid) {
  zs::Package package;
  zs::TableSection section;
  section.name = "t";
  section.columns = {"k", "v"};
  zs::RowState row;
  row.kind = zs::RowState::Live;
  row.recid = recid;
  row.values = {text_value("raw"), integer_value(99)};
  section.rows.push_back(row);
  package.tables.push_back(section);
  return zs::encode_package(package);
}

std::string push_header(const std::string &dbfile, std::int64_t base) {
  nlohmann::json header = {{"op", "push"}, {"dbfile", dbfile}, {"auth", nullptr},
                           {"client", "raw_test_client"}, {"pkg", 1}, {"base", base}};
  return header.dump();
}

}  // namespace

TEST_CASE("Malformed requests get 400 and change nothing", "[sync][protocol]") {
  ServerProcess server;
  TempDir dir;
  Client a(dir.path() / "a.db");
  a.exec("CREATE VIRTUAL TABLE t USING zumero (k TEXT PRIMARY KEY, v INTEGER);"
         "INSERT INTO t VALUES ('one', 1), ('two', 2);");
  a.sync_complete(server.url(), "robust");
  const Rows before = a.dump("t");
  REQUIRE(server.has_dbfile("robust"));

  const std::string package = push_package(1000);
  // Base 0 needs no version token; the new row does not meet any change.
  const std::string valid = zs::seal_envelope({push_header("robust", 0), package});
  REQUIRE(valid.size() > 10);

  std::string wrong_magic = valid;
  wrong_magic[0] = 'X';
  std::string other_version = valid;
  other_version[4] = zs::kProtocolVersion + 1;
  std::string truncated_envelope = valid.substr(0, valid.size() - 3);
  std::string header_only = valid.substr(0, 8);
  std::string truncated_package =
      zs::seal_envelope({push_header("robust", 0), package.substr(0, package.size() - 4)});
  std::string bad_header = zs::seal_envelope({"{not json", package});
  std::string wrong_length = valid;
  wrong_length[9] = static_cast<char>(wrong_length[9] + 1);

  struct Case {
    const char *name;
    std::string body;
  };
  std::vector<Case> cases = {{"garbage", "this is not an envelope at all"},
                             {"empty body", ""},
                             {"wrong magic", wrong_magic},
                             {"another protocol version", other_version},
                             {"truncated envelope", truncated_envelope},
                             {"only the envelope start", header_only},
                             {"announced length wrong", wrong_length},
                             {"header not JSON", bad_header},
                             {"truncated package", truncated_package}};
  for (const Case &c : cases) {
    for (const char *path : {"/push", "/pull"}) {
      INFO(c.name << " to " << path);
      zumero::HttpResponse response = zumero::http_post(server.url(), path, c.body, "application/x-zumero");
      CHECK(response.status == 400);
    }
  }

  // Nothing changed: a fresh client gets exactly the old content, and A hears of no
  // new version.
  Client fresh(dir.path() / "fresh.db");
  fresh.sync_complete(server.url(), "robust");
  CHECK(fresh.dump("t") == before);
  auto stats = a.sync_complete(server.url(), "robust");
  CHECK(stats.bytes_down_full == 0);
  CHECK(a.dump("t") == before);

  // Control: the same envelope, intact, is accepted, so the cases above failed only
  // because of what was broken in them.
  zumero::HttpResponse accepted = zumero::http_post(server.url(), "/push", valid, "application/x-zumero");
  REQUIRE(accepted.status == 200);
  a.sync_complete(server.url(), "robust");
  CHECK(a.rows("SELECT k, v FROM t ORDER BY k") == Rows{{"one", "1"}, {"raw", "99"}, {"two", "2"}});
}

TEST_CASE("A push over --max-body-bytes fails with zumero:http_other and applies nothing", "[sync][protocol]") {
  ServerProcess server({"--max-body-bytes", "2000"});
  TempDir dir;
  Client a(dir.path() / "a.db");
  a.exec("CREATE VIRTUAL TABLE t USING zumero (k TEXT PRIMARY KEY, v BLOB);"
         "INSERT INTO t VALUES ('small', x'01');");
  a.sync_complete(server.url(), "limited");
  a.exec("INSERT INTO t VALUES ('big', randomblob(20000))");
  CHECK(a.sync_error(server.url(), "limited") == "zumero:http_other");

  Client fresh(dir.path() / "fresh.db");
  fresh.sync_complete(server.url(), "limited");
  CHECK(fresh.rows("SELECT k FROM t ORDER BY k") == Rows{{"small"}});
  // The big row is still A's own, pending.
  CHECK(a.integer("SELECT count(*) FROM t WHERE k = 'big'") == 1);
}

TEST_CASE("HTTPS with a self-signed certificate trusted through ZUMERO_CA_FILE", "[sync][https]") {
  TempDir certificates;
  auto tls = zumero::test::make_self_signed_certificate(certificates.path());
  ServerProcess server({"--tls-cert", tls.cert_file, "--tls-key", tls.key_file});
  REQUIRE(server.url().rfind("https://127.0.0.1:", 0) == 0);

  struct CaFile {
    std::string saved;
    bool had = false;
    CaFile() {
      if (const char *value = std::getenv("ZUMERO_CA_FILE")) {
        had = true;
        saved = value;
      }
      unsetenv("ZUMERO_CA_FILE");
    }
    ~CaFile() {
      if (had) setenv("ZUMERO_CA_FILE", saved.c_str(), 1);
      else unsetenv("ZUMERO_CA_FILE");
    }
  } restore;

  TempDir dir;
  Client a(dir.path() / "a.db");
  a.exec("CREATE VIRTUAL TABLE t USING zumero (k TEXT PRIMARY KEY); INSERT INTO t VALUES ('secret');");
  CHECK(a.sync_error(server.url(), "tls") == "zumero:network_connection_failed");
  CHECK_FALSE(server.has_dbfile("tls"));

  setenv("ZUMERO_CA_FILE", tls.cert_file.c_str(), 1);
  CHECK(a.sync_error(server.url(), "tls") == "");
  Client b(dir.path() / "b.db");
  b.sync_complete(server.url(), "tls");
  CHECK(b.rows("SELECT k FROM t") == Rows{{"secret"}});
  unsetenv("ZUMERO_CA_FILE");

  b.exec("INSERT INTO t VALUES ('more')");
  CHECK(b.sync_error(server.url(), "tls") == "zumero:network_connection_failed");
}

TEST_CASE("Pushes the server cannot apply get 400 and create no dbfile", "[sync][protocol]") {
  ServerProcess server;
  auto post = [&](const zs::Package &package) {
    return zumero::http_post(server.url(), "/push", zs::seal_envelope({push_header("never", 0), zs::encode_package(package)}),
                             "application/x-zumero");
  };
  // Rows for a table the dbfile does not have.
  zumero::HttpResponse unknown_table = zumero::http_post(
      server.url(), "/push", zs::seal_envelope({push_header("never", 0), push_package(1)}), "application/x-zumero");
  CHECK(unknown_table.status == 400);
  CHECK(nlohmann::json::parse(unknown_table.body).value("error", "") == "invalid_argument");

  // A table definition a zumero table cannot have.
  zs::Package bad_table;
  bad_table.schema.push_back({0, 0, "create_table", "bad$name", R"(["a INT"])"});
  zumero::HttpResponse refused = post(bad_table);
  CHECK(refused.status == 400);
  CHECK(nlohmann::json::parse(refused.body).value("error", "") == "no_dollar_sign_in_table_name");

  zs::Package bad_column;
  bad_column.schema.push_back({0, 0, "create_table", "t", R"(["'quoted' INT"])"});
  CHECK(post(bad_column).status == 400);

  // None of these created the dbfile, and the server still serves requests.
  CHECK_FALSE(server.has_dbfile("never"));
  CHECK(zumero::test::http_get(server.url() + "/health").status == 200);
}
