// The boundary between the HTTP layer and the sync service.
#pragma once

#include "server/server_config.h"

#include <memory>
#include <string>

namespace zumero::server {

struct Request {
  std::string path;            // e.g. "/push", without any query string
  std::string body;            // raw request body, after any transfer/content decoding
  std::string remote_address;  // peer IP address
  std::string content_type;    // the request's Content-Type header, possibly empty
};

struct Response {
  int status = 200;
  std::string body;
  std::string content_type = "application/octet-stream";
};

// Handles the POST routes. handle() is called concurrently from many worker threads.
// An exception escaping handle() becomes an HTTP 500 with a JSON error body.
class Service {
public:
  virtual ~Service() = default;
  virtual Response handle(const Request &request) = 0;  // POST routes
  virtual void start() {}  // called once the server is about to accept requests
  virtual void stop() {}   // called after the last request finished
};

// Creates the service that answers the sync routes. `config` outlives the service.
std::unique_ptr<Service> make_sync_service(const ServerConfig &config);

// Builds the JSON error body {"error": error, "message": message}.
std::string json_error_body(const std::string &error, const std::string &message);

// A Response carrying a JSON error body.
Response json_error(int status, const std::string &error, const std::string &message);

}  // namespace zumero::server
