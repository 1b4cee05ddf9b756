#include "server/server_log.h"

#include "base/catalog.h"
#include "base/connection_state.h"
#include "base/sql.h"
#include "server/logging.h"
#include "sync/row_store.h"

namespace zumero::server {
namespace {

// Entries written in one transaction at most, and queued at most before append waits.
constexpr std::size_t kMaxBatch = 4096;
constexpr std::size_t kMaxQueued = 65536;

sync::Value text(const std::string &value) { return sync::Value{sync::Value::Text, 0, 0, value}; }
sync::Value integer(std::int64_t value) { return sync::Value{sync::Value::Integer, value, 0, {}}; }

sync::Row row_of(const LogEntry &entry) {
  return {text(entry.dbfile), text(entry.url), text(entry.ip_address), integer(entry.unix_time),
          text(entry.scheme), text(entry.username), integer(entry.request_size),
          integer(entry.response_size), integer(entry.status), integer(entry.elapsed),
          entry.constraint_details.empty() ? sync::Value{} : text(entry.constraint_details),
          integer(entry.full_request_size), integer(entry.full_response_size), integer(entry.txid_max)};
}

void create_log_table(sqlite3 *db) {
  exec(db, "CREATE VIRTUAL TABLE log USING zumero (dbfile TEXT, url TEXT, ip_address TEXT, unix_time INTEGER, "
           "scheme TEXT, username TEXT, request_size INTEGER, response_size INTEGER, status INTEGER, "
           "elapsed INTEGER, constraint_details TEXT, full_request_size INTEGER, full_response_size INTEGER, "
           "txid_max INTEGER)");
  // Created by the server itself: the entry is server history, not a pending change.
  exec(db, "UPDATE \"t$schema\" SET rv = 1 WHERE rv IS NULL; DELETE FROM \"t$dirty\"");
  advance_version(db, 1);
}

}  // namespace

ServerLog::~ServerLog() { stop(); }

void ServerLog::append(LogEntry entry) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (stopped_ || stopping_) {
    // Late entries (none in the server's normal course) are written at once.
    lock.unlock();
    std::vector<LogEntry> batch{std::move(entry)};
    write(batch);
    return;
  }
  written_.wait(lock, [this] { return queue_.size() < kMaxQueued || stopping_; });
  queue_.push_back(std::move(entry));
  ++appended_;
  if (!started_) {
    started_ = true;
    thread_ = std::thread([this] { run(); });
  }
  queued_.notify_one();
}

void ServerLog::flush() {
  std::unique_lock<std::mutex> lock(mutex_);
  std::uint64_t target = appended_;
  written_.wait(lock, [&] { return done_ >= target || !started_ || stopped_; });
}

void ServerLog::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopped_) return;
    stopping_ = true;
  }
  queued_.notify_one();
  written_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mutex_);
  stopped_ = true;
  written_.notify_all();
}

void ServerLog::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    queued_.wait(lock, [this] { return !queue_.empty() || stopping_; });
    if (queue_.empty()) return;  // stopping, and everything is written
    std::vector<LogEntry> batch;
    std::size_t count = std::min(queue_.size(), kMaxBatch);
    batch.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    written_.notify_all();  // room in the queue
    lock.unlock();
    write(batch);
    lock.lock();
    done_ += count;
    written_.notify_all();
  }
}

// A failure to write the log is reported and changes no answer. When a batch fails,
// its entries are tried one by one, so one entry cannot take the others with it.
void ServerLog::write(std::vector<LogEntry> &batch) {
  try {
    write_batch(batch);
    return;
  } catch (const std::exception &failure) {
    if (batch.size() == 1) {
      log_error("cannot write the server log: ", failure.what());
      return;
    }
  }
  for (const LogEntry &entry : batch) {
    try {
      write_batch({entry});
    } catch (const std::exception &failure) {
      log_error("cannot write the server log: ", failure.what());
    }
  }
}

// One transaction and one new version of zumero_log for the whole batch.
void ServerLog::write_batch(const std::vector<LogEntry> &batch) {
  std::unique_ptr<WriteSession> session = store_.write(kLogDbfile);
  sqlite3 *db = session->db();
  ensure_server_tables(db);
  if (!stored_table_name(db, "main", "log")) create_log_table(db);
  std::int64_t version = current_version(db) + 1;
  sync::RowStore rows(db, "main", "log");
  rows.ensure_server_indexes();
  std::int64_t highest = rows.max_recid();
  for (const LogEntry &entry : batch) {
    std::int64_t recid = highest < INT64_MAX ? ++highest : random_unused_recid(db, "main", "log");
    rows.insert_live(recid, row_of(entry));
    rows.set_version(recid, version, false);
  }
  advance_version(db, version);
  session->commit();
}

}  // namespace zumero::server
