// Tests of zumero-server's HTTP layer and of the libcurl client, against the real
// executable running as a child process. Loopback only.
#include "server/tests/server_process.h"
#include "sync/http_client.h"
#include "base/sql.h"

#include <catch2/catch.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <future>
#include <string>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using zumero::http_post;
using zumero::test::ServerProcess;
using namespace std::chrono_literals;

namespace {

const char *const kRoutes[] = {"/push",          "/pull",          "/storage_usage",     "/auth_create",
                               "/auth_add_user", "/auth_add_alias", "/auth_set_password", "/auth_set_acl_entry"};

// Sets or clears an environment variable for the scope, restoring the old value.
class ScopedEnv {
public:
  ScopedEnv(const char *name, const char *value) : name_(name) {
    if (const char *old = std::getenv(name)) old_ = old;
    if (value) setenv(name, value, 1);
    else unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_) setenv(name_.c_str(), old_->c_str(), 1);
    else unsetenv(name_.c_str());
  }

private:
  std::string name_;
  std::optional<std::string> old_;
};

// Expects `call` to throw zumero::Error "zumero:network_connection_failed".
template <typename Call> void require_network_failure(Call call) {
  try {
    call();
    FAIL("expected zumero:network_connection_failed");
  } catch (const zumero::Error &e) {
    REQUIRE(std::string(e.what()) == "zumero:network_connection_failed");
  }
}

// A loopback port nothing listens on (bound, then released).
int unused_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  REQUIRE(bind(fd, reinterpret_cast<sockaddr *>(&address), sizeof address) == 0);
  socklen_t length = sizeof address;
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr *>(&address), &length) == 0);
  close(fd);
  return ntohs(address.sin_port);
}

nlohmann::json parse_json(const std::string &text) { return nlohmann::json::parse(text); }

// Most tests run zumero-server built with the placeholder service, which answers
// every sync route with 501, so they depend on the HTTP layer only.
ServerProcess::Options placeholder(std::vector<std::string> args = {}) {
  ServerProcess::Options options;
  options.executable = ZUMERO_PLACEHOLDER_SERVER_PATH;
  options.args = std::move(args);
  return options;
}

}  // namespace

TEST_CASE("zumero-server --help lists the options", "[server]") {
  auto result = zumero::test::run_command({ServerProcess::executable(), "--help"});
  CHECK(result.exit_code == 0);
  for (const char *option : {"--data-dir", "--listen", "--tls-cert", "--tls-key", "--log-level", "--max-body-bytes",
                             "--pull-chunk-bytes", "--admin-password"}) {
    CHECK(result.output.find(option) != std::string::npos);
  }
}

TEST_CASE("zumero-server rejects bad command lines", "[server]") {
  zumero::test::TempDir dir;
  auto data = (dir.path() / "data").string();
  const std::string exe = ServerProcess::executable();
  CHECK(zumero::test::run_command({exe, "--data-dir", data, "--listen", "nonsense"}).exit_code != 0);
  CHECK(zumero::test::run_command({exe, "--data-dir", data, "--listen", "127.0.0.1:99999"}).exit_code != 0);
  CHECK(zumero::test::run_command({exe, "--data-dir", data, "--log-level", "loud"}).exit_code != 0);
  CHECK(zumero::test::run_command({exe, "--data-dir", data, "--max-body-bytes", "0"}).exit_code != 0);
  // --tls-cert and --tls-key go together.
  auto tls = zumero::test::make_self_signed_certificate(dir.path());
  CHECK(zumero::test::run_command({exe, "--data-dir", data, "--tls-cert", tls.cert_file}).exit_code != 0);
  CHECK(zumero::test::run_command({exe, "--data-dir", data, "--tls-key", tls.key_file}).exit_code != 0);
}

TEST_CASE("GET /health answers ok", "[server]") {
  ServerProcess server(placeholder());
  CHECK(server.url().rfind("http://127.0.0.1:", 0) == 0);
  CHECK(server.port() > 0);
  CHECK(std::filesystem::is_directory(server.data_dir()));
  auto health = zumero::test::http_get(server.url() + "/health");
  CHECK(health.status == 200);
  CHECK(health.body == "ok");
}

TEST_CASE("POST routes reach the service", "[server]") {
  ServerProcess server(placeholder());
  for (const char *route : kRoutes) {
    INFO(route);
    auto response = http_post(server.url(), route, "body", "application/octet-stream");
    CHECK(response.status == 501);
    CHECK(response.content_type == "application/json");
    auto json = parse_json(response.body);
    CHECK(json == nlohmann::json{{"error", "http_other"}, {"message", "placeholder service: no sync routes"}});
  }
  // The base URL may end with '/', the path may omit its leading '/'.
  CHECK(http_post(server.url() + "/", "/pull", "", "application/json").status == 501);
  CHECK(http_post(server.url() + "/", "pull", "", "application/json").status == 501);
  CHECK(http_post(server.url(), "pull", "", "application/json").status == 501);
}

TEST_CASE("unknown paths answer 404 with a JSON error", "[server]") {
  ServerProcess server(placeholder());
  auto post = http_post(server.url(), "/nope", "x", "text/plain");
  CHECK(post.status == 404);
  CHECK(parse_json(post.body)["error"] == "http_404");
  auto get = zumero::test::http_get(server.url() + "/push");
  CHECK(get.status == 404);
  CHECK(parse_json(get.body)["error"] == "http_404");
}

TEST_CASE("an exception in a handler becomes a JSON 500", "[server]") {
  ServerProcess server(placeholder());
  auto response = http_post(server.url(), "/debug/throw", "x", "application/octet-stream");
  CHECK(response.status == 500);
  CHECK(parse_json(response.body) == nlohmann::json{{"error", "http_500"}, {"message", "zumero:debug_throw"}});
  CHECK(zumero::test::http_get(server.url() + "/health").status == 200);
}

TEST_CASE("debug routes exist only with ZUMERO_TEST_HOOKS=1", "[server]") {
  ServerProcess::Options options = placeholder();
  options.test_hooks = false;
  ServerProcess server(options);
  CHECK(zumero::test::http_get(server.url() + "/debug/sleep?ms=1").status == 404);
  CHECK(http_post(server.url(), "/debug/throw", "", "text/plain").status == 404);
}

TEST_CASE("request bodies over --max-body-bytes get 413", "[server]") {
  ServerProcess server(placeholder({"--max-body-bytes", "1000"}));
  const std::string expected = R"({"error":"http_413","message":"request body larger than 1000 bytes"})";

  CHECK(http_post(server.url(), "/push", std::string(1000, 'a'), "application/octet-stream").status == 501);

  auto refused = http_post(server.url(), "/push", std::string(1001, 'a'), "application/octet-stream");
  CHECK(refused.status == 413);
  CHECK(refused.body == expected);
  CHECK(refused.content_type == "application/json");

  auto big = http_post(server.url(), "/pull", std::string(3 << 20, 'b'), "application/octet-stream");
  CHECK(big.status == 413);
  CHECK(big.body == expected);

  auto unknown = http_post(server.url(), "/elsewhere", std::string(5000, 'c'), "application/octet-stream");
  CHECK(unknown.status == 413);

  httplib::Client client("127.0.0.1", server.port());
  SECTION("chunked transfer encoding") {
    std::string piece(400, 'd');
    auto result = client.Post(
        "/push",
        [&](size_t offset, httplib::DataSink &sink) {
          if (offset < 4000) sink.write(piece.data(), piece.size());
          else sink.done();
          return true;
        },
        "application/octet-stream");
    REQUIRE(result);
    CHECK(result->status == 413);
    CHECK(result->body == expected);
  }
  SECTION("a compressed body that inflates past the limit") {
    client.set_compress(true);
    auto result = client.Post("/push", std::string(100000, 'e'), "application/octet-stream");
    REQUIRE(result);
    CHECK(result->status == 413);
    CHECK(result->body == expected);
  }
  SECTION("a compressed body within the limit") {
    client.set_compress(true);
    auto result = client.Post("/push", std::string(900, 'e'), "application/octet-stream");
    REQUIRE(result);
    CHECK(result->status == 501);
  }

  // Nothing else happened: the server still serves.
  CHECK(zumero::test::http_get(server.url() + "/health").status == 200);
  CHECK(server.log().find("[error]") == std::string::npos);
}

TEST_CASE("connection refused is network_connection_failed", "[client]") {
  std::string url = "http://127.0.0.1:" + std::to_string(unused_port());
  require_network_failure([&] { http_post(url, "/push", "x", "application/octet-stream", 5); });
}

TEST_CASE("a server that dies is network_connection_failed", "[client]") {
  ServerProcess server(placeholder());
  std::string url = server.url();
  server.kill_hard();
  CHECK_FALSE(server.running());
  require_network_failure([&] { http_post(url, "/push", "x", "application/octet-stream", 5); });
}

TEST_CASE("a response slower than the timeout is network_connection_failed", "[client]") {
  ServerProcess server(placeholder());
  auto start = std::chrono::steady_clock::now();
  require_network_failure([&] { http_post(server.url(), "/debug/sleep?ms=1500", "", "text/plain", 1); });
  CHECK(std::chrono::steady_clock::now() - start < 1400ms);
  CHECK(http_post(server.url(), "/debug/sleep?ms=10", "", "text/plain", 5).status == 200);
}

TEST_CASE("HTTPS with a self-signed certificate", "[server][client]") {
  zumero::test::TempDir dir;
  auto tls = zumero::test::make_self_signed_certificate(dir.path());
  ServerProcess server(placeholder({"--tls-cert", tls.cert_file, "--tls-key", tls.key_file}));
  REQUIRE(server.url().rfind("https://127.0.0.1:", 0) == 0);

  SECTION("trusted through ZUMERO_CA_FILE") {
    ScopedEnv ca("ZUMERO_CA_FILE", tls.cert_file.c_str());
    auto response = http_post(server.url(), "/push", "body", "application/octet-stream");
    CHECK(response.status == 501);
    CHECK(parse_json(response.body)["error"] == "http_other");
    // The host name in the certificate works too.
    std::string by_name = "https://localhost:" + std::to_string(server.port());
    CHECK(http_post(by_name, "/pull", "", "application/json").status == 501);
  }
  SECTION("verification is on without ZUMERO_CA_FILE") {
    ScopedEnv ca("ZUMERO_CA_FILE", nullptr);
    require_network_failure([&] { http_post(server.url(), "/push", "body", "application/octet-stream", 5); });
  }
  SECTION("an empty ZUMERO_CA_FILE does not disable verification") {
    ScopedEnv ca("ZUMERO_CA_FILE", "");
    require_network_failure([&] { http_post(server.url(), "/push", "body", "application/octet-stream", 5); });
  }
  SECTION("a different certificate is not trusted") {
    zumero::test::TempDir other_dir;
    auto other = zumero::test::make_self_signed_certificate(other_dir.path());
    ScopedEnv ca("ZUMERO_CA_FILE", other.cert_file.c_str());
    require_network_failure([&] { http_post(server.url(), "/push", "body", "application/octet-stream", 5); });
  }
  SECTION("plain HTTP to the HTTPS port gets no response") {
    std::string plain = "http://127.0.0.1:" + std::to_string(server.port());
    require_network_failure([&] { http_post(plain, "/push", "body", "application/octet-stream", 5); });
  }
}

TEST_CASE("SIGTERM lets the request in flight finish, then exits 0", "[server]") {
  ServerProcess server(placeholder());
  std::string url = server.url();
  auto slow = std::async(std::launch::async, [url] { return zumero::test::http_get(url + "/debug/sleep?ms=2500"); });
  REQUIRE(server.wait_for_log("debug sleep 2500 ms begins", 10s));

  REQUIRE(kill(server.pid(), SIGTERM) == 0);
  REQUIRE(server.wait_for_log("received SIGTERM", 5s));
  // New connections are refused while the slow request is still running.
  bool refused = false;
  for (int attempt = 0; attempt < 100 && !refused; ++attempt) {
    try {
      http_post(url, "/push", "x", "application/octet-stream", 2);
      std::this_thread::sleep_for(10ms);
    } catch (const zumero::Error &) {
      refused = true;
    }
  }
  CHECK(refused);
  CHECK(slow.wait_for(0s) == std::future_status::timeout);

  auto result = slow.get();
  CHECK(result.status == 200);
  CHECK(result.body == "slept 2500");
  CHECK(server.wait_for_exit(10s) == 0);
  CHECK_FALSE(server.running());
  CHECK(server.log().find("stopped") != std::string::npos);
}

TEST_CASE("SIGINT stops an idle server with status 0", "[server]") {
  ServerProcess server(placeholder());
  CHECK(server.stop(SIGINT) == 0);
  CHECK(server.stop() == -1);  // already stopped
}

TEST_CASE("ZUMERO_STOP_ON_STDIN_EOF=1 stops the server when stdin closes", "[server]") {
  zumero::test::TempDir dir;
  ScopedEnv watch("ZUMERO_STOP_ON_STDIN_EOF", "1");
  // run_command gives the child /dev/null as stdin: end of input right away.
  auto result = zumero::test::run_command({ZUMERO_PLACEHOLDER_SERVER_PATH, "--data-dir",
                                           (dir.path() / "data").string(), "--listen", "127.0.0.1:0"},
                                          20s);
  CHECK(result.exit_code == 0);
  CHECK(result.output.find("zumero-server listening on http://127.0.0.1:") != std::string::npos);
  CHECK(result.output.find("standard input closed") != std::string::npos);
}

TEST_CASE("kill_hard and restart keep the data directory", "[server]") {
  ServerProcess server(placeholder());
  auto marker = server.data_dir() / "marker";
  { std::ofstream(marker) << "x"; }
  int port = server.port();

  server.kill_hard();
  CHECK_FALSE(server.running());
  server.restart();
  CHECK(server.running());
  CHECK(server.port() == port);
  CHECK(std::filesystem::exists(marker));
  CHECK(zumero::test::http_get(server.url() + "/health").status == 200);

  server.restart();  // graceful stop, then start
  CHECK(zumero::test::http_get(server.url() + "/health").status == 200);
}

TEST_CASE("the admin password may come from the environment", "[server]") {
  ServerProcess::Options options = placeholder();
  options.env = {{"ZUMERO_ADMIN_PASSWORD", "secret"}};
  ServerProcess with_password(options);
  CHECK(with_password.log().find("no admin password") == std::string::npos);
  CHECK(with_password.log().find("secret") == std::string::npos);

  ServerProcess::Options without = placeholder();
  without.env = {{"ZUMERO_ADMIN_PASSWORD", ""}};
  ServerProcess no_password(without);
  CHECK(no_password.log().find("no admin password") != std::string::npos);
}

TEST_CASE("the real zumero-server serves HTTPS and stops on SIGTERM", "[server][real]") {
  zumero::test::TempDir dir;
  auto tls = zumero::test::make_self_signed_certificate(dir.path());
  ServerProcess server({"--tls-cert", tls.cert_file, "--tls-key", tls.key_file});
  REQUIRE(server.url().rfind("https://127.0.0.1:", 0) == 0);
  CHECK(zumero::test::http_get(server.url() + "/health", tls.cert_file).status == 200);
  {
    ScopedEnv ca("ZUMERO_CA_FILE", tls.cert_file.c_str());
    // Whatever the service thinks of an empty body, it is an HTTP response.
    auto response = http_post(server.url(), "/pull", "", "application/octet-stream");
    CHECK(response.status >= 200);
    CHECK(response.status <= 599);
  }
  CHECK(server.stop() == 0);
}
