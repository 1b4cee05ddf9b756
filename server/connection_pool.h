// The threads that serve client connections, one connection per thread, and the
// registry of open connections that keeps slow or silent clients from locking out
// the others.
//
// Threads are started on demand, up to max_connections, and reused. A connection is
// "waiting" while it has not sent a complete request head (TLS handshake, idle
// keep-alive, partial head) or is being closed, and "busy" while a request is read,
// handled and answered. When every thread is taken and another connection arrives,
// the connection that has been waiting longest is closed to make room; busy
// connections are never closed that way, and a kept-alive connection gives up its
// thread after an answer while others wait for one. So stalled clients can only
// take turns with each other, and a request whose head arrived is always served.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <thread>
#include <vector>

namespace zumero::server {

class ConnectionPool {
  using Clock = std::chrono::steady_clock;

  struct Entry {
    int fd;
    Clock::time_point waiting_since;
    bool waiting = true;
    bool closed = false;       // shut down by the pool
    bool making_room = false;  // closed for a connection that has no thread yet
  };

public:

  explicit ConnectionPool(std::size_t max_connections);
  ~ConnectionPool();  // shutdown()
  ConnectionPool(const ConnectionPool &) = delete;
  ConnectionPool &operator=(const ConnectionPool &) = delete;

  // Runs `job` (which serves one connection) on a pool thread. Never blocks: when no
  // thread is free the job waits, and the longest-waiting connection is closed.
  void enqueue(std::function<void()> job);

  // Closes every waiting connection now and every busy one once its response is
  // sent. Safe from any thread.
  void stop_connections();
  bool stopping() const;

  // Finishes every queued job, then joins the threads.
  void shutdown();

  // Registration of one open connection, from its start until just before its
  // socket is closed. Starts out waiting.
  class Member {
  public:
    Member(ConnectionPool &pool, int fd);
    ~Member();
    Member(const Member &) = delete;
    Member &operator=(const Member &) = delete;

    // The request head is complete. False when the connection was closed meanwhile.
    bool set_busy();
    // The response was sent; waiting for the next request. False when the
    // connection should end instead: it was closed, the server is stopping, or
    // another connection is waiting for a thread.
    bool set_waiting();
    // The connection is being closed: it may be closed at once to make room. False
    // when the pool closed it already.
    bool set_closing();

  private:
    ConnectionPool &pool_;
    std::list<Entry>::iterator entry_;
  };

private:
  void work();
  bool start_thread_locked();
  void provide_threads_locked();
  bool threads_wanted_locked() const;
  void make_room_locked();
  void close_locked(Entry &entry);

  const std::size_t max_connections_;
  mutable std::mutex mutex_;
  std::condition_variable work_available_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  std::size_t idle_threads_ = 0;
  std::list<Entry> connections_;
  std::size_t closings_pending_ = 0;  // closed by make_room, not yet ended
  bool stopping_ = false;
  bool shutting_down_ = false;
  Clock::time_point last_full_warning_{};
};

}  // namespace zumero::server
