// Server side of a pull: the changes between the client's base version and a target
// version, read through the version indexes so the cost follows the number of changes.
// Rows are sent as they were at the target, even when the server has moved on, so a
// pull delivered in several parts describes one consistent version.
//
// A part ends once it holds about chunk_bytes; its cursor says where the next part
// starts: the phase (rows, then history), the table (by its place among the dbfile's
// tables in creation order, which never changes) and the last identity sent there.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "base/sqlite_api.h"

namespace zumero::server {

struct PullCursor {
  int phase = 0;                       // 0: from the start, 1: rows, 2: history
  std::int64_t table = 0;              // index among the tables in creation order
  std::optional<std::int64_t> after;   // last identity (rows) or history entry sent
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
  std::string package;
  std::int64_t target = 0;
  bool partial = false;
  PullCursor next;
  std::size_t rows = 0;  // row states in the package (history entries not counted)
};

// Runs in the caller's read transaction on the dbfile.
PullResult build_pull(sqlite3 *db, const PullRequest &request, std::int64_t current_version);

// The cursor as it travels in the pull header; parse throws zumero::Error
// (invalid_argument) for anything but a cursor this server could have written.
nlohmann::json cursor_json(const PullCursor &cursor);
PullCursor parse_cursor(const nlohmann::json &json);

}  // namespace zumero::server
