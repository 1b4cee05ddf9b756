// The operator's GET routes: /metrics (Prometheus text format) and /status (an HTML
// page). On the main listener they answer only users of zumero_users_admin, who give
// their name and password by HTTP Basic authentication (every other route takes
// credentials in the POST envelope, which a browser or a scraper cannot send); anyone
// else gets 401 with a WWW-Authenticate challenge. On the --metrics-listen address,
// meant to be reachable only from a private network, they answer without credentials.
#pragma once
#include <functional>
#include <optional>
#include <string>

#include "server/storage.h"
#include "server/internal_auth.h"
#include "server/metrics.h"
#include "server/permissions.h"
#include "server/request.h"

namespace zumero::server {

class OpsRoutes {
public:
  // `node` names this server among several (host and port), shown with the backend.
  OpsRoutes(Storage &store, Authenticator &authenticator, Permissions &permissions, Metrics &metrics,
            std::function<std::string()> node)
      : store_(store), authenticator_(authenticator), permissions_(permissions), metrics_(metrics),
        node_(std::move(node)) {}

  Response handle(const Request &request);

private:
  // The admin's user name when the request may see these routes (empty on the
  // private listener); nullopt otherwise.
  std::optional<std::string> admitted(const Request &request);
  Response metrics_text();
  Response status_page();

  Storage &store_;
  Authenticator &authenticator_;
  Permissions &permissions_;
  Metrics &metrics_;
  std::function<std::string()> node_;  // asked each time: the port is known once listening
};

// The user name and password of an "Authorization: Basic ..." header value; nullopt
// when it is not one (another scheme, bad base64, no colon).
struct BasicCredentials {
  std::string user;
  std::string password;
};
std::optional<BasicCredentials> parse_basic_authorization(const std::string &header);

}  // namespace zumero::server
