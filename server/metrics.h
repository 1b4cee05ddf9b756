// What the server has done since it started, for GET /metrics (Prometheus text
// format) and GET /status (the admin page).
//
// Counters live in a fixed label space (routes, status codes, conflict situations and
// actions known in advance), each one a relaxed atomic, so recording a request costs a
// few atomic additions and no lock. Only the rings of recent requests and errors, and
// the last sync time per dbfile, share one mutex, held to move one record in.
//
// Every answer is recorded once, by the HTTP layer when it has written the answer
// (HttpServer); the sync service adds rows pushed and pulled and conflicts; the backup
// code calls set_last_backup() after each complete backup.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/conflict_actions.h"

namespace zumero::server {

class Metrics {
public:
  using SystemClock = std::chrono::system_clock;

  // The routes requests are counted by; every other path counts as "other".
  static constexpr std::array<std::string_view, 14> kRoutes = {
      "/push",           "/pull",           "/versions",          "/storage_usage", "/query",
      "/auth_create",    "/auth_add_user",  "/auth_add_alias",    "/auth_set_password",
      "/auth_set_acl_entry", "/health",     "/metrics",           "/status",        "other"};
  // Upper bounds of the latency histogram, in seconds (+Inf follows).
  static constexpr std::array<double, 14> kLatencyBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                             0.25,  0.5,    1,     2.5,  5,     10,   30};
  static constexpr std::size_t kRecentRequests = 100;
  static constexpr std::size_t kRecentErrors = 50;
  static constexpr std::size_t kMinutes = 60;

  // One answered request. dbfile and user come from the service when it knew them;
  // error and message from a JSON error body.
  struct RequestRecord {
    SystemClock::time_point time;
    std::string method;
    std::string path;  // printable (control bytes escaped), cut short
    int status = 0;
    double seconds = 0;
    std::uint64_t bytes_in = 0;   // request head and body as received (TLS removed)
    std::uint64_t bytes_out = 0;  // response head and body as sent
    std::string remote_address;
    std::string dbfile;
    std::string user;
    std::string error;
    std::string message;
  };

  // What one push did, counted as it was applied.
  struct PushCounts {
    std::uint64_t rows = 0;
    // [situation - 1][action index]: see conflict_action_index().
    std::array<std::array<std::uint64_t, 4>, 3> conflicts{};
  };

  // Syncs (answered /push and /pull requests that succeeded) in one minute.
  struct MinuteCount {
    std::int64_t minute = 0;  // minutes since the Unix epoch
    std::uint64_t pushes = 0;
    std::uint64_t pulls = 0;
  };

  // What the data directory holds, measured when the metrics are asked for.
  struct StorageSummary {
    std::uint64_t dbfiles = 0;
    std::uint64_t bytes = 0;
    std::string node;     // this server among several
    std::string backend;  // Storage::kind()
  };

  Metrics();
  Metrics(const Metrics &) = delete;
  Metrics &operator=(const Metrics &) = delete;

  void record_request(RequestRecord record);
  // A push that committed.
  void record_push(const PushCounts &counts);
  // A conflict whose rule rejected the package (the push then commits nothing).
  void record_rejected_conflict(conflict::Situation situation);
  void record_pulled_rows(std::uint64_t rows);
  // After each complete backup; zumero_backup_age_seconds is -1 until the first.
  void set_last_backup(SystemClock::time_point when);

  // Index of an action as resolved by the rules (accept, ignore, reject, column
  // merge); the text merge flag is dropped. nullopt for anything else.
  static std::optional<std::size_t> conflict_action_index(std::int64_t action);

  // The whole exposition, in Prometheus text format 0.0.4.
  std::string prometheus_text(const StorageSummary &storage) const;

  // For the status page.
  SystemClock::time_point started() const { return started_; }
  std::optional<SystemClock::time_point> last_backup() const;
  std::vector<RequestRecord> recent_requests() const;  // newest first
  std::vector<RequestRecord> recent_errors() const;    // newest first
  std::map<std::string, SystemClock::time_point> last_syncs() const;
  // The last kMinutes minutes up to `now`, oldest first.
  std::vector<MinuteCount> syncs_per_minute(SystemClock::time_point now) const;
  std::uint64_t requests_total() const;
  std::uint64_t errors_total() const;
  std::uint64_t rows_pushed() const { return rows_pushed_.load(std::memory_order_relaxed); }
  std::uint64_t rows_pulled() const { return rows_pulled_.load(std::memory_order_relaxed); }

private:
  static constexpr int kLowestStatus = 100;
  static constexpr int kStatuses = 500;  // 100 to 599

  struct RouteCounters {
    std::array<std::atomic<std::uint64_t>, kStatuses> by_status{};
    std::array<std::atomic<std::uint64_t>, kLatencyBuckets.size() + 1> latency{};  // not cumulative
    std::atomic<std::uint64_t> latency_microseconds{0};
    std::atomic<std::uint64_t> bytes_in{0};
    std::atomic<std::uint64_t> bytes_out{0};
  };

  // A minute's counts in one word, so a new minute replaces an old one atomically:
  // the minute since the epoch modulo 2^20 (upper 20 bits), then pushes and pulls
  // (22 bits each, saturating at about 4 million a minute).
  static void count_sync(std::atomic<std::uint64_t> &slot, std::int64_t minute, bool push);
  void remember(RequestRecord record, bool sync);

  const SystemClock::time_point started_;
  std::array<RouteCounters, kRoutes.size()> routes_;
  std::atomic<std::uint64_t> rows_pushed_{0};
  std::atomic<std::uint64_t> rows_pulled_{0};
  std::atomic<std::uint64_t> pushes_{0};
  std::array<std::array<std::atomic<std::uint64_t>, 4>, 3> conflicts_{};
  std::atomic<std::int64_t> last_backup_microseconds_{-1};
  std::array<std::atomic<std::uint64_t>, kMinutes> minutes_{};

  mutable std::mutex recent_mutex_;
  std::deque<RequestRecord> recent_requests_;
  std::deque<RequestRecord> recent_errors_;
  std::map<std::string, SystemClock::time_point> last_syncs_;
};

// The route label of a request path: one of Metrics::kRoutes.
std::size_t metrics_route_index(std::string_view path);

// A label value escaped for the Prometheus text format: backslash, double quote and
// line feed become \\, \" and \n.
std::string prometheus_label_value(std::string_view value);

}  // namespace zumero::server
