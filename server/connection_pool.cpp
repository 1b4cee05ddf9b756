#include "server/connection_pool.h"

#include "server/logging.h"

#include <algorithm>
#include <system_error>

#include <sys/socket.h>

namespace zumero::server {
namespace {

constexpr auto kFullWarningInterval = std::chrono::seconds(10);

}  // namespace

ConnectionPool::ConnectionPool(std::size_t max_connections)
    : max_connections_(std::max<std::size_t>(1, max_connections)) {}

ConnectionPool::~ConnectionPool() { shutdown(); }

void ConnectionPool::enqueue(std::function<void()> job) {
  std::lock_guard<std::mutex> lock(mutex_);
  jobs_.push_back(std::move(job));
  if (idle_threads_ > 0) work_available_.notify_one();
  provide_threads_locked();
}

// Starts a thread for each queued job that no thread will soon take, or, with every
// thread started, frees threads by closing waiting connections.
void ConnectionPool::provide_threads_locked() {
  while (threads_wanted_locked() && threads_.size() < max_connections_) {
    if (!start_thread_locked()) return;
  }
  if (threads_wanted_locked()) make_room_locked();
}

// Whether queued jobs outnumber the threads that will soon be free to take them.
bool ConnectionPool::threads_wanted_locked() const { return jobs_.size() > idle_threads_ + closings_pending_; }

bool ConnectionPool::start_thread_locked() {
  try {
    // Counted as idle from now on, so that it is not started twice for one job.
    ++idle_threads_;
    threads_.emplace_back([this] { work(); });
    return true;
  } catch (const std::system_error &e) {
    --idle_threads_;
    // The job stays queued for the next thread that becomes free.
    log_error("cannot start a connection thread (", threads_.size(), " running): ", e.what());
    return false;
  }
}

void ConnectionPool::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    work_available_.wait(lock, [this] { return !jobs_.empty() || shutting_down_; });
    --idle_threads_;
    if (jobs_.empty()) return;
    std::function<void()> job = std::move(jobs_.front());
    jobs_.pop_front();
    // Jobs still queued behind this one would otherwise wait for connections that
    // may never send anything.
    provide_threads_locked();
    lock.unlock();
    try {
      job();
    } catch (const std::exception &e) {
      log_error("a connection ended with an exception: ", e.what());
    } catch (...) {
      log_error("a connection ended with an unknown exception");
    }
    job = nullptr;  // release what the job holds before taking the lock again
    lock.lock();
    ++idle_threads_;
  }
}

void ConnectionPool::make_room_locked() {
  bool closed_any = false;
  while (threads_wanted_locked()) {
    Entry *oldest = nullptr;
    for (Entry &entry : connections_) {
      if (entry.waiting && !entry.closed && (!oldest || entry.waiting_since < oldest->waiting_since)) oldest = &entry;
    }
    if (!oldest) break;  // every connection is busy with a request: the job waits
    close_locked(*oldest);
    oldest->making_room = true;
    ++closings_pending_;
    closed_any = true;
  }
  auto now = Clock::now();
  if (now - last_full_warning_ >= kFullWarningInterval) {
    last_full_warning_ = now;
    log_warn("all ", max_connections_, " connections are taken (--max-connections); ",
             closed_any ? "closing those that waited longest for a request" : "new connections wait for a free one");
  }
}

void ConnectionPool::close_locked(Entry &entry) {
  // Wakes the connection's thread, which then ends it; the descriptor stays valid
  // until the Member is gone, so this cannot hit a reused descriptor.
  ::shutdown(entry.fd, SHUT_RDWR);
  entry.closed = true;
}

void ConnectionPool::stop_connections() {
  std::lock_guard<std::mutex> lock(mutex_);
  stopping_ = true;
  for (Entry &entry : connections_) {
    if (entry.waiting && !entry.closed) close_locked(entry);
  }
}

bool ConnectionPool::stopping() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stopping_;
}

void ConnectionPool::shutdown() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    shutting_down_ = true;
    threads.swap(threads_);
  }
  work_available_.notify_all();
  // Threads take the remaining jobs before they see shutting_down_.
  for (std::thread &thread : threads) thread.join();
}

ConnectionPool::Member::Member(ConnectionPool &pool, int fd) : pool_(pool) {
  std::lock_guard<std::mutex> lock(pool_.mutex_);
  entry_ = pool_.connections_.insert(pool_.connections_.end(), Entry{fd, Clock::now()});
}

ConnectionPool::Member::~Member() {
  std::lock_guard<std::mutex> lock(pool_.mutex_);
  if (entry_->making_room) --pool_.closings_pending_;
  pool_.connections_.erase(entry_);
}

bool ConnectionPool::Member::set_busy() {
  std::lock_guard<std::mutex> lock(pool_.mutex_);
  if (entry_->closed) return false;
  entry_->waiting = false;
  return true;
}

bool ConnectionPool::Member::set_waiting() {
  std::lock_guard<std::mutex> lock(pool_.mutex_);
  if (entry_->closed || pool_.stopping_ || pool_.threads_wanted_locked()) return false;
  entry_->waiting = true;
  entry_->waiting_since = Clock::now();
  return true;
}

bool ConnectionPool::Member::set_closing() {
  std::lock_guard<std::mutex> lock(pool_.mutex_);
  if (entry_->closed) return false;
  entry_->waiting = true;
  entry_->waiting_since = Clock::time_point::min();  // first in line to make room
  return true;
}

}  // namespace zumero::server
