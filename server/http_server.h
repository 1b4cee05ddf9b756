// The HTTP(S) front end of zumero-server: routes requests to the sync Service,
// checks request framing and the body size limit before reading a body, bounds how
// long slow or silent clients hold a connection (connection_stream.h) and how many
// connections are served at once (connection_pool.h), turns failures into JSON
// errors and shuts down gracefully.
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

namespace httplib {
class Server;
}

namespace zumero::server {

class ConnectionPool;

class HttpServer {
public:
  // `config` and `service` must outlive the HttpServer. Throws std::runtime_error when
  // the TLS certificate or key cannot be loaded.
  HttpServer(ServerConfig &config, Service &service);
  ~HttpServer();
  HttpServer(const HttpServer &) = delete;
  HttpServer &operator=(const HttpServer &) = delete;

  // Binds and listens on config.listen_host:config.listen_port; with port 0 the chosen
  // port is written back to config.listen_port. Throws std::runtime_error on failure.
  void bind();

  // "http://HOST:PORT" or "https://HOST:PORT" for the bound address.
  std::string url() const;

  // Calls Service::start(), then on_ready(), then serves requests until stop(). Returns
  // after every request in flight has finished and Service::stop() has been called.
  // Returns false when the server could not run.
  bool run(const std::function<void()> &on_ready);

  // Asks run() to stop accepting connections and return. Safe from any thread, at any
  // time (also before run() started), any number of times.
  void stop();

private:
  void install_routes();

  ServerConfig &config_;
  Service &service_;
  std::unique_ptr<ConnectionPool> pool_;
  std::unique_ptr<httplib::Server> http_;
  std::function<void()> widen_backlog_;  // of the bound listening socket
  std::atomic<bool> service_started_{false};

  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stop_requested_ = false;
  bool run_finished_ = false;
};

}  // namespace zumero::server
