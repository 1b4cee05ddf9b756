// The server log: every request becomes a row of the zumero table `log` in the dbfile
// zumero_log, written as a server version so clients can sync it like any dbfile.
//
// Requests only queue their entry; one thread of the log writes what is queued in
// batches, each batch one transaction and one new version of zumero_log. While a batch
// commits the next one gathers, so the log costs one commit per batch, not per
// request, and no request waits for it. stop() writes everything queued before it
// returns, so a clean shutdown loses nothing; a crash loses what was still queued
// (requests answered while the last batch was being written).
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/storage.h"

namespace zumero::server {

constexpr const char *kLogDbfile = "zumero_log";

struct LogEntry {
  std::string dbfile;
  std::string url;
  std::string ip_address;
  std::int64_t unix_time = 0;
  std::string scheme;
  std::string username;
  std::int64_t request_size = 0;
  std::int64_t response_size = 0;
  std::int64_t status = 0;
  std::int64_t elapsed = 0;
  std::string constraint_details;
  std::int64_t full_request_size = 0;
  std::int64_t full_response_size = 0;
  std::int64_t txid_max = 0;
};

class ServerLog {
public:
  explicit ServerLog(Storage &store) : store_(store) {}
  ~ServerLog();  // stop()
  ServerLog(const ServerLog &) = delete;
  ServerLog &operator=(const ServerLog &) = delete;

  // Queues the entry for the log's thread (started on first use). Waits only when
  // the queue is very long, that is when the disk cannot keep up.
  void append(LogEntry entry);
  // Returns once every entry appended before the call is written (or failed), so a
  // request reading zumero_log sees the requests answered before it.
  void flush();
  // Writes what is queued, then ends the thread. append() after stop() writes at once.
  void stop();

private:
  void run();
  void write(std::vector<LogEntry> &batch);
  void write_batch(const std::vector<LogEntry> &batch);

  Storage &store_;
  std::mutex mutex_;
  std::condition_variable queued_;   // the thread has something to do
  std::condition_variable written_;  // a batch is done; or the queue has room again
  std::deque<LogEntry> queue_;
  std::uint64_t appended_ = 0;  // entries ever queued
  std::uint64_t done_ = 0;      // entries ever written or given up
  bool started_ = false;
  bool stopping_ = false;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace zumero::server
