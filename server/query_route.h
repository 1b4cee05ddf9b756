// POST /query: one SELECT on the server's copy of a dbfile, for identities that may
// pull it, under an SQLite authorizer that allows reading and nothing else (no write,
// no ATTACH, no PRAGMA, no housekeeping tables, no function outside the built-in list),
// with a row cap and a time limit. The answer is JSON: {"columns": [...], "rows": [[...],
// ...], "truncated": bool}; values are numbers, strings, null, or for blobs the string
// x'hex'.
#pragma once
#include <cstddef>

#include "server/storage.h"
#include "server/permissions.h"
#include "server/request.h"
#include "server/request_context.h"

namespace zumero::server {

struct QueryLimits {
  std::size_t max_rows = 10000;
  int timeout_ms = 2000;
};

Response run_query(Storage &store, Permissions &permissions, RequestContext &context, const QueryLimits &limits);

}  // namespace zumero::server
