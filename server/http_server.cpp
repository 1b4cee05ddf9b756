#include "server/http_server.h"

#include "server/logging.h"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <thread>

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

// The POST routes answered by the sync service.
const char *const kServiceRoutes[] = {
    "/push",           "/pull",          "/storage_usage",     "/auth_create",
    "/auth_add_user",  "/auth_add_alias", "/auth_set_password", "/auth_set_acl_entry",
};

constexpr unsigned kMinWorkers = 32;

// How much of an oversized request body is read and discarded before giving up.
constexpr std::size_t kDrainBytes = std::size_t(64) << 20;

void set_json_error(httplib::Response &res, int status, const std::string &error, const std::string &message) {
  res.status = status;
  res.set_content(json_error_body(error, message), "application/json");
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
  case 500: return "internal server error";
  case 503: return "service unavailable";
  default: return "request failed";
  }
}

bool is_body_method(const std::string &method) {
  return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

bool has_request_body(const httplib::Request &req) {
  if (req.has_header("Transfer-Encoding")) return true;
  if (!req.has_header("Content-Length")) return false;
  const std::string length = req.get_header_value("Content-Length");
  return !(length.empty() || length == "0");
}

}  // namespace

HttpServer::HttpServer(ServerConfig &config, Service &service) : config_(config), service_(service) {
  if (config_.tls()) {
    auto tls = std::make_unique<httplib::SSLServer>(config_.tls_cert_file.c_str(), config_.tls_key_file.c_str());
    if (!tls->is_valid()) {
      throw std::runtime_error("cannot load the TLS certificate '" + config_.tls_cert_file + "' or key '" +
                               config_.tls_key_file + "'");
    }
    http_ = std::move(tls);
  } else {
    http_ = std::make_unique<httplib::Server>();
  }

  unsigned workers = std::max(kMinWorkers, 2 * std::thread::hardware_concurrency());
  http_->new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
  http_->set_payload_max_length(config_.max_body_bytes);
  http_->set_read_timeout(30, 0);
  http_->set_write_timeout(30, 0);
  http_->set_keep_alive_timeout(5);
  // Replies leave in more than one write; without TCP_NODELAY each sync request waits
  // on delayed acknowledgements.
  http_->set_tcp_nodelay(true);
  install_routes();
}

HttpServer::~HttpServer() = default;

void HttpServer::install_routes() {
  httplib::Server &http = *http_;
  const std::size_t max_body = config_.max_body_bytes;

  // Reads the whole body, at most max_body bytes once decoded. On failure the
  // response is already filled in and false is returned.
  auto read_body = [max_body](const httplib::Request &req, httplib::Response &res,
                              const httplib::ContentReader &reader, std::string &body) {
    if (req.has_header("Content-Length")) {
      auto declared = req.get_header_value<std::uint64_t>("Content-Length");
      if (declared <= max_body) body.reserve(static_cast<std::size_t>(declared));
    }
    // Once over the limit, the rest of the body is read and dropped so that the client
    // sees the 413 instead of a reset connection, up to kDrainBytes more.
    const std::size_t drain_limit = max_body + std::min(kDrainBytes, SIZE_MAX - max_body);
    std::size_t received = 0;
    bool too_large = false;
    bool ok = reader([&](const char *data, std::size_t length) {
      received += std::min(length, SIZE_MAX - received);
      if (!too_large && length > max_body - body.size()) {
        too_large = true;
        std::string().swap(body);
      }
      if (too_large) return received <= drain_limit;
      body.append(data, length);
      return true;
    });
    if (ok && !too_large) return true;
    res.set_header("Connection", "close");
    if (too_large || res.status == 413) {
      log_warn("refused ", req.method, " ", req.path, " from ", req.remote_addr, ": body larger than ", max_body,
               " bytes");
      set_json_error(res, 413, "http_413", "request body larger than " + std::to_string(max_body) + " bytes");
    } else {
      set_json_error(res, 400, "http_400", "could not read the request body");
    }
    return false;
  };

  // Runs `handler` on the request, turning any exception into a 500.
  auto serve = [read_body](const httplib::Request &req, httplib::Response &res,
                           const httplib::ContentReader &reader,
                           const std::function<Response(const Request &)> &handler) {
    Request request;
    if (!read_body(req, res, reader, request.body)) return;
    request.path = req.path;
    request.remote_address = req.remote_addr;
    request.content_type = req.get_header_value("Content-Type");

    Response response;
    try {
      response = handler(request);
      if (response.status < 100 || response.status > 599) {
        log_error(req.path, ": the service answered with invalid HTTP status ", response.status);
        response = json_error(500, "http_500", "invalid response status");
      }
    } catch (const std::exception &e) {
      log_error(req.method, " ", req.path, " from ", req.remote_addr, " failed: ", e.what());
      response = json_error(500, "http_500", e.what());
    } catch (...) {
      log_error(req.method, " ", req.path, " from ", req.remote_addr, " failed with an unknown exception");
      response = json_error(500, "http_500", "internal error");
    }
    res.status = response.status;
    res.set_content(std::move(response.body), response.content_type);
  };

  for (const char *route : kServiceRoutes) {
    http.Post(route, [this, serve](const httplib::Request &req, httplib::Response &res,
                                   const httplib::ContentReader &reader) {
      serve(req, res, reader, [this](const Request &request) { return service_.handle(request); });
    });
  }

  http.Get("/health", [this](const httplib::Request &, httplib::Response &res) {
    if (service_started_.load()) {
      res.set_content("ok", "text/plain");
    } else {
      set_json_error(res, 503, "http_503", "starting");
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
        set_json_error(res, 400, "http_400", "ms must be an integer");
        return;
      }
      ms = std::clamp(ms, 0L, 60000L);
      log_info("debug sleep ", ms, " ms begins");
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      log_info("debug sleep ", ms, " ms ends");
      res.set_content("slept " + std::to_string(ms), "text/plain");
    };
    http.Get("/debug/sleep", sleep_route);
    http.Post("/debug/sleep", [read_body, sleep_route](const httplib::Request &req, httplib::Response &res,
                                                       const httplib::ContentReader &reader) {
      std::string body;
      if (read_body(req, res, reader, body)) sleep_route(req, res);
    });
    // Fails inside the request wrapper, to test the 500 path.
    http.Post("/debug/throw", [serve](const httplib::Request &req, httplib::Response &res,
                                      const httplib::ContentReader &reader) {
      serve(req, res, reader, [](const Request &) -> Response { throw std::runtime_error("zumero:debug_throw"); });
    });
  }

  // Any other request with a body: read it under the same limit, then 404.
  auto unknown_with_body = [read_body](const httplib::Request &req, httplib::Response &res,
                                       const httplib::ContentReader &reader) {
    std::string body;
    if (!read_body(req, res, reader, body)) return;
    set_json_error(res, 404, "http_404", "not found");
  };
  http.Post(".*", unknown_with_body);
  http.Put(".*", unknown_with_body);
  http.Patch(".*", unknown_with_body);
  http.Delete(".*", unknown_with_body);

  // Other methods carrying a body would have it buffered without the limit; refuse them.
  http.set_pre_routing_handler([](const httplib::Request &req, httplib::Response &res) {
    if (!is_body_method(req.method) && has_request_body(req)) {
      res.set_header("Connection", "close");
      set_json_error(res, 400, "http_400", "unexpected request body");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  // Errors produced by the HTTP layer itself (no route, malformed request...) get a
  // JSON body; responses that already have a body are left alone.
  http.set_error_handler(httplib::Server::HandlerWithResponse(
      [](const httplib::Request &, httplib::Response &res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        set_json_error(res, res.status, "http_" + std::to_string(res.status), status_message(res.status));
        return httplib::Server::HandlerResponse::Handled;
      }));

  http.set_exception_handler([](const httplib::Request &req, httplib::Response &res, std::exception_ptr error) {
    std::string what = "internal error";
    try {
      if (error) std::rethrow_exception(error);
    } catch (const std::exception &e) {
      what = e.what();
    } catch (...) {
    }
    log_error(req.method, " ", req.path, " failed: ", what);
    set_json_error(res, 500, "http_500", what);
  });

  http.set_logger([](const httplib::Request &req, const httplib::Response &res) {
    LogLevel level = req.path == "/health" ? LogLevel::debug : LogLevel::info;
    if (!log_enabled(level)) return;
    std::ostringstream line;
    line << (req.remote_addr.empty() ? "-" : req.remote_addr) << " "
         << (req.method.empty() ? "(unparsable request)" : req.method + " " + req.path) << " " << res.status;
    if (req.has_header("Content-Length")) line << " in=" << req.get_header_value("Content-Length");
    line << " out=" << res.body.size();
    log_message(level, line.str());
  });
}

void HttpServer::bind() {
  const std::string &host = config_.listen_host;
  int port = config_.listen_port;
  if (port == 0) {
    port = http_->bind_to_any_port(host);
    if (port <= 0) throw std::runtime_error("cannot listen on " + host + ":0");
  } else if (!http_->bind_to_port(host, port)) {
    throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port));
  }
  config_.listen_port = port;
}

std::string HttpServer::url() const {
  std::string host = config_.listen_host;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return std::string(config_.tls() ? "https" : "http") + "://" + host + ":" + std::to_string(config_.listen_port);
}

bool HttpServer::run(const std::function<void()> &on_ready) {
  service_.start();
  service_started_ = true;

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
    }
  });

  if (on_ready) on_ready();
  // Returns once stopped, after the worker pool has finished every queued request.
  bool ok = http_->listen_after_bind();

  {
    std::lock_guard<std::mutex> lock(stop_mutex_);
    run_finished_ = true;
  }
  stop_cv_.notify_all();
  stopper.join();

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
