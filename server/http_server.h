// The HTTP(S) front end of zumero-server: routes requests to the sync Service,
// checks request framing and the body size limit before reading a body, bounds how
// long slow or silent clients hold a connection (connection_stream.h) and how many
// connections are served at once (connection_pool.h), turns failures into JSON
// errors and shuts down gracefully.
//
// Every answer is counted in Metrics once it is sent (route, status, latency, bytes).
// With config.metrics_listen_port set, a second, plain-HTTP listener answers GET
// /metrics, /status and /health without credentials: it belongs on a private address.
//
// Nothing here logs request headers or bodies: credentials travel in bodies.
#pragma once

#include "server/request.h"
#include "server/server_config.h"

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace httplib {
class Server;
}

namespace zumero::server {

class ConnectionPool;
class Metrics;

class HttpServer {
public:
  // `config`, `service` and `metrics` must outlive the HttpServer. Throws
  // std::runtime_error when the TLS certificate or key cannot be loaded.
  HttpServer(ServerConfig &config, Service &service, Metrics &metrics);
  ~HttpServer();
  HttpServer(const HttpServer &) = delete;
  HttpServer &operator=(const HttpServer &) = delete;

  // Binds and listens on config.listen_host:config.listen_port, and on the metrics
  // address when there is one; with port 0 the chosen port is written back to the
  // config. Throws std::runtime_error on failure.
  void bind();

  // "http://HOST:PORT" or "https://HOST:PORT" for the bound address.
  std::string url() const;
  // "http://HOST:PORT" of the metrics listener; empty without one.
  std::string metrics_url() const;

  // Calls Service::start(), then on_ready(), then serves requests until stop(). Returns
  // after every request in flight has finished and Service::stop() has been called.
  // Returns false when the server could not run.
  bool run(const std::function<void()> &on_ready);

  // Asks run() to stop accepting connections and return. Safe from any thread, at any
  // time (also before run() started), any number of times.
  void stop();

private:
  void install_routes();
  void install_metrics_routes();
  void install_common_handlers(httplib::Server &http, ConnectionPool &pool);
  void stop_metrics_listener();

  ServerConfig &config_;
  Service &service_;
  Metrics &metrics_;
  std::unique_ptr<ConnectionPool> pool_;
  std::unique_ptr<httplib::Server> http_;
  std::function<void()> widen_backlog_;  // of the bound listening socket
  std::atomic<bool> service_started_{false};

  // The --metrics-listen address, when configured.
  std::unique_ptr<ConnectionPool> metrics_pool_;
  std::unique_ptr<httplib::Server> metrics_http_;
  std::function<void()> widen_metrics_backlog_;
  std::thread metrics_thread_;
  std::atomic<bool> metrics_finished_{false};

  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stop_requested_ = false;
  bool run_finished_ = false;
};

}  // namespace zumero::server
