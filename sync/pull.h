// Server side of a pull: the changes between the client's base version and a target
// version, read through the version index so the cost follows the number of changes.
// Rows are sent as they were at the target, even when the server has moved on, so a
// pull delivered in several parts describes one consistent version.
#pragma once
#include <cstdint>
#include <string>

#include "sync/package.h"

namespace zumero::sync {

struct PullCursor {
  int phase = 0;  // 0 schema, 1 rows, 2 history
  std::string table;
  std::int64_t after = 0;
};

struct PullRequest {
  std::int64_t base = 0;
  std::int64_t target = 0;   // 0: the current version
  std::int64_t exclude = 0;  // the client's own version: rows it already has
  bool history = true;
  PullCursor cursor;
  std::size_t chunk_bytes = 4 << 20;
};

struct PullResult {
  Package package;
  std::int64_t target = 0;
  bool partial = false;
  PullCursor next;
};

// Runs in the caller's read transaction on the dbfile.
PullResult build_pull(sqlite3 *db, const PullRequest &request, std::int64_t current_version);

}  // namespace zumero::sync
