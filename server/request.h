// The boundary between the HTTP layer and the sync service.
#pragma once

#include "server/server_config.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace zumero::server {

struct Request {
  std::string method = "POST";
  std::string path;            // e.g. "/push", without any query string
  std::string body;            // raw request body, after any transfer/content decoding
  std::string remote_address;  // peer IP address
  std::string content_type;    // the request's Content-Type header, possibly empty
  std::string authorization;   // the Authorization header of GET requests, possibly empty
  // Arrived on the --metrics-listen address, which answers without credentials.
  bool private_listener = false;
};

struct Response {
  Response(int status_code = 200, std::string body_bytes = std::string(),
           std::string type = "application/octet-stream")
      : status(status_code), body(std::move(body_bytes)), content_type(std::move(type)) {}

  int status;
  std::string body;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Type
  // For the list of recent requests on the status page: what the service learned.
  std::string dbfile;
  std::string user;
};

// Builds the JSON error body {"error": error, "message": message}.
std::string json_error_body(const std::string &error, const std::string &message);

// A Response carrying a JSON error body.
Response json_error(int status, const std::string &error, const std::string &message);

// Handles the POST routes, and the GET routes /metrics and /status. Both are called
// concurrently from many worker threads. An exception escaping them becomes an HTTP
// 500 with a JSON error body.
class Service {
public:
  virtual ~Service() = default;
  virtual Response handle(const Request &request) = 0;  // POST routes
  virtual Response handle_get(const Request &) { return json_error(404, "http_404", "not found"); }
  virtual void start() {}  // called once the server is about to accept requests
  virtual void stop() {}   // called after the last request finished
};

class Metrics;

// Creates the service that answers the sync routes. `config` and `metrics` outlive the
// service.
std::unique_ptr<Service> make_sync_service(const ServerConfig &config, Metrics &metrics);

}  // namespace zumero::server
