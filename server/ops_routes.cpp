#include "server/ops_routes.h"

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "base/sql.h"
#include "server/identity.h"
#include "server/logging.h"
#include "server/request_header.h"
#include "server/status_page.h"
#include "sync/protocol.h"

namespace zumero::server {
namespace {

constexpr const char *kAdmins = "zumero_users_admin";
// The status page reads the version of at most this many dbfiles.
constexpr std::size_t kMaxListedDbfiles = 500;

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Standard base64 with padding; nullopt for anything else.
std::optional<std::string> decode_base64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < text.size(); i += 4) {
    int values[4];
    int padding = 0;
    for (int k = 0; k < 4; ++k) {
      char c = text[i + k];
      bool last_group = i + 4 == text.size();
      if (c == '=' && last_group && k >= 2 && (k == 3 || text[i + 3] == '=')) {
        values[k] = 0;
        ++padding;
        continue;
      }
      if (padding) return std::nullopt;
      values[k] = base64_value(c);
      if (values[k] < 0) return std::nullopt;
    }
    std::uint32_t bits = (values[0] << 18) | (values[1] << 12) | (values[2] << 6) | values[3];
    out += static_cast<char>(bits >> 16);
    if (padding < 2) out += static_cast<char>((bits >> 8) & 0xff);
    if (padding < 1) out += static_cast<char>(bits & 0xff);
  }
  return out;
}

Response challenge(const std::string &message) {
  Response response = json_error(401, "authentication_failed", message);
  response.headers.emplace_back("WWW-Authenticate", "Basic realm=\"zumero-server\", charset=\"UTF-8\"");
  return response;
}

void no_store(Response &response) { response.headers.emplace_back("Cache-Control", "no-store"); }

struct DbfileEntry {
  std::string name;
  std::uint64_t bytes = 0;
};

// The dbfiles the store holds, by name, with their sizes.
std::vector<DbfileEntry> list_dbfiles(Storage &store) {
  std::vector<DbfileEntry> dbfiles;
  for (const std::string &name : store.list()) {
    std::int64_t bytes = store.size(name);
    dbfiles.push_back({name, static_cast<std::uint64_t>(std::max<std::int64_t>(bytes, 0))});
  }
  std::sort(dbfiles.begin(), dbfiles.end(), [](const auto &a, const auto &b) { return a.name < b.name; });
  return dbfiles;
}

}  // namespace

std::optional<BasicCredentials> parse_basic_authorization(const std::string &header) {
  std::size_t space = header.find(' ');
  if (space == std::string::npos) return std::nullopt;
  std::string scheme = header.substr(0, space);
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
  if (scheme != "basic") return std::nullopt;
  std::size_t start = header.find_first_not_of(' ', space);
  std::size_t end = header.find_last_not_of(' ');
  if (start == std::string::npos) return std::nullopt;
  std::optional<std::string> decoded = decode_base64(std::string_view(header).substr(start, end - start + 1));
  if (!decoded) return std::nullopt;
  std::size_t colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return BasicCredentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

std::optional<std::string> OpsRoutes::admitted(const Request &request) {
  if (request.private_listener) return std::string();
  std::optional<BasicCredentials> credentials = parse_basic_authorization(request.authorization);
  if (!credentials) return std::nullopt;
  nlohmann::json auth = {
      {"scheme", internal_scheme(kAdmins)}, {"user", credentials->user}, {"password", credentials->password}};
  try {
    Identity identity = authenticator_.authenticate(auth, request.remote_address);
    if (!permissions_.member_of(identity, kAdmins)) return std::nullopt;
    return identity.user;
  } catch (const Refusal &) {
    return std::nullopt;
  }
}

Response OpsRoutes::handle(const Request &request) {
  if (request.path != "/metrics" && request.path != "/status") return json_error(404, "http_404", "not found");
  bool offered = !request.authorization.empty();
  std::optional<std::string> admin = admitted(request);
  if (!admin) {
    Response refused = challenge(offered ? "authentication failed" : "authentication required");
    if (offered) refused.user = parse_basic_authorization(request.authorization).value_or(BasicCredentials{}).user;
    return refused;
  }
  Response response = request.path == "/metrics" ? metrics_text() : status_page();
  response.user = *admin;
  return response;
}

Response OpsRoutes::metrics_text() {
  Metrics::StorageSummary storage;
  storage.node = node_();
  storage.backend = store_.kind();
  for (const DbfileEntry &dbfile : list_dbfiles(store_)) {
    ++storage.dbfiles;
    storage.bytes += dbfile.bytes;
  }
  Response response;
  response.body = metrics_.prometheus_text(storage);
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  no_store(response);
  return response;
}

Response OpsRoutes::status_page() {
  StatusPageData data;
  data.now = Metrics::SystemClock::now();
  data.started = metrics_.started();
  data.node = node_();
  data.backend = store_.kind();
  data.last_backup = metrics_.last_backup();
  const std::map<std::string, Metrics::SystemClock::time_point> last_syncs = metrics_.last_syncs();
  for (const DbfileEntry &dbfile : list_dbfiles(store_)) {
    data.dbfile_bytes += dbfile.bytes;
    if (data.dbfiles.size() == kMaxListedDbfiles) {
      ++data.dbfiles_not_shown;
      continue;
    }
    DbfileStatus status;
    status.name = dbfile.name;
    status.bytes = dbfile.bytes;
    try {
      std::optional<PooledConnection> found = store_.try_read(dbfile.name);
      if (!found) continue;
      PooledConnection &connection = *found;
      Transaction read(connection.get(), "BEGIN");
      status.version = current_version(connection.get());
      read.commit();
    } catch (const std::exception &failure) {
      log_debug("status page: cannot read the version of ", dbfile.name, ": ", failure.what());
    }
    auto synced = last_syncs.find(dbfile.name);
    if (synced != last_syncs.end()) status.last_sync = synced->second;
    data.dbfiles.push_back(std::move(status));
  }
  data.requests = metrics_.requests_total();
  data.errors = metrics_.errors_total();
  data.rows_pushed = metrics_.rows_pushed();
  data.rows_pulled = metrics_.rows_pulled();
  data.recent_requests = metrics_.recent_requests();
  data.recent_errors = metrics_.recent_errors();
  data.syncs_per_minute = metrics_.syncs_per_minute(data.now);

  Response response;
  response.body = render_status_page(data);
  response.content_type = "text/html; charset=utf-8";
  no_store(response);
  // Nothing but the page's own inline styles may load or run.
  response.headers.emplace_back("Content-Security-Policy",
                                "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return response;
}

}  // namespace zumero::server
