// Stand-in for the sync service: answers every POST route with 501 until the
// real implementation provides make_sync_service().
#include "server/request.h"

namespace zumero::server {
namespace {

class PlaceholderService final : public Service {
public:
  Response handle(const Request &) override { return json_error(501, "http_other", "placeholder service: no sync routes"); }
};

}  // namespace

std::unique_ptr<Service> make_sync_service(const ServerConfig &, Metrics &) { return std::make_unique<PlaceholderService>(); }

}  // namespace zumero::server
