// Tests of zumero-server's HTTP layer and of the libcurl client, against the real
// executable running as a child process. Loopback only.
#include "server/tests/server_process.h"
#include "sync/http_client.h"
#include "base/sql.h"

#include <catch2/catch.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <future>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
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

using Clock = std::chrono::steady_clock;

struct RawResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

// A plain TCP connection to a server on 127.0.0.1, for what libcurl would not send:
// partial heads, invalid framing, a byte at a time, many requests on one connection.
class RawConnection {
public:
  explicit RawConnection(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port));
    REQUIRE(connect(fd_, reinterpret_cast<sockaddr *>(&address), sizeof address) == 0);
  }
  ~RawConnection() { close(fd_); }
  RawConnection(const RawConnection &) = delete;
  RawConnection &operator=(const RawConnection &) = delete;

  // False once the server closed (or reset) the connection.
  bool send(const std::string &data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
      ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }

  // The next response (its body read by Content-Length); nullopt when the connection
  // closes or `timeout` passes first.
  std::optional<RawResponse> read_response(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto deadline = Clock::now() + timeout;
    std::size_t head_end;
    while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!receive(deadline)) return std::nullopt;
    }
    RawResponse response;
    std::string head = buffer_.substr(0, head_end);
    std::smatch status;
    if (!std::regex_search(head, status, std::regex("^HTTP/1\\.[01] (\\d{3})"))) return std::nullopt;
    response.status = std::stoi(status[1]);
    std::size_t line_start = head.find("\r\n");
    while (line_start != std::string::npos) {
      std::size_t line_end = head.find("\r\n", line_start + 2);
      std::string line = head.substr(line_start + 2, line_end == std::string::npos ? std::string::npos
                                                                                  : line_end - line_start - 2);
      auto colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (char &c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        response.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
      }
      line_start = line_end;
    }
    std::size_t length = response.headers.count("content-length") ? std::stoul(response.headers["content-length"]) : 0;
    while (buffer_.size() < head_end + 4 + length) {
      if (!receive(deadline)) return std::nullopt;
    }
    response.body = buffer_.substr(head_end + 4, length);
    buffer_.erase(0, head_end + 4 + length);
    return response;
  }

  // Waits for the server to close the connection; false when `timeout` passes first.
  bool wait_for_close(std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (!closed_) {
      if (Clock::now() >= deadline) return false;
      receive(deadline);
    }
    return true;
  }

  // Whether the server has closed the connection already.
  bool closed_now() {
    while (!closed_ && receive(Clock::now())) {
    }
    return closed_;
  }

  // Everything received and not yet consumed by read_response().
  const std::string &received() const { return buffer_; }

private:
  // Appends what arrives before `deadline` to buffer_; false on timeout or close.
  bool receive(Clock::time_point deadline) {
    if (closed_) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(std::max<long long>(0, left))) <= 0) return false;
    char data[16384];
    ssize_t n = ::recv(fd_, data, sizeof data, 0);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) return true;
      closed_ = true;
      return false;
    }
    buffer_.append(data, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string buffer_;
  bool closed_ = false;
};

std::chrono::milliseconds elapsed_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

// Sends `head` (no body follows) and expects an error answer with that status and a
// JSON error body within a second, then the end of the connection.
void require_prompt_refusal(int port, const std::string &head, int status) {
  INFO(head);
  RawConnection connection(port);
  auto start = Clock::now();
  REQUIRE(connection.send(head));
  auto response = connection.read_response(2s);
  REQUIRE(response);
  CHECK(elapsed_since(start) < 1s);
  CHECK(response->status == status);
  CHECK(response->headers["connection"] == "close");
  CHECK(parse_json(response->body)["error"] == "http_" + std::to_string(status));
  CHECK(connection.wait_for_close(3s));
}

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
  for (const char *option :
       {"--data-dir", "--listen", "--tls-cert", "--tls-key", "--log-level", "--max-body-bytes", "--max-payload-bytes",
        "--pull-chunk-bytes", "--admin-password", "--header-timeout", "--keep-alive-timeout", "--transfer-timeout",
        "--min-transfer-rate", "--max-connections"}) {
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
  for (const char *option : {"--max-payload-bytes", "--header-timeout", "--keep-alive-timeout", "--transfer-timeout",
                             "--min-transfer-rate", "--max-connections"}) {
    INFO(option);
    CHECK(zumero::test::run_command({exe, "--data-dir", data, option, "0"}).exit_code != 0);
    CHECK(zumero::test::run_command({exe, "--data-dir", data, option, "-1"}).exit_code != 0);
  }
  // --tls-cert and --tls-key go together.
  auto tls = zumero::test::make_self_signed_certificate(dir.path());
  CHECK(zumero::test::run_command({exe, "--data-dir", data, "--tls-cert", tls.cert_file}).exit_code != 0);
  CHECK(zumero::test::run_command({exe, "--data-dir", data, "--tls-key", tls.key_file}).exit_code != 0);
}

TEST_CASE("a second server cannot listen on a port in use", "[server]") {
  ServerProcess server(placeholder());
  zumero::test::TempDir dir;
  auto second = zumero::test::run_command({ZUMERO_PLACEHOLDER_SERVER_PATH, "--data-dir", (dir.path() / "data").string(),
                                           "--listen", "127.0.0.1:" + std::to_string(server.port())},
                                          20s);
  CHECK(second.exit_code == 1);
  CHECK(second.output.find("cannot listen on 127.0.0.1:" + std::to_string(server.port())) != std::string::npos);
  CHECK(second.output.find("listening on") == std::string::npos);
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

TEST_CASE("an exception in a handler becomes a 500 that reveals nothing", "[server]") {
  ServerProcess server(placeholder());
  auto response = http_post(server.url(), "/debug/throw", "x", "application/octet-stream");
  CHECK(response.status == 500);
  CHECK(response.content_type == "application/json");
  // The failure's text names the data directory; the answer names neither.
  CHECK(response.body.find("debug_throw") == std::string::npos);
  CHECK(response.body.find(server.data_dir().string()) == std::string::npos);
  CHECK(response.body.find(server.work_dir().string()) == std::string::npos);
  auto json = parse_json(response.body);
  CHECK(json["error"] == "http_500");
  std::smatch id;
  std::string message = json["message"];
  REQUIRE(std::regex_match(message, id, std::regex(R"(internal server error \(error id ([0-9a-f]{8})\))")));
  // The log has the detail, under the same id.
  REQUIRE(server.wait_for_log("error id " + id[1].str()));
  std::string log = server.log();
  std::string line = log.substr(log.find("error id " + id[1].str()));
  line = line.substr(0, line.find('\n'));
  CHECK(line.find("[error]") == std::string::npos);  // the level comes before the id
  CHECK(line.find("POST /debug/throw") != std::string::npos);
  CHECK(line.find("zumero:debug_throw") != std::string::npos);
  CHECK(line.find(server.data_dir().string()) != std::string::npos);
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
  SECTION("a compressed body, refused before it is inflated") {
    client.set_compress(true);
    auto result = client.Post("/push", std::string(100000, 'e'), "application/octet-stream");
    REQUIRE(result);
    CHECK(result->status == 415);
    CHECK(result->body.find("Content-Encoding") != std::string::npos);
  }
  SECTION("a compressed body within the limit is refused too") {
    client.set_compress(true);
    auto result = client.Post("/push", std::string(900, 'e'), "application/octet-stream");
    REQUIRE(result);
    CHECK(result->status == 415);
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
  SECTION("plain HTTP to the HTTPS port gets a clear refusal, and nothing is served") {
    std::string plain = "http://127.0.0.1:" + std::to_string(server.port());
    auto response = http_post(plain, "/push", "body", "application/octet-stream", 5);
    CHECK(response.status == 400);
    CHECK(nlohmann::json::parse(response.body).value("error", "") == "tls_required");
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
  // The real service: it is the one that says when no admin password is given.
  ServerProcess::Options options;
  options.env = {{"ZUMERO_ADMIN_PASSWORD", "secret"}};
  ServerProcess with_password(options);
  CHECK(with_password.log().find("no admin password") == std::string::npos);
  CHECK(with_password.log().find("secret") == std::string::npos);

  ServerProcess::Options without;
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

// ---------------------------------------------------------------------------------
// Slow, silent and malformed clients

TEST_CASE("stalled half-requests leave /health and the service answering", "[server][limits]") {
  ServerProcess server(placeholder({"--header-timeout", "2"}));
  auto opened = Clock::now();
  std::vector<std::unique_ptr<RawConnection>> stalled;
  for (int i = 0; i < 64; ++i) {
    stalled.push_back(std::make_unique<RawConnection>(server.port()));
    REQUIRE(stalled.back()->send("POST /push HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le"));
  }

  auto start = Clock::now();
  auto health = zumero::test::http_get(server.url() + "/health", "", 5);
  CHECK(health.status == 200);
  CHECK(elapsed_since(start) < 1s);

  start = Clock::now();
  auto push = http_post(server.url(), "/push", "body", "application/octet-stream", 5);
  CHECK(push.status == 501);
  CHECK(elapsed_since(start) < 1s);

  // The stalled connections were all still open meanwhile...
  if (elapsed_since(opened) < 1500ms) {
    for (auto &connection : stalled) CHECK_FALSE(connection->closed_now());
  }
  // ...and the server closes them at the header deadline, with a 408.
  for (auto &connection : stalled) {
    CHECK(connection->wait_for_close(std::chrono::duration_cast<std::chrono::milliseconds>(opened + 5s - Clock::now())));
    CHECK(connection->received().rfind("HTTP/1.1 408 ", 0) == 0);
  }
  CHECK(server.log().find("[error]") == std::string::npos);
}

TEST_CASE("more stalled connections than --max-connections take turns and lock no one out", "[server][limits]") {
  ServerProcess server(placeholder({"--max-connections", "8", "--header-timeout", "30"}));
  std::vector<std::unique_ptr<RawConnection>> stalled;
  for (int i = 0; i < 40; ++i) {
    stalled.push_back(std::make_unique<RawConnection>(server.port()));
    REQUIRE(stalled.back()->send("GET /health HTTP/1.1\r\nHo"));
  }
  for (int round = 0; round < 3; ++round) {
    auto start = Clock::now();
    CHECK(zumero::test::http_get(server.url() + "/health", "", 5).status == 200);
    CHECK(http_post(server.url(), "/push", "body", "application/octet-stream", 5).status == 501);
    CHECK(elapsed_since(start) < 1s);
  }
  // The longest-waiting ones made room, long before their header deadline.
  std::size_t closed = 0;
  for (auto &connection : stalled) closed += connection->closed_now() ? 1 : 0;
  CHECK(closed >= 32);
  CHECK(server.wait_for_log("connections are taken (--max-connections)"));
}

TEST_CASE("a client sending its headers one byte per second is dropped at the header deadline", "[server][limits]") {
  ServerProcess server(placeholder({"--header-timeout", "3"}));
  RawConnection connection(server.port());
  const std::string head = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + std::string(20, 'p') + "\r\n\r\n";
  auto start = Clock::now();
  std::size_t sent = 0;
  while (sent < head.size() && !connection.closed_now() && elapsed_since(start) < 10s) {
    if (!connection.send(head.substr(sent, 1))) break;
    ++sent;
    std::this_thread::sleep_for(1s);
  }
  CHECK(connection.wait_for_close(1s));
  auto took = elapsed_since(start);
  CHECK(took >= 2500ms);
  CHECK(took < 5s);
  CHECK(sent < head.size());
  CHECK(connection.received().rfind("HTTP/1.1 408 ", 0) == 0);
  CHECK(connection.received().find(R"({"error":"http_408")") != std::string::npos);
}

TEST_CASE("a request line that never ends is answered 408 at the header deadline", "[server][limits]") {
  ServerProcess server(placeholder({"--header-timeout", "1"}));
  RawConnection connection(server.port());
  REQUIRE(connection.send("POST /pu"));
  auto response = connection.read_response(3s);
  REQUIRE(response);
  CHECK(response->status == 408);
  CHECK(parse_json(response->body)["error"] == "http_408");
  CHECK(connection.wait_for_close(3s));
  // A connection that sends nothing at all is closed without an answer.
  RawConnection silent(server.port());
  CHECK(silent.wait_for_close(3s));
  CHECK(silent.received().empty());
}

TEST_CASE("request heads larger than 64 KiB get 431", "[server][limits]") {
  ServerProcess server(placeholder());
  RawConnection connection(server.port());
  std::string head = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (int i = 0; i < 100; ++i) head += "X-Filler-" + std::to_string(i) + ": " + std::string(1000, 'f') + "\r\n";
  connection.send(head + "\r\n");
  auto response = connection.read_response(3s);
  REQUIRE(response);
  CHECK(response->status == 431);
  CHECK(parse_json(response->body)["error"] == "http_431");
  CHECK(connection.wait_for_close(3s));
}

TEST_CASE("a request body that stops arriving gets 408", "[server][limits]") {
  ServerProcess server(placeholder({"--transfer-timeout", "1"}));
  RawConnection connection(server.port());
  auto start = Clock::now();
  REQUIRE(connection.send("POST /push HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\nsome"));
  auto response = connection.read_response(5s);
  REQUIRE(response);
  CHECK(elapsed_since(start) < 3s);
  CHECK(response->status == 408);
  CHECK(parse_json(response->body)["error"] == "http_408");
  CHECK(connection.wait_for_close(4s));
  CHECK(zumero::test::http_get(server.url() + "/health").status == 200);
}

TEST_CASE("a Content-Length that is not a non-negative integer gets 400 at once", "[server][limits]") {
  ServerProcess server(placeholder());
  const std::string start = "POST /push HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (const char *length : {"-1", "abc", "1e3", "+5", "0x10", "5 5", "5,5", "18446744073709551616x"}) {
    require_prompt_refusal(server.port(), start + "Content-Length: " + length + "\r\n\r\n", 400);
  }
  require_prompt_refusal(server.port(), start + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 400);
  require_prompt_refusal(server.port(), start + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
  require_prompt_refusal(server.port(), start + "Transfer-Encoding: gzip\r\n\r\n", 400);
  require_prompt_refusal(server.port(), start + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                         400);
  // A GET has no body.
  require_prompt_refusal(server.port(), "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\n", 400);

  // Repeating the same length is harmless.
  RawConnection same(server.port());
  REQUIRE(same.send(start + "Content-Length: 4\r\nContent-Length: 4\r\n\r\nbody"));
  auto response = same.read_response();
  REQUIRE(response);
  CHECK(response->status == 501);
  // Without a length or a transfer coding the body is empty, and the request is
  // answered without waiting for the client to close.
  RawConnection no_length(server.port());
  REQUIRE(no_length.send(start + "\r\n"));
  response = no_length.read_response(2s);
  REQUIRE(response);
  CHECK(response->status == 501);
  CHECK(server.log().find("[error]") == std::string::npos);
}

TEST_CASE("a Content-Length over --max-body-bytes gets 413 at once, without the body", "[server][limits]") {
  ServerProcess server(placeholder({"--max-body-bytes", "1000"}));
  const std::string start = "POST /push HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (const char *length : {"1001", "1000000000000", "99999999999999999999999999"}) {
    require_prompt_refusal(server.port(), start + "Content-Length: " + length + "\r\n\r\n", 413);
  }
  // Unknown paths too.
  require_prompt_refusal(server.port(), "POST /elsewhere HTTP/1.1\r\nContent-Length: 5000\r\n\r\n", 413);

  // A client that waits for "100 Continue" hears the refusal instead.
  RawConnection connection(server.port());
  REQUIRE(connection.send(start + "Content-Length: 50000000\r\nExpect: 100-continue\r\n\r\n"));
  auto response = connection.read_response(2s);
  REQUIRE(response);
  CHECK(response->status == 413);
  CHECK(response->body == R"({"error":"http_413","message":"request body larger than 1000 bytes"})");
  CHECK(connection.wait_for_close(3s));

  // Within the limit, "100 Continue" comes first.
  RawConnection accepted(server.port());
  REQUIRE(accepted.send(start + "Content-Length: 4\r\nExpect: 100-continue\r\n\r\n"));
  response = accepted.read_response(2s);
  REQUIRE(response);
  CHECK(response->status == 100);
  REQUIRE(accepted.send("body"));
  response = accepted.read_response(2s);
  REQUIRE(response);
  CHECK(response->status == 501);
}

TEST_CASE("keep-alive serves many requests on one connection", "[server]") {
  ServerProcess server(placeholder());
  RawConnection connection(server.port());
  for (int i = 0; i < 1000; ++i) {
    INFO(i);
    if (i % 2 == 0) {
      REQUIRE(connection.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    } else {
      std::string body = "request " + std::to_string(i);
      REQUIRE(connection.send("POST /push HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
                              "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));
    }
    auto response = connection.read_response();
    REQUIRE(response);
    REQUIRE(response->status == (i % 2 == 0 ? 200 : 501));
    REQUIRE(response->headers.count("connection") == 0);
  }
  // Pipelined requests are answered in order.
  REQUIRE(connection.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                          "POST /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\n\r\nx"
                          "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
  for (int expected : {200, 404, 200}) {
    auto response = connection.read_response();
    REQUIRE(response);
    CHECK(response->status == expected);
  }
  CHECK(connection.wait_for_close(2s));
}

TEST_CASE("an idle keep-alive connection is closed after --keep-alive-timeout", "[server][limits]") {
  ServerProcess server(placeholder({"--keep-alive-timeout", "1"}));
  RawConnection connection(server.port());
  REQUIRE(connection.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  auto response = connection.read_response();
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK(response->headers["keep-alive"] == "timeout=1");
  auto start = Clock::now();
  CHECK(connection.wait_for_close(4s));
  CHECK(elapsed_since(start) >= 500ms);
  CHECK(connection.received().empty());
}

TEST_CASE("SIGTERM closes idle and half-sent connections at once", "[server][limits]") {
  ServerProcess server(placeholder({"--keep-alive-timeout", "60", "--header-timeout", "60"}));
  RawConnection idle(server.port());
  REQUIRE(idle.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  REQUIRE(idle.read_response());
  RawConnection half(server.port());
  REQUIRE(half.send("GET /health HTTP/1.1\r\n"));
  std::this_thread::sleep_for(100ms);

  auto start = Clock::now();
  REQUIRE(kill(server.pid(), SIGTERM) == 0);
  CHECK(server.wait_for_exit(10s) == 0);
  CHECK(elapsed_since(start) < 5s);
  CHECK(idle.wait_for_close(1s));
  CHECK(half.wait_for_close(1s));
}

TEST_CASE("a TLS client that never finishes its handshake is dropped at the header deadline", "[server][limits]") {
  zumero::test::TempDir dir;
  auto tls = zumero::test::make_self_signed_certificate(dir.path());
  ServerProcess server(placeholder({"--tls-cert", tls.cert_file, "--tls-key", tls.key_file, "--header-timeout", "2"}));
  std::vector<std::unique_ptr<RawConnection>> stalled;
  for (int i = 0; i < 64; ++i) {
    stalled.push_back(std::make_unique<RawConnection>(server.port()));
    if (i % 2 == 0) REQUIRE(stalled.back()->send(std::string("\x16\x03\x01\x02\x00\x01", 6)));  // a ClientHello begins
  }
  auto start = Clock::now();
  CHECK(zumero::test::http_get(server.url() + "/health", tls.cert_file, 5).status == 200);
  CHECK(elapsed_since(start) < 1s);
  for (auto &connection : stalled) CHECK(connection->wait_for_close(5s));
}

TEST_CASE("the server log never carries request headers or bodies", "[server]") {
  const std::string secret = "Zq8-credential-7Hk";
  ServerProcess server(placeholder(
      {"--log-level", "debug", "--max-body-bytes", "1000", "--header-timeout", "1", "--transfer-timeout", "1"}));
  httplib::Client client("127.0.0.1", server.port());
  httplib::Headers headers = {{"Authorization", "Bearer " + secret}, {"X-Api-Key", secret}, {"Cookie", "s=" + secret}};
  const std::string body = R"({"user":"u","password":")" + secret + R"("})";
  for (const char *path : {"/push", "/auth_create", "/debug/throw", "/nope", "/debug/sleep?ms=1"}) {
    INFO(path);
    auto result = client.Post(path, headers, body, "application/json");
    REQUIRE(result);
  }
  REQUIRE(client.Get("/health", headers));
  REQUIRE(client.Get("/nope", headers));
  // Refused bodies and heads.
  REQUIRE(client.Post("/push", headers, body + std::string(2000, ' '), "application/json"));
  require_prompt_refusal(server.port(), "POST /push HTTP/1.1\r\nX-Api-Key: " + secret + "\r\nContent-Length: -" +
                                            secret + "\r\n\r\n", 400);
  require_prompt_refusal(server.port(), "GET /health HTTP/1.1\r\nAuthorization: " + secret + "\r\nX-Filler: " +
                                            std::string(70000, 'x') + "\r\n\r\n", 431);
  RawConnection stalled(server.port());
  REQUIRE(stalled.send("POST /push HTTP/1.1\r\nAuthorization: Basic " + secret + "\r\nContent-Length: 9"));
  CHECK(stalled.wait_for_close(4s));
  RawConnection slow_body(server.port());
  REQUIRE(slow_body.send("POST /push HTTP/1.1\r\nContent-Length: 500\r\n\r\n" + body));

  auto start = Clock::now();
  CHECK(server.stop() == 0);
  CHECK(elapsed_since(start) < 5s);
  std::string log = server.log();
  CHECK(log.find("POST /push") != std::string::npos);  // the requests were logged...
  CHECK(log.find(secret) == std::string::npos);        // ...without what they carried
}
