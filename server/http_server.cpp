#include "server/http_server.h"

#include "server/connection_pool.h"
#include "server/connection_stream.h"
#include "server/logging.h"
#include "server/metrics.h"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <strings.h>
#include <thread>

#include <poll.h>
#include <sys/socket.h>
#include <type_traits>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace zumero::server {

std::string json_error_body(const std::string &error, const std::string &message) {
  nlohmann::json body = {{"error", error}, {"message", message}};
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Response json_error(int status, const std::string &error, const std::string &message) {
  Response response;
  response.status = status;
  response.body = json_error_body(error, message);
  response.content_type = "application/json";
  return response;
}

namespace {

using Clock = std::chrono::steady_clock;

// The POST routes answered by the sync service.
const char *const kServiceRoutes[] = {
    "/push",           "/pull",          "/storage_usage",     "/auth_create",
    "/auth_add_user",  "/auth_add_alias", "/auth_set_password", "/auth_set_acl_entry",
    "/versions",       "/query",
};

// Request line plus headers; larger heads get 431.
constexpr std::size_t kMaxHeadBytes = 64 * 1024;

// Longest request path written to the log.
constexpr std::size_t kMaxLoggedPath = 200;

Clock::duration seconds(double value) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(value));
}

std::string status_message(int status) {
  switch (status) {
  case 400: return "bad request";
  case 404: return "not found";
  case 405: return "method not allowed";
  case 408: return "request timeout";
  case 413: return "request body too large";
  case 414: return "request URI too long";
  case 416: return "range not satisfiable";
  case 431: return "request header fields too large";
  case 500: return "internal server error";
  case 503: return "service unavailable";
  default: return "request failed";
  }
}

void set_json_error(httplib::Response &res, int status, const std::string &message) {
  res.status = status;
  res.set_content(json_error_body("http_" + std::to_string(status), message), "application/json");
}

// A short random token that ties a 500 answer to its log line.
std::string new_error_id() {
  thread_local std::mt19937 generator{std::random_device{}()};
  char text[9];
  std::snprintf(text, sizeof text, "%08x", static_cast<unsigned>(generator()));
  return text;
}

// The text of a failure, for the server log only. JSON parse errors quote the input
// they stopped at, which may be part of a request body; that part is left out.
std::string describe_exception(const std::exception_ptr &error) {
  try {
    if (error) std::rethrow_exception(error);
    return "unknown failure";
  } catch (const nlohmann::json::parse_error &e) {
    std::string what = e.what();
    auto quoted = what.find("; last read:");
    if (quoted != std::string::npos) what = what.substr(0, quoted) + "; (input withheld)";
    return what;
  } catch (const std::exception &e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

// The fixed 500 answer: no exception text, no path, only an id to find the log line.
void set_internal_error(httplib::Response &res, const std::string &error_id) {
  set_json_error(res, 500, "internal server error (error id " + error_id + ")");
}

// A request path fit for one log line: control and non-ASCII bytes escaped, cut short.
std::string printable_path(const std::string &path) {
  std::string text;
  for (unsigned char c : path.substr(0, kMaxLoggedPath)) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      text += static_cast<char>(c);
    } else {
      char escaped[5];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      text += escaped;
    }
  }
  if (path.size() > kMaxLoggedPath) text += "...";
  return text;
}

std::string request_label(const httplib::Request &req) {
  return req.method + " " + printable_path(req.path) + " from " + (req.remote_addr.empty() ? "-" : req.remote_addr);
}

bool is_body_method(const std::string &method) {
  return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

// A Content-Length value: digits only; values beyond 64 bits saturate (and are then
// refused as too large). nullopt when it is not a non-negative decimal integer.
std::optional<std::uint64_t> parse_content_length(const std::string &text) {
  if (text.empty()) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    unsigned digit = static_cast<unsigned>(c - '0');
    value = value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10 ? std::numeric_limits<std::uint64_t>::max()
                                                                           : value * 10 + digit;
  }
  return value;
}

struct Refusal {
  int status;
  std::string message;
};

// Checks how the request says its body is framed, before any of the body is read.
std::optional<Refusal> framing_problem(const httplib::Request &req, std::size_t max_body) {
  const std::size_t lengths = req.get_header_value_count("Content-Length");
  if (req.has_header("Transfer-Encoding")) {
    if (lengths > 0) return Refusal{400, "both Transfer-Encoding and Content-Length"};
    if (req.get_header_value_count("Transfer-Encoding") != 1 ||
        strcasecmp(req.get_header_value("Transfer-Encoding").c_str(), "chunked") != 0) {
      return Refusal{400, "unsupported Transfer-Encoding; only chunked is accepted"};
    }
    if (!is_body_method(req.method)) return Refusal{400, "unexpected request body"};
    return std::nullopt;
  }
  std::optional<std::uint64_t> length;
  for (std::size_t i = 0; i < lengths; ++i) {
    auto value = parse_content_length(req.get_header_value("Content-Length", i));
    if (!value) return Refusal{400, "Content-Length must be a non-negative decimal integer"};
    if (length && *length != *value) return Refusal{400, "conflicting Content-Length values"};
    length = value;
  }
  if (!length || *length == 0) return std::nullopt;
  if (!is_body_method(req.method)) return Refusal{400, "unexpected request body"};
  if (*length > max_body) return Refusal{413, "request body larger than " + std::to_string(max_body) + " bytes"};
  return std::nullopt;
}

// ---------------------------------------------------------------------------------
// Connections

struct ConnectionSettings {
  Clock::duration header_timeout;
  Clock::duration keep_alive_timeout;
  ConnectionStream::Limits stream;
  double header_timeout_seconds;
  Metrics *metrics = nullptr;  // counts the answers httplib never sees
};

ConnectionSettings connection_settings(const ServerConfig &config) {
  ConnectionSettings settings;
  settings.header_timeout = seconds(config.header_timeout);
  settings.keep_alive_timeout = seconds(config.keep_alive_timeout);
  settings.stream.transfer_timeout = seconds(config.transfer_timeout);
  settings.stream.min_transfer_rate = std::max<std::size_t>(1, config.min_transfer_rate);
  settings.stream.max_head_bytes = kMaxHeadBytes;
  settings.header_timeout_seconds = config.header_timeout;
  return settings;
}

// What the handlers of one request need to know about, or decide for, its connection.
// Handlers run on the connection's thread, so they find it in a thread_local.
struct ConnectionState {
  ConnectionStream &stream;
  ConnectionPool::Member &member;
  bool close_after_response = false;
  // The request was not read to its end: drain a little before closing so that the
  // answer is not lost to a TCP reset.
  bool linger = false;
  // The current request: when its first byte arrived, and what the service said about
  // it (for the status page).
  Clock::time_point request_start{};
  std::string dbfile{};
  std::string user{};
};

thread_local ConnectionState *current_connection = nullptr;

class CurrentConnection {
public:
  explicit CurrentConnection(ConnectionState &state) { current_connection = &state; }
  ~CurrentConnection() { current_connection = nullptr; }
  CurrentConnection(const CurrentConnection &) = delete;
  CurrentConnection &operator=(const CurrentConnection &) = delete;
};

// The answer goes out, then the connection ends without reading the rest of the request.
void close_unread_connection() {
  if (!current_connection) return;
  current_connection->close_after_response = true;
  current_connection->linger = true;
}

class SocketCloser {
public:
  explicit SocketCloser(int fd) : fd_(fd) {}
  ~SocketCloser() { ::close(fd_); }
  SocketCloser(const SocketCloser &) = delete;
  SocketCloser &operator=(const SocketCloser &) = delete;

private:
  int fd_;
};

// Writes an error answer directly, for a request head httplib gave up on before it
// could answer (the request line never completed).
void write_direct_error(ConnectionStream &stream, int status, const std::string &message) {
  const char *reason = status == 408 ? "Request Timeout" : "Request Header Fields Too Large";
  std::string body = json_error_body("http_" + std::to_string(status), message);
  std::string answer = "HTTP/1.1 " + std::to_string(status) + " " + reason +
                       "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                       "\r\nConnection: close\r\n\r\n" + body;
  stream.write(answer.data(), answer.size());
}

// The fields of a JSON error body, for the list of recent errors.
void read_error_body(const std::string &body, Metrics::RequestRecord &record) {
  constexpr std::size_t kMaxField = 300;
  if (body.empty() || body.size() > 64 * 1024 || body.front() != '{') return;
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, false);
  if (!parsed.is_object()) return;
  if (parsed.contains("error") && parsed["error"].is_string())
    record.error = parsed["error"].get<std::string>().substr(0, kMaxField);
  if (parsed.contains("message") && parsed["message"].is_string())
    record.message = parsed["message"].get<std::string>().substr(0, kMaxField);
}

// Counts one answer once it is sent.
void record_answer(Metrics &metrics, const std::string &method, const std::string &path, int status,
                   const std::string &remote_address, const std::string &body) {
  Metrics::RequestRecord record;
  record.time = std::chrono::system_clock::now();
  record.method = method.empty() ? "-" : method;
  record.path = printable_path(path);
  record.status = status;
  record.remote_address = remote_address;
  if (ConnectionState *state = current_connection) {
    record.seconds = std::chrono::duration<double>(Clock::now() - state->request_start).count();
    record.bytes_in = state->stream.bytes_received();
    record.bytes_out = state->stream.bytes_sent();
    record.dbfile = state->dbfile;
    record.user = state->user;
    if (record.remote_address.empty()) {
      int port = 0;
      state->stream.get_remote_ip_and_port(record.remote_address, port);
    }
  }
  if (status >= 400) read_error_body(body, record);
  metrics.record_request(std::move(record));
}

std::string head_timeout_message(const ConnectionSettings &settings) {
  std::ostringstream text;
  text << "request headers not received within " << settings.header_timeout_seconds << " s";
  return text.str();
}

// Answers a request whose head could not be read, if httplib did not, and notes
// why in the debug log.
void answer_failed_head(ConnectionState &state, const ConnectionSettings &settings) {
  ConnectionStream &stream = state.stream;
  if (stream.phase() != ConnectionStream::Phase::head || stream.responded()) return;
  std::string peer;
  int port = 0;
  stream.get_remote_ip_and_port(peer, port);
  if (stream.failure() == ConnectionStream::Failure::timed_out && stream.head_bytes() > 0) {
    log_debug("closing the connection from ", peer, ": ", head_timeout_message(settings));
    write_direct_error(stream, 408, head_timeout_message(settings));
    state.linger = true;
    if (settings.metrics)
      record_answer(*settings.metrics, "", "", 408, peer, json_error_body("http_408", head_timeout_message(settings)));
  } else if (stream.failure() == ConnectionStream::Failure::head_too_large) {
    log_debug("closing the connection from ", peer, ": request head larger than ", kMaxHeadBytes, " bytes");
    std::string message = "request head larger than " + std::to_string(kMaxHeadBytes) + " bytes";
    write_direct_error(stream, 431, message);
    state.linger = true;
    if (settings.metrics) record_answer(*settings.metrics, "", "", 431, peer, json_error_body("http_431", message));
  }
}

// A TLS connection starts with a handshake record (byte 0x16). One that starts with
// anything else is most likely plain HTTP sent to the HTTPS port: it gets a plain-text
// answer saying so, instead of a dropped connection.
bool plain_http_on_tls(int fd, Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  pollfd ready{fd, POLLIN, 0};
  if (left <= 0 || ::poll(&ready, 1, static_cast<int>(left)) <= 0) return false;
  unsigned char first = 0;
  if (::recv(fd, &first, 1, MSG_PEEK) != 1 || first == 0x16) return false;
  static const std::string body =
      R"({"error":"tls_required","message":"this server requires TLS: use an https:// URL"})";
  std::string answer = "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  ssize_t ignored = ::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL);
  (void)ignored;
  return true;
}

using RequestProcessor = std::function<bool(httplib::Stream &, bool &connection_closed,
                                            const std::function<void(httplib::Request &)> &on_head)>;

// Serves one accepted connection until it ends, then closes the socket.
void serve_connection(int fd, SSL_CTX *tls, ConnectionPool &pool, const ConnectionSettings &settings,
                      const RequestProcessor &process_request) {
  SocketCloser closer(fd);
  ConnectionPool::Member member(pool, fd);
  const auto first_head_deadline = Clock::now() + settings.header_timeout;
  int on = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);

  ConnectionStream stream(fd, settings.stream);
  if (tls && plain_http_on_tls(fd, first_head_deadline)) {
    log_debug("closing a connection: plain HTTP on the HTTPS port");
    return;
  }
  if (tls && !stream.accept_tls(tls, first_head_deadline)) {
    log_debug("closing a connection: no TLS handshake");
    return;
  }

  ConnectionState state{stream, member};
  CurrentConnection current(state);
  bool first = true;
  for (;;) {
    auto request_deadline = first ? first_head_deadline : Clock::now() + settings.keep_alive_timeout;
    if (!stream.wait_for_request(request_deadline)) break;
    state.request_start = Clock::now();
    state.dbfile.clear();
    state.user.clear();
    stream.begin_head(first ? first_head_deadline : Clock::now() + settings.header_timeout);
    first = false;

    bool connection_closed = false;
    bool answered = process_request(stream, connection_closed, [&](httplib::Request &req) {
      stream.begin_body();
      if (!member.set_busy()) state.close_after_response = true;
      // Without either header a request has no body (RFC 9112, 6.3); httplib would
      // otherwise read until the client closes.
      if (!req.has_header("Content-Length") && !req.has_header("Transfer-Encoding")) {
        req.set_header("Content-Length", "0");
      }
    });
    answer_failed_head(state, settings);
    if (!answered || connection_closed || state.close_after_response || !member.set_waiting()) break;
  }
  bool linger = state.linger && member.set_closing();
  stream.finish(linger);
}

// httplib's Server or SSLServer, with connections served by serve_connection.
template <typename Base> class GuardedServer final : public Base {
public:
  template <typename... Args>
  GuardedServer(ConnectionPool &pool, const ConnectionSettings &settings, Args &&...args)
      : Base(std::forward<Args>(args)...), pool_(pool), settings_(settings) {}

  // httplib binds with a listen backlog of 5; a burst of connections would then wait
  // for SYN retransmissions, so the backlog is raised once bound.
  void widen_backlog() { ::listen(this->svr_sock_, SOMAXCONN); }

private:
  bool process_and_close_socket(socket_t sock) override {
    SSL_CTX *tls = nullptr;
    if constexpr (std::is_base_of_v<httplib::SSLServer, Base>) tls = this->ssl_context();
    serve_connection(sock, tls, pool_, settings_,
                     [this](httplib::Stream &stream, bool &connection_closed,
                            const std::function<void(httplib::Request &)> &on_head) {
                       return this->process_request(stream, false, connection_closed, on_head);
                     });
    return true;
  }

  ConnectionPool &pool_;
  ConnectionSettings settings_;
};

// httplib owns its task queue for the duration of listen(); this one hands the
// connections to the server's ConnectionPool.
class PoolTaskQueue final : public httplib::TaskQueue {
public:
  explicit PoolTaskQueue(ConnectionPool &pool) : pool_(pool) {}
  void enqueue(std::function<void()> job) override { pool_.enqueue(std::move(job)); }
  void shutdown() override { pool_.shutdown(); }

private:
  ConnectionPool &pool_;
};

// Reads the whole body, at most max_body bytes once decoded. On failure the response
// is already filled in, the connection is to be closed, and false is returned.
bool read_body(std::size_t max_body, const httplib::Request &req, httplib::Response &res,
               const httplib::ContentReader &reader, std::string &body) {
  // The envelope carries its own bounded compression; a compressed HTTP body would be
  // inflated by the HTTP library before any limit applies.
  std::string encoding = req.get_header_value("Content-Encoding");
  if (!encoding.empty() && encoding != "identity") {
    close_unread_connection();
    log_info("refused ", request_label(req), ": Content-Encoding ", encoding.substr(0, 32));
    set_json_error(res, 415, "Content-Encoding is not accepted: send the envelope as it is");
    return false;
  }
  auto declared = parse_content_length(req.get_header_value("Content-Length"));
  if (declared && *declared <= max_body) body.reserve(static_cast<std::size_t>(*declared));
  bool too_large = false;
  bool ok = reader([&](const char *data, std::size_t length) {
    if (length > max_body - body.size()) {
      too_large = true;
      return false;
    }
    body.append(data, length);
    return true;
  });
  if (ok && !too_large) return true;
  close_unread_connection();
  std::string().swap(body);
  if (too_large || res.status == 413) {
    log_info("refused ", request_label(req), ": body larger than ", max_body, " bytes");
    set_json_error(res, 413, "request body larger than " + std::to_string(max_body) + " bytes");
  } else if (current_connection && current_connection->stream.failure() == ConnectionStream::Failure::timed_out) {
    set_json_error(res, 408, "request body not received in time");
  } else {
    set_json_error(res, 400, "could not read the request body");
  }
  return false;
}

// Answers with what `handler` returns, turning any exception into a 500.
void answer_with(const httplib::Request &req, httplib::Response &res, const Request &request,
                 const std::function<Response(const Request &)> &handler) {
  Response response;
  try {
    response = handler(request);
  } catch (...) {
    std::string id = new_error_id();
    log_error("error id ", id, ": ", request_label(req), " failed: ", describe_exception(std::current_exception()));
    set_internal_error(res, id);
    return;
  }
  if (response.status < 100 || response.status > 599) {
    std::string id = new_error_id();
    log_error("error id ", id, ": ", request_label(req), ": the service answered with invalid HTTP status ",
              response.status);
    set_internal_error(res, id);
    return;
  }
  res.status = response.status;
  for (auto &[name, value] : response.headers) res.set_header(name.c_str(), value);
  res.set_content(std::move(response.body), response.content_type);
  if (current_connection) {
    current_connection->dbfile = std::move(response.dbfile);
    current_connection->user = std::move(response.user);
  }
}

// A GET request for the service (/metrics, /status).
Request get_request(const httplib::Request &req, bool private_listener) {
  Request request;
  request.method = "GET";
  request.path = req.path;
  request.remote_address = req.remote_addr;
  request.authorization = req.get_header_value("Authorization");
  request.private_listener = private_listener;
  return request;
}

// Stops a server once its accept loop runs (httplib's stop() does nothing before),
// unless `finished` says it has returned already.
void stop_when_running(httplib::Server &http, ConnectionPool &pool, const std::atomic<bool> &finished) {
  while (!finished && !http.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (finished) return;
  http.stop();
  pool.stop_connections();
}

// The listening socket: SO_REUSEADDR without httplib's SO_REUSEPORT, with which a
// second server on the same port starts without complaint and takes half of the
// first one's connections.
void set_listen_socket_options(httplib::Server &http) {
  http.set_socket_options([](socket_t sock) {
    int on = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  });
}

// Binds `http` to host:port (0: any free port); returns the port bound.
int bind_listener(httplib::Server &http, const std::string &host, int port) {
  if (port == 0) {
    port = http.bind_to_any_port(host);
    if (port <= 0) throw std::runtime_error("cannot listen on " + host + ":0");
  } else if (!http.bind_to_port(host, port)) {
    throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port));
  }
  return port;
}

std::string url_of(bool tls, std::string host, int port) {
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return std::string(tls ? "https" : "http") + "://" + host + ":" + std::to_string(port);
}

// Connections the metrics listener serves at once.
constexpr std::size_t kMetricsConnections = 16;

}  // namespace

HttpServer::HttpServer(ServerConfig &config, Service &service, Metrics &metrics)
    : config_(config), service_(service), metrics_(metrics),
      pool_(std::make_unique<ConnectionPool>(config.max_connections)) {
  ConnectionSettings settings = connection_settings(config_);
  settings.metrics = &metrics_;
  if (config_.tls()) {
    auto tls = std::make_unique<GuardedServer<httplib::SSLServer>>(
        *pool_, settings, config_.tls_cert_file.c_str(), config_.tls_key_file.c_str());
    if (!tls->is_valid()) {
      throw std::runtime_error("cannot load the TLS certificate '" + config_.tls_cert_file + "' or key '" +
                               config_.tls_key_file + "'");
    }
    widen_backlog_ = [server = tls.get()] { server->widen_backlog(); };
    http_ = std::move(tls);
  } else {
    auto plain = std::make_unique<GuardedServer<httplib::Server>>(*pool_, settings);
    widen_backlog_ = [server = plain.get()] { server->widen_backlog(); };
    http_ = std::move(plain);
  }

  ConnectionPool &pool = *pool_;
  http_->new_task_queue = [&pool] { return new PoolTaskQueue(pool); };
  http_->set_payload_max_length(config_.max_body_bytes);
  // Replies leave in more than one write; without TCP_NODELAY each sync request waits
  // on delayed acknowledgements.
  http_->set_tcp_nodelay(true);
  set_listen_socket_options(*http_);
  install_routes();

  if (config_.metrics_listener()) {
    metrics_pool_ = std::make_unique<ConnectionPool>(kMetricsConnections);
    auto plain = std::make_unique<GuardedServer<httplib::Server>>(*metrics_pool_, settings);
    widen_metrics_backlog_ = [server = plain.get()] { server->widen_backlog(); };
    metrics_http_ = std::move(plain);
    ConnectionPool &metrics_pool = *metrics_pool_;
    metrics_http_->new_task_queue = [&metrics_pool] { return new PoolTaskQueue(metrics_pool); };
    metrics_http_->set_payload_max_length(config_.max_body_bytes);
    metrics_http_->set_tcp_nodelay(true);
    set_listen_socket_options(*metrics_http_);
    install_metrics_routes();
  }
}

HttpServer::~HttpServer() {
  if (metrics_thread_.joinable()) stop_metrics_listener();
}

void HttpServer::install_routes() {
  httplib::Server &http = *http_;
  const std::size_t max_body = config_.max_body_bytes;

  auto serve = [max_body](const httplib::Request &req, httplib::Response &res, const httplib::ContentReader &reader,
                          const std::function<Response(const Request &)> &handler) {
    Request request;
    if (!read_body(max_body, req, res, reader, request.body)) return;
    request.path = req.path;
    request.remote_address = req.remote_addr;
    request.content_type = req.get_header_value("Content-Type");
    answer_with(req, res, request, handler);
  };

  for (const char *route : kServiceRoutes) {
    http.Post(route, [this, serve](const httplib::Request &req, httplib::Response &res,
                                   const httplib::ContentReader &reader) {
      serve(req, res, reader, [this](const Request &request) { return service_.handle(request); });
    });
  }

  // Credentials come by HTTP Basic authentication; the service checks them.
  for (const char *route : {"/metrics", "/status"}) {
    http.Get(route, [this](const httplib::Request &req, httplib::Response &res) {
      answer_with(req, res, get_request(req, false), [this](const Request &request) {
        return service_.handle_get(request);
      });
    });
  }

  http.Get("/health", [this](const httplib::Request &, httplib::Response &res) {
    if (service_started_.load()) {
      res.set_content("ok", "text/plain");
    } else {
      set_json_error(res, 503, "starting");
    }
  });

  if (config_.test_hooks) {
    log_warn("test hooks are enabled (ZUMERO_TEST_HOOKS=1); never use this in production");
    // GET or POST /debug/sleep?ms=N sleeps N milliseconds (at most one minute) before
    // answering, to test shutdown and client timeouts.
    auto sleep_route = [](const httplib::Request &req, httplib::Response &res) {
      long ms = 0;
      try {
        ms = std::stol(req.get_param_value("ms"));
      } catch (...) {
        set_json_error(res, 400, "ms must be an integer");
        return;
      }
      ms = std::clamp(ms, 0L, 60000L);
      log_info("debug sleep ", ms, " ms begins");
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      log_info("debug sleep ", ms, " ms ends");
      res.set_content("slept " + std::to_string(ms), "text/plain");
    };
    http.Get("/debug/sleep", sleep_route);
    http.Post("/debug/sleep", [max_body, sleep_route](const httplib::Request &req, httplib::Response &res,
                                                      const httplib::ContentReader &reader) {
      std::string body;
      if (read_body(max_body, req, res, reader, body)) sleep_route(req, res);
    });
    // Fails inside the request wrapper, to test the 500 path. The failure names the
    // data directory, as a real one might.
    const std::string data_dir = config_.data_dir.string();
    http.Post("/debug/throw", [serve, data_dir](const httplib::Request &req, httplib::Response &res,
                                                const httplib::ContentReader &reader) {
      serve(req, res, reader, [&data_dir](const Request &) -> Response {
        throw std::runtime_error("zumero:debug_throw in " + data_dir);
      });
    });
  }

  install_common_handlers(http, *pool_);
}

// The metrics listener answers /metrics and /status without credentials, and /health.
void HttpServer::install_metrics_routes() {
  httplib::Server &http = *metrics_http_;
  for (const char *route : {"/metrics", "/status"}) {
    http.Get(route, [this](const httplib::Request &req, httplib::Response &res) {
      answer_with(req, res, get_request(req, true), [this](const Request &request) {
        return service_.handle_get(request);
      });
    });
  }
  http.Get("/health", [this](const httplib::Request &, httplib::Response &res) {
    if (service_started_.load()) res.set_content("ok", "text/plain");
    else set_json_error(res, 503, "starting");
  });
  install_common_handlers(http, *metrics_pool_);
}

// Body limits and framing checks, JSON errors, connection headers, the log line and
// the metrics of every answer.
void HttpServer::install_common_handlers(httplib::Server &http, ConnectionPool &pool) {
  const std::size_t max_body = config_.max_body_bytes;

  // Any other request with a body: read it under the same limit, then 404.
  auto unknown_with_body = [max_body](const httplib::Request &req, httplib::Response &res,
                                      const httplib::ContentReader &reader) {
    std::string body;
    if (!read_body(max_body, req, res, reader, body)) return;
    set_json_error(res, 404, "not found");
  };
  http.Post(".*", unknown_with_body);
  http.Put(".*", unknown_with_body);
  http.Patch(".*", unknown_with_body);
  http.Delete(".*", unknown_with_body);

  // The framing is checked once the head is in, before any of the body is read; a
  // refused request is answered at once and its connection closed.
  auto refuse_bad_framing = [max_body](const httplib::Request &req, httplib::Response &res) {
    auto refusal = framing_problem(req, max_body);
    if (!refusal) return false;
    set_json_error(res, refusal->status, refusal->message);
    close_unread_connection();
    return true;
  };
  // A client waiting for "100 Continue" hears the refusal instead.
  http.set_expect_100_continue_handler([refuse_bad_framing](const httplib::Request &req, httplib::Response &res) {
    return refuse_bad_framing(req, res) ? res.status : 100;
  });
  http.set_pre_routing_handler([refuse_bad_framing](const httplib::Request &req, httplib::Response &res) {
    return refuse_bad_framing(req, res) ? httplib::Server::HandlerResponse::Handled
                                        : httplib::Server::HandlerResponse::Unhandled;
  });

  // Errors produced by httplib itself (no route, malformed request, a head that
  // did not arrive in time...) get a JSON body; responses that already have a body
  // keep it. "Handled" makes httplib add the Content-Length header, which it leaves
  // out when it answers before routing (after the 100-continue check).
  const std::string head_timeout = head_timeout_message(connection_settings(config_));
  http.set_error_handler(
      httplib::Server::HandlerWithResponse([head_timeout](const httplib::Request &, httplib::Response &res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Handled;
        std::string message = status_message(res.status);
        bool head_failed = current_connection && current_connection->stream.phase() == ConnectionStream::Phase::head;
        if (head_failed) {
          switch (current_connection->stream.failure()) {
          case ConnectionStream::Failure::timed_out:
            res.status = 408;
            message = head_timeout;
            break;
          case ConnectionStream::Failure::head_too_large:
            res.status = 431;
            message = "request head larger than " + std::to_string(kMaxHeadBytes) + " bytes";
            break;
          default: break;
          }
        }
        // What follows a request httplib could not parse cannot be trusted.
        if (head_failed || res.status == 400 || res.status == 413) close_unread_connection();
        set_json_error(res, res.status, message);
        return httplib::Server::HandlerResponse::Handled;
      }));

  http.set_exception_handler([](const httplib::Request &req, httplib::Response &res, std::exception_ptr error) {
    std::string id = new_error_id();
    log_error("error id ", id, ": ", request_label(req), " failed: ", describe_exception(error));
    set_internal_error(res, id);
    close_unread_connection();
  });

  // Last word on the connection headers, for every answer httplib writes.
  // Whole seconds, rounded down: the client gives up on the connection first.
  const std::string keep_alive = "timeout=" + std::to_string(static_cast<long>(config_.keep_alive_timeout));
  http.set_post_routing_handler([keep_alive, &pool](const httplib::Request &req, httplib::Response &res) {
    bool close = req.get_header_value("Connection") == "close" || pool.stopping() ||
                 (current_connection && current_connection->close_after_response);
    res.headers.erase("Keep-Alive");
    if (close) {
      res.headers.erase("Connection");
      res.set_header("Connection", "close");
      if (current_connection) current_connection->close_after_response = true;
    } else {
      res.set_header("Keep-Alive", keep_alive);
    }
  });

  // Called once an answer is written. One line per answer: never headers or bodies,
  // which may carry credentials.
  Metrics &metrics = metrics_;
  http.set_logger([&metrics](const httplib::Request &req, const httplib::Response &res) {
    record_answer(metrics, req.method, req.path, res.status, req.remote_addr, res.body);
    // Health checks and scrapes, and heads cut short by a closed connection (the
    // client went away, or its connection was closed to make room), are not worth a line.
    bool cut_short = current_connection && current_connection->stream.failure() == ConnectionStream::Failure::closed;
    bool routine = req.path == "/health" || (req.path == "/metrics" && res.status == 200);
    LogLevel level = routine || cut_short ? LogLevel::debug : LogLevel::info;
    if (!log_enabled(level)) return;
    std::string peer = req.remote_addr;
    int port = 0;
    if (peer.empty() && current_connection) current_connection->stream.get_remote_ip_and_port(peer, port);
    std::ostringstream line;
    line << (peer.empty() ? "-" : peer) << " "
         << (req.method.empty() ? "(unparsable request)" : req.method + " " + printable_path(req.path)) << " "
         << res.status;
    if (auto length = parse_content_length(req.get_header_value("Content-Length")); length && *length > 0) {
      line << " in=" << *length;
    }
    line << " out=" << res.body.size();
    log_message(level, line.str());
  });
}

void HttpServer::bind() {
  config_.listen_port = bind_listener(*http_, config_.listen_host, config_.listen_port);
  widen_backlog_();
  if (metrics_http_) {
    config_.metrics_listen_port = bind_listener(*metrics_http_, config_.metrics_listen_host, config_.metrics_listen_port);
    widen_metrics_backlog_();
  }
}

std::string HttpServer::url() const { return url_of(config_.tls(), config_.listen_host, config_.listen_port); }

std::string HttpServer::metrics_url() const {
  if (!metrics_http_) return std::string();
  return url_of(false, config_.metrics_listen_host, config_.metrics_listen_port);
}

void HttpServer::stop_metrics_listener() {
  stop_when_running(*metrics_http_, *metrics_pool_, metrics_finished_);
  metrics_thread_.join();
}

bool HttpServer::run(const std::function<void()> &on_ready) {
  service_.start();
  service_started_ = true;

  if (metrics_http_) {
    metrics_finished_ = false;
    metrics_thread_ = std::thread([this] {
      if (!metrics_http_->listen_after_bind()) log_error("the metrics listener stopped unexpectedly");
      metrics_finished_ = true;
    });
  }

  // httplib's stop() only works once the accept loop runs, so a helper thread waits
  // for a stop request and for the loop to be running before forwarding it.
  std::thread stopper([this] {
    std::unique_lock<std::mutex> lock(stop_mutex_);
    stop_cv_.wait(lock, [this] { return stop_requested_ || run_finished_; });
    while (!run_finished_ && !http_->is_running()) {
      stop_cv_.wait_for(lock, std::chrono::milliseconds(5));
    }
    if (!run_finished_) {
      lock.unlock();
      http_->stop();
      // Idle connections close now, busy ones after their answer.
      pool_->stop_connections();
    }
  });

  if (on_ready) on_ready();
  // Returns once stopped, after the pool has finished every connection.
  bool ok = http_->listen_after_bind();

  {
    std::lock_guard<std::mutex> lock(stop_mutex_);
    run_finished_ = true;
  }
  stop_cv_.notify_all();
  stopper.join();
  if (metrics_thread_.joinable()) stop_metrics_listener();

  service_started_ = false;
  service_.stop();
  return ok;
}

void HttpServer::stop() {
  {
    std::lock_guard<std::mutex> lock(stop_mutex_);
    stop_requested_ = true;
  }
  stop_cv_.notify_all();
}

}  // namespace zumero::server
