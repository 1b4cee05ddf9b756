// What every route of the sync service receives: the request, its parsed header and
// package, who sent it, the dbfile it names, and the log entry the route fills in.
#pragma once
#include <string>

#include "server/identity.h"
#include "server/request.h"
#include "server/request_header.h"
#include "server/server_log.h"

namespace zumero::server {

struct RequestContext {
  const Request &request;
  RequestHeader header;
  std::string package;
  LogEntry &log;
  Identity identity;
  std::string dbfile;
};

}  // namespace zumero::server
