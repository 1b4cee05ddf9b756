#include "server/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace zumero::server {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

constexpr std::array<std::string_view, 3> kSituationLabels = {"del_after_mod", "mod_after_del", "mod_after_mod"};
constexpr std::array<std::string_view, 4> kActionLabels = {"accept", "ignore", "reject", "column_merge"};
constexpr std::size_t kColumnMergeIndex = 3;

constexpr int kMinuteBits = 20;
constexpr int kCountBits = 22;
constexpr std::uint64_t kCountMask = (std::uint64_t(1) << kCountBits) - 1;
constexpr std::uint64_t kMinuteMask = (std::uint64_t(1) << kMinuteBits) - 1;

std::int64_t minute_of(Metrics::SystemClock::time_point time) {
  return std::chrono::duration_cast<std::chrono::minutes>(time.time_since_epoch()).count();
}

std::int64_t microseconds_of(Metrics::SystemClock::time_point time) {
  return std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count();
}

bool is_sync(std::string_view route, int status) {
  if (route == "/push") return status == 200;
  if (route == "/pull") return status == 200 || status == 304;
  return false;
}

// Requests that would crowd the lists of recent requests: health checks, scrapes and
// the status page itself when they succeed, and the 401 challenge a browser or a
// scraper gets before it sends credentials (no user named).
bool is_routine(std::string_view route, const Metrics::RequestRecord &record) {
  bool ops = route == "/metrics" || route == "/status";
  if (record.status < 400) return ops || route == "/health";
  return ops && record.status == 401 && record.user.empty();
}

// A number as Prometheus reads it: integers without a fraction, others in the
// shortest form that reads back the same.
std::string number(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value)) return "NaN";
  char text[32];
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(text, sizeof text, "%.0f", value);
    return text;
  }
  std::snprintf(text, sizeof text, "%.17g", value);
  for (int precision = 1; precision < 17; ++precision) {
    char shorter[32];
    std::snprintf(shorter, sizeof shorter, "%.*g", precision, value);
    if (std::strtod(shorter, nullptr) == value) return shorter;
  }
  return text;
}

class Exposition {
public:
  // One metric family: HELP and TYPE, then its samples.
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    for (char c : help) {
      if (c == '\\') out_ += "\\\\";
      else if (c == '\n') out_ += "\\n";
      else out_ += c;
    }
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }

  using Labels = std::vector<std::pair<std::string_view, std::string>>;

  void sample(std::string_view name, const Labels &labels, const std::string &value) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      for (std::size_t i = 0; i < labels.size(); ++i) {
        if (i) out_ += ',';
        out_ += labels[i].first;
        out_ += "=\"";
        out_ += prometheus_label_value(labels[i].second);
        out_ += '"';
      }
      out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }
  void sample(std::string_view name, const Labels &labels, std::uint64_t value) {
    sample(name, labels, std::to_string(value));
  }

  std::string take() { return std::move(out_); }

private:
  std::string out_;
};

}  // namespace

std::size_t metrics_route_index(std::string_view path) {
  for (std::size_t i = 0; i + 1 < Metrics::kRoutes.size(); ++i)
    if (Metrics::kRoutes[i] == path) return i;
  return Metrics::kRoutes.size() - 1;
}

std::string prometheus_label_value(std::string_view value) {
  std::string escaped;
  escaped.reserve(value.size());
  for (char c : value) {
    if (c == '\\') escaped += "\\\\";
    else if (c == '"') escaped += "\\\"";
    else if (c == '\n') escaped += "\\n";
    else escaped += c;
  }
  return escaped;
}

Metrics::Metrics() : started_(SystemClock::now()) {}

std::optional<std::size_t> Metrics::conflict_action_index(std::int64_t action) {
  switch (action & ~conflict::action::kAttemptTextMerge) {
    case conflict::action::kAccept: return 0;
    case conflict::action::kIgnore: return 1;
    case conflict::action::kReject: return 2;
    case conflict::action::kColumnMerge: return kColumnMergeIndex;
    default: return std::nullopt;
  }
}

void Metrics::record_request(RequestRecord record) {
  std::size_t route = metrics_route_index(record.path);
  RouteCounters &counters = routes_[route];
  if (record.status >= kLowestStatus && record.status < kLowestStatus + kStatuses)
    counters.by_status[static_cast<std::size_t>(record.status - kLowestStatus)].fetch_add(1, kRelaxed);
  double seconds = std::max(0.0, record.seconds);
  std::size_t bucket = 0;
  while (bucket < kLatencyBuckets.size() && seconds > kLatencyBuckets[bucket]) ++bucket;
  counters.latency[bucket].fetch_add(1, kRelaxed);
  counters.latency_microseconds.fetch_add(static_cast<std::uint64_t>(std::llround(seconds * 1e6)), kRelaxed);
  counters.bytes_in.fetch_add(record.bytes_in, kRelaxed);
  counters.bytes_out.fetch_add(record.bytes_out, kRelaxed);

  bool sync = is_sync(kRoutes[route], record.status);
  if (sync) count_sync(minutes_[static_cast<std::size_t>(minute_of(record.time)) % kMinutes], minute_of(record.time),
                       kRoutes[route] == "/push");
  if (!is_routine(kRoutes[route], record)) remember(std::move(record), sync);
}

void Metrics::count_sync(std::atomic<std::uint64_t> &slot, std::int64_t minute, bool push) {
  const std::uint64_t stamp = static_cast<std::uint64_t>(minute) & kMinuteMask;
  std::uint64_t old = slot.load(kRelaxed);
  for (;;) {
    std::uint64_t pushes = 0, pulls = 0;
    if ((old >> (2 * kCountBits)) == stamp) {
      pushes = (old >> kCountBits) & kCountMask;
      pulls = old & kCountMask;
    }
    std::uint64_t &counted = push ? pushes : pulls;
    if (counted < kCountMask) ++counted;
    std::uint64_t now = (stamp << (2 * kCountBits)) | (pushes << kCountBits) | pulls;
    if (slot.compare_exchange_weak(old, now, kRelaxed)) return;
  }
}

void Metrics::remember(RequestRecord record, bool sync) {
  std::lock_guard<std::mutex> lock(recent_mutex_);
  if (sync && !record.dbfile.empty()) last_syncs_[record.dbfile] = record.time;
  if (record.status >= 400) {
    if (recent_errors_.size() == kRecentErrors) recent_errors_.pop_front();
    recent_errors_.push_back(record);
  }
  if (recent_requests_.size() == kRecentRequests) recent_requests_.pop_front();
  recent_requests_.push_back(std::move(record));
}

void Metrics::record_push(const PushCounts &counts) {
  pushes_.fetch_add(1, kRelaxed);
  rows_pushed_.fetch_add(counts.rows, kRelaxed);
  for (std::size_t s = 0; s < counts.conflicts.size(); ++s)
    for (std::size_t a = 0; a < counts.conflicts[s].size(); ++a)
      if (counts.conflicts[s][a]) conflicts_[s][a].fetch_add(counts.conflicts[s][a], kRelaxed);
}

void Metrics::record_rejected_conflict(conflict::Situation situation) {
  std::size_t index = static_cast<std::size_t>(situation) - 1;
  if (index < conflicts_.size()) conflicts_[index][2].fetch_add(1, kRelaxed);
}

void Metrics::record_pulled_rows(std::uint64_t rows) { rows_pulled_.fetch_add(rows, kRelaxed); }

void Metrics::set_last_backup(SystemClock::time_point when) {
  last_backup_microseconds_.store(microseconds_of(when), std::memory_order_release);
}

std::optional<Metrics::SystemClock::time_point> Metrics::last_backup() const {
  std::int64_t microseconds = last_backup_microseconds_.load(std::memory_order_acquire);
  if (microseconds < 0) return std::nullopt;
  return SystemClock::time_point(
      std::chrono::duration_cast<SystemClock::duration>(std::chrono::microseconds(microseconds)));
}

std::vector<Metrics::RequestRecord> Metrics::recent_requests() const {
  std::lock_guard<std::mutex> lock(recent_mutex_);
  return {recent_requests_.rbegin(), recent_requests_.rend()};
}

std::vector<Metrics::RequestRecord> Metrics::recent_errors() const {
  std::lock_guard<std::mutex> lock(recent_mutex_);
  return {recent_errors_.rbegin(), recent_errors_.rend()};
}

std::map<std::string, Metrics::SystemClock::time_point> Metrics::last_syncs() const {
  std::lock_guard<std::mutex> lock(recent_mutex_);
  return last_syncs_;
}

std::vector<Metrics::MinuteCount> Metrics::syncs_per_minute(SystemClock::time_point now) const {
  std::vector<MinuteCount> counts;
  const std::int64_t last = minute_of(now);
  for (std::int64_t minute = last - static_cast<std::int64_t>(kMinutes) + 1; minute <= last; ++minute) {
    MinuteCount count;
    count.minute = minute;
    std::uint64_t slot = minutes_[static_cast<std::size_t>(minute) % kMinutes].load(kRelaxed);
    if ((slot >> (2 * kCountBits)) == (static_cast<std::uint64_t>(minute) & kMinuteMask)) {
      count.pushes = (slot >> kCountBits) & kCountMask;
      count.pulls = slot & kCountMask;
    }
    counts.push_back(count);
  }
  return counts;
}

std::uint64_t Metrics::requests_total() const {
  std::uint64_t total = 0;
  for (const RouteCounters &route : routes_)
    for (const auto &count : route.by_status) total += count.load(kRelaxed);
  return total;
}

std::uint64_t Metrics::errors_total() const {
  std::uint64_t total = 0;
  for (const RouteCounters &route : routes_)
    for (std::size_t i = 400 - kLowestStatus; i < route.by_status.size(); ++i) total += route.by_status[i].load(kRelaxed);
  return total;
}

std::string Metrics::prometheus_text(const StorageSummary &storage) const {
  Exposition out;
  out.family("zumero_http_requests_total", "counter", "HTTP requests answered, by route and status code.");
  for (std::size_t r = 0; r < routes_.size(); ++r) {
    for (std::size_t s = 0; s < routes_[r].by_status.size(); ++s) {
      std::uint64_t count = routes_[r].by_status[s].load(kRelaxed);
      if (count)
        out.sample("zumero_http_requests_total",
                   {{"route", std::string(kRoutes[r])}, {"status", std::to_string(s + kLowestStatus)}}, count);
    }
  }

  out.family("zumero_http_request_duration_seconds", "histogram",
             "Time from the first byte of a request to the end of its answer, by route.");
  for (std::size_t r = 0; r < routes_.size(); ++r) {
    const RouteCounters &route = routes_[r];
    const std::string label(kRoutes[r]);
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b < route.latency.size(); ++b) {
      cumulative += route.latency[b].load(kRelaxed);
      std::string bound = b < kLatencyBuckets.size() ? number(kLatencyBuckets[b]) : "+Inf";
      out.sample("zumero_http_request_duration_seconds_bucket", {{"route", label}, {"le", bound}}, cumulative);
    }
    out.sample("zumero_http_request_duration_seconds_sum", {{"route", label}},
               number(static_cast<double>(route.latency_microseconds.load(kRelaxed)) / 1e6));
    out.sample("zumero_http_request_duration_seconds_count", {{"route", label}}, cumulative);
  }

  out.family("zumero_http_received_bytes_total", "counter",
             "Bytes of requests received (heads and bodies, after TLS), by route.");
  for (std::size_t r = 0; r < routes_.size(); ++r)
    out.sample("zumero_http_received_bytes_total", {{"route", std::string(kRoutes[r])}},
               routes_[r].bytes_in.load(kRelaxed));
  out.family("zumero_http_sent_bytes_total", "counter", "Bytes of answers sent (heads and bodies, before TLS), by route.");
  for (std::size_t r = 0; r < routes_.size(); ++r)
    out.sample("zumero_http_sent_bytes_total", {{"route", std::string(kRoutes[r])}}, routes_[r].bytes_out.load(kRelaxed));

  out.family("zumero_pushes_total", "counter", "Pushes applied, each one new version of a dbfile.");
  out.sample("zumero_pushes_total", {}, pushes_.load(kRelaxed));
  out.family("zumero_rows_pushed_total", "counter", "Rows applied by pushes that committed.");
  out.sample("zumero_rows_pushed_total", {}, rows_pushed_.load(kRelaxed));
  out.family("zumero_rows_pulled_total", "counter", "Row states sent by pulls.");
  out.sample("zumero_rows_pulled_total", {}, rows_pulled_.load(kRelaxed));

  out.family("zumero_conflicts_total", "counter",
             "Conflicts decided by the rules on the server, by situation and the action taken.");
  for (std::size_t s = 0; s < kSituationLabels.size(); ++s) {
    for (std::size_t a = 0; a < kActionLabels.size(); ++a) {
      bool column_merge_possible = kSituationLabels[s] == "mod_after_mod";
      if (a == kColumnMergeIndex && !column_merge_possible) continue;
      out.sample("zumero_conflicts_total",
                 {{"situation", std::string(kSituationLabels[s])}, {"action", std::string(kActionLabels[a])}},
                 conflicts_[s][a].load(kRelaxed));
    }
  }

  out.family("zumero_server_info", "gauge", "This server: its node name and its storage backend.");
  out.sample("zumero_server_info", {{"node", storage.node}, {"backend", storage.backend}}, 1);
  out.family("zumero_dbfiles", "gauge", "Dbfiles in the store.");
  out.sample("zumero_dbfiles", {}, storage.dbfiles);
  out.family("zumero_dbfile_bytes", "gauge", "Total size of the dbfiles in the store.");
  out.sample("zumero_dbfile_bytes", {}, storage.bytes);

  const auto now = SystemClock::now();
  out.family("zumero_backup_age_seconds", "gauge", "Seconds since the last complete backup; -1 before the first one.");
  std::optional<SystemClock::time_point> backup = last_backup();
  double age = backup ? std::max(0.0, std::chrono::duration<double>(now - *backup).count()) : -1.0;
  out.sample("zumero_backup_age_seconds", {}, number(std::floor(age * 1000) / 1000));

  out.family("zumero_start_time_seconds", "gauge", "When the server started, in seconds since the Unix epoch.");
  out.sample("zumero_start_time_seconds", {}, std::to_string(microseconds_of(started_) / 1000000));
  return out.take();
}

}  // namespace zumero::server
