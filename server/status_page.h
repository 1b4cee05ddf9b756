// The admin status page (GET /status): one self-contained HTML document, with inline
// CSS and an inline SVG chart, no script and no external asset. Every string that
// comes from outside (dbfile names, paths, user names, addresses, error messages) is
// escaped.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/metrics.h"

namespace zumero::server {

struct DbfileStatus {
  std::string name;
  std::uint64_t bytes = 0;                   // database and write-ahead log
  std::optional<std::int64_t> version;       // nullopt when it could not be read
  std::optional<Metrics::SystemClock::time_point> last_sync;  // since the server started
};

struct StatusPageData {
  Metrics::SystemClock::time_point now;
  Metrics::SystemClock::time_point started;
  std::string node;
  std::string backend;
  std::optional<Metrics::SystemClock::time_point> last_backup;
  std::vector<DbfileStatus> dbfiles;
  std::size_t dbfiles_not_shown = 0;
  std::uint64_t dbfile_bytes = 0;  // all dbfiles, shown or not
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;
  std::uint64_t rows_pushed = 0;
  std::uint64_t rows_pulled = 0;
  std::vector<Metrics::RequestRecord> recent_requests;  // newest first
  std::vector<Metrics::RequestRecord> recent_errors;    // newest first
  std::vector<Metrics::MinuteCount> syncs_per_minute;   // oldest first
};

std::string render_status_page(const StatusPageData &data);

// &, <, >, " and ' as character references; bytes that are not valid UTF-8 as U+FFFD.
std::string html_escape(std::string_view text);

}  // namespace zumero::server
