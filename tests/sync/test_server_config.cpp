// zumero-server --config FILE: every option may come from a file (INI or TOML as CLI11
// reads them), the command line overrides the file, and a name the server does not
// know is an error. The administrator password may also come from a file.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>

#include "ops_http.h"
#include "server/tests/server_process.h"
#include "sync/http_client.h"

using zumero::opstest::http_get;
using zumero::test::run_command;
using zumero::test::ServerProcess;
using zumero::test::TempDir;

namespace {

// The server refused to start: it exited by itself (a server that started would run
// until run_command's timeout kills it).
bool refused_to_start(const zumero::test::CommandResult &result) {
  return result.exit_code > 0 && result.exit_code < 128;
}

std::string write_file(const std::filesystem::path &path, const std::string &text) {
  std::ofstream(path, std::ios::binary) << text;
  return path.string();
}

}  // namespace

TEST_CASE("--help lists --config, --metrics-listen and --admin-password-file", "[config]") {
  auto help = run_command({ServerProcess::executable(), "--help"});
  CHECK(help.exit_code == 0);
  for (const char *option : {"--config", "--metrics-listen", "--admin-password-file"})
    CHECK(help.output.find(option) != std::string::npos);
}

TEST_CASE("A config file sets the options and the command line overrides it", "[config]") {
  TempDir dir;
  auto tls = zumero::test::make_self_signed_certificate(dir.path());
  const auto elsewhere = dir.path() / "not-this-data-dir";
  // TOML as CLI11 reads it: name = value, strings quoted, comments.
  const std::string config = write_file(dir.path() / "zumero-server.conf",
                                        "# zumero-server settings\n"
                                        "data-dir = \"" + elsewhere.string() + "\"\n"
                                        "listen = \"127.0.0.1:1\"\n"
                                        "tls-cert = \"" + tls.cert_file + "\"\n"
                                        "tls-key = \"" + tls.key_file + "\"\n"
                                        "require-tls = true\n"
                                        "log-level = \"debug\"\n"
                                        "max-body-bytes = 4000\n"
                                        "max-payload-bytes = 3000\n"
                                        "pull-chunk-bytes = 2000\n"
                                        "header-timeout = 6\n"
                                        "keep-alive-timeout = 7\n"
                                        "transfer-timeout = 8\n"
                                        "min-transfer-rate = 1000\n"
                                        "max-connections = 33\n"
                                        "query-max-rows = 50\n"
                                        "query-timeout-ms = 500\n"
                                        "auth-throttle-after = 3\n"
                                        "auth-throttle-max-ms = 100\n"
                                        "admin-password = \"from the file\"\n"
                                        "metrics-listen = \"127.0.0.1:0\"\n");
  ServerProcess::Options options;
  options.args = {"--config", config};
  options.ca_file = tls.cert_file;
  ServerProcess server(options);

  // From the file.
  CHECK(server.url().rfind("https://127.0.0.1:", 0) == 0);
  CHECK(server.wait_for_log("[debug]"));  // the fixture's health checks, logged at debug level
  const std::string log = server.log();
  CHECK(log.find("max body 4000 bytes, max payload 3000 bytes, pull chunk 2000 bytes, max connections 33") !=
        std::string::npos);
  CHECK(zumero::opstest::metrics_port_from_log(log) > 0);
  auto metrics = http_get(server.url() + "/metrics", std::string("admin:from the file"), {}, tls.cert_file);
  CHECK(metrics.status == 200);
  CHECK(metrics.headers["keep-alive"] == "timeout=7");
  setenv("ZUMERO_CA_FILE", tls.cert_file.c_str(), 1);
  auto too_large = zumero::http_post(server.url(), "/push", std::string(5000, 'x'), "application/octet-stream");
  unsetenv("ZUMERO_CA_FILE");
  CHECK(too_large.status == 413);
  // --require-tls: plain HTTP on the port is refused with a clear answer.
  std::string plain = "http://127.0.0.1:" + std::to_string(server.port()) + "/health";
  CHECK(http_get(plain).body.find("tls_required") != std::string::npos);

  // The fixture's --data-dir and --listen on the command line win over the file.
  CHECK(server.port() != 1);
  CHECK(server.has_dbfile("zumero_users_admin"));
  CHECK_FALSE(std::filesystem::exists(elsewhere));
}

TEST_CASE("An option on the command line overrides the same option in the file", "[config]") {
  TempDir dir;
  const std::string config = write_file(dir.path() / "server.ini", "max-body-bytes=1000\nkeep-alive-timeout=9\n");
  ServerProcess from_file({"--config", config});
  CHECK(zumero::http_post(from_file.url(), "/pull", std::string(2000, 'x'), "application/octet-stream").status == 413);
  CHECK(http_get(from_file.url() + "/health").headers["keep-alive"] == "timeout=9");

  ServerProcess overridden({"--config", config, "--max-body-bytes", "100000", "--keep-alive-timeout", "4"});
  auto answer = zumero::http_post(overridden.url(), "/pull", std::string(2000, 'x'), "application/octet-stream");
  CHECK(answer.status == 400);  // read whole, then refused by the service as malformed
  CHECK(http_get(overridden.url() + "/health").headers["keep-alive"] == "timeout=4");
}

TEST_CASE("A config file with an unknown name, a bad value or no file at all stops the server", "[config]") {
  TempDir dir;
  const std::string exe = ServerProcess::executable();
  const std::string data = (dir.path() / "data").string();
  auto unknown = run_command({exe, "--data-dir", data, "--listen", "127.0.0.1:0", "--config",
                              write_file(dir.path() / "unknown.conf", "max-body-byte = 1000\n")});
  CHECK(refused_to_start(unknown));
  CHECK(unknown.output.find("max-body-byte") != std::string::npos);
  auto bad = run_command({exe, "--data-dir", data, "--listen", "127.0.0.1:0", "--config",
                          write_file(dir.path() / "bad.conf", "max-connections = 0\n")});
  CHECK(refused_to_start(bad));
  auto missing = run_command({exe, "--data-dir", data, "--config", (dir.path() / "nowhere.conf").string()});
  CHECK(refused_to_start(missing));
}

TEST_CASE("The administrator password may come from a file, as a secret or a credential", "[config]") {
  TempDir dir;
  const std::string file = write_file(dir.path() / "admin-password", "secret from a file\n");
  SECTION("--admin-password-file") {
    ServerProcess server({"--admin-password-file", file});
    CHECK(http_get(server.url() + "/metrics", std::string("admin:secret from a file")).status == 200);
    CHECK(http_get(server.url() + "/metrics", std::string("admin:secret from a file\n")).status == 401);
    CHECK(server.log().find("secret from a file") == std::string::npos);
  }
  SECTION("ZUMERO_ADMIN_PASSWORD_FILE") {
    ServerProcess::Options options;
    options.env = {{"ZUMERO_ADMIN_PASSWORD_FILE", file}};
    ServerProcess server(options);
    CHECK(http_get(server.url() + "/status", std::string("admin:secret from a file")).status == 200);
  }
  SECTION("not both, and not an empty or missing file") {
    const std::string exe = ServerProcess::executable();
    const std::string data = (dir.path() / "data").string();
    CHECK(refused_to_start(run_command({exe, "--data-dir", data, "--admin-password", "x", "--admin-password-file", file})));
    auto empty = run_command({exe, "--data-dir", data, "--admin-password-file",
                              write_file(dir.path() / "empty", "\n")});
    CHECK(empty.exit_code == 2);
    CHECK(empty.output.find("is empty") != std::string::npos);
    CHECK(run_command({exe, "--data-dir", data, "--admin-password-file", (dir.path() / "none").string()}).exit_code ==
          2);
  }
}
