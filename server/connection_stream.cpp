#include "server/connection_stream.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace zumero::server {
namespace {

using Clock = ConnectionStream::Clock;

constexpr std::size_t kBufferBytes = 16384;

// After a response that left part of the request unread, how long and how much of
// the rest is read and dropped before the socket is closed.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr std::size_t kLingerBytes = std::size_t(1) << 20;

int milliseconds_until(Clock::time_point deadline) {
  auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::min<long long>(ms, INT_MAX));
}

// 1 when `fd` is ready for `events` (or has an error the next call reports), 0 once
// `deadline` passed, -1 when poll fails.
int poll_until(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd entry{fd, events, 0};
    int ready = ::poll(&entry, 1, milliseconds_until(deadline));
    if (ready > 0) return 1;
    if (ready == 0) {
      if (Clock::now() >= deadline) return 0;
      continue;
    }
    if (errno != EINTR) return -1;
  }
}

void address_of(int fd, bool peer, std::string &ip, int &port) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  auto *raw = reinterpret_cast<sockaddr *>(&address);
  int rc = peer ? ::getpeername(fd, raw, &length) : ::getsockname(fd, raw, &length);
  char host[NI_MAXHOST] = "";
  char service[NI_MAXSERV] = "";
  if (rc != 0 || ::getnameinfo(raw, length, host, sizeof host, service, sizeof service,
                               NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    ip.clear();
    port = -1;
    return;
  }
  ip = host;
  port = std::atoi(service);
}

}  // namespace

ConnectionStream::ConnectionStream(int fd, const Limits &limits) : fd_(fd), limits_(limits), buffer_(kBufferBytes) {
  int flags = ::fcntl(fd_, F_GETFL, 0);
  if (flags >= 0) ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
}

ConnectionStream::~ConnectionStream() {
  if (ssl_) SSL_free(ssl_);
}

bool ConnectionStream::accept_tls(SSL_CTX *context, Clock::time_point deadline) {
  ssl_ = SSL_new(context);
  if (!ssl_ || SSL_set_fd(ssl_, fd_) != 1) {
    tls_broken_ = true;
    return false;
  }
  for (;;) {
    ERR_clear_error();
    int rc = SSL_accept(ssl_);
    if (rc == 1) return true;
    int error = SSL_get_error(ssl_, rc);
    short events = error == SSL_ERROR_WANT_READ ? POLLIN : error == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
    if (events == 0) {
      tls_broken_ = true;
      fail(Failure::closed);
      return false;
    }
    if (!await(events, deadline)) {
      tls_broken_ = true;
      return false;
    }
  }
}

bool ConnectionStream::wait_for_request(Clock::time_point deadline) {
  phase_ = Phase::idle;
  if (buffer_begin_ < buffer_end_) return true;
  ssize_t received = receive(buffer_.data(), buffer_.size(), deadline);
  if (received <= 0) return false;
  buffer_begin_ = 0;
  buffer_end_ = static_cast<std::size_t>(received);
  return true;
}

void ConnectionStream::begin_head(Clock::time_point deadline) {
  phase_ = Phase::head;
  failure_ = Failure::none;
  head_deadline_ = deadline;
  head_bytes_ = 0;
  bytes_received_ = 0;
  bytes_sent_ = 0;
  responded_ = false;
}

void ConnectionStream::begin_body() {
  phase_ = Phase::body;
  body_start_ = Clock::now();
  body_bytes_ = 0;
}

Clock::duration ConnectionStream::transfer_allowance(std::size_t bytes) const {
  auto at_min_rate = std::chrono::duration<double>(static_cast<double>(bytes) /
                                                   static_cast<double>(limits_.min_transfer_rate));
  return limits_.transfer_timeout + std::chrono::duration_cast<Clock::duration>(at_min_rate);
}

Clock::time_point ConnectionStream::read_deadline() const {
  switch (phase_) {
  case Phase::head: return head_deadline_;
  case Phase::body: return body_start_ + transfer_allowance(body_bytes_);
  case Phase::idle: break;
  }
  // httplib reads only inside a request; be strict if it ever does otherwise.
  return Clock::now();
}

ssize_t ConnectionStream::fail(Failure failure) {
  if (failure_ == Failure::none) failure_ = failure;
  return -1;
}

bool ConnectionStream::await(short events, Clock::time_point deadline) {
  int ready = poll_until(fd_, events, deadline);
  if (ready > 0) return true;
  fail(ready == 0 ? Failure::timed_out : Failure::closed);
  return false;
}

ssize_t ConnectionStream::receive(char *buffer, std::size_t size, Clock::time_point deadline) {
  for (;;) {
    if (ssl_) {
      std::size_t received = 0;
      ERR_clear_error();
      if (SSL_read_ex(ssl_, buffer, size, &received) == 1) return static_cast<ssize_t>(received);
      int error = SSL_get_error(ssl_, 0);
      if (error == SSL_ERROR_ZERO_RETURN) return 0;
      short events = error == SSL_ERROR_WANT_READ ? POLLIN : error == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
      if (events == 0) {
        tls_broken_ = true;
        return fail(Failure::closed);
      }
      if (!await(events, deadline)) return -1;
    } else {
      ssize_t received = ::recv(fd_, buffer, size, 0);
      if (received >= 0) return received;
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return fail(Failure::closed);
      if (!await(POLLIN, deadline)) return -1;
    }
  }
}

ssize_t ConnectionStream::read(char *ptr, size_t size) {
  if (failure_ != Failure::none) return -1;
  if (phase_ == Phase::head && head_bytes_ >= limits_.max_head_bytes) return fail(Failure::head_too_large);
  if (buffer_begin_ == buffer_end_) {
    ssize_t received;
    if (size >= buffer_.size()) {
      received = receive(ptr, size, read_deadline());
      if (received > 0) {
        (phase_ == Phase::head ? head_bytes_ : body_bytes_) += static_cast<std::size_t>(received);
        bytes_received_ += static_cast<std::size_t>(received);
      }
      return received;
    }
    received = receive(buffer_.data(), buffer_.size(), read_deadline());
    if (received <= 0) return received;
    buffer_begin_ = 0;
    buffer_end_ = static_cast<std::size_t>(received);
  }
  std::size_t count = std::min(size, buffer_end_ - buffer_begin_);
  std::memcpy(ptr, buffer_.data() + buffer_begin_, count);
  buffer_begin_ += count;
  (phase_ == Phase::head ? head_bytes_ : body_bytes_) += count;
  bytes_received_ += count;
  return static_cast<ssize_t>(count);
}

ssize_t ConnectionStream::write(const char *ptr, size_t size) {
  if (failure_ == Failure::closed) return -1;
  responded_ = true;
  const auto deadline = Clock::now() + transfer_allowance(size);
  std::size_t written = 0;
  while (written < size) {
    if (ssl_) {
      std::size_t sent = 0;
      ERR_clear_error();
      // A retry after WANT_* passes the same buffer, as OpenSSL requires.
      if (SSL_write_ex(ssl_, ptr + written, size - written, &sent) == 1) {
        written += sent;
        continue;
      }
      int error = SSL_get_error(ssl_, 0);
      short events = error == SSL_ERROR_WANT_READ ? POLLIN : error == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
      if (events == 0) {
        tls_broken_ = true;
        return fail(Failure::closed);
      }
      if (!await(events, deadline)) return -1;
    } else {
      ssize_t sent = ::send(fd_, ptr + written, size - written, MSG_NOSIGNAL);
      if (sent >= 0) {
        written += static_cast<std::size_t>(sent);
        continue;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return fail(Failure::closed);
      if (!await(POLLOUT, deadline)) return -1;
    }
  }
  bytes_sent_ += size;
  return static_cast<ssize_t>(size);
}

bool ConnectionStream::is_readable() const {
  if (buffer_begin_ < buffer_end_ || (ssl_ && SSL_pending(ssl_) > 0)) return true;
  return poll_until(fd_, POLLIN, Clock::now()) > 0;
}

bool ConnectionStream::is_writable() const {
  return failure_ != Failure::closed && poll_until(fd_, POLLOUT, Clock::now() + limits_.transfer_timeout) > 0;
}

void ConnectionStream::get_remote_ip_and_port(std::string &ip, int &port) const { address_of(fd_, true, ip, port); }

void ConnectionStream::get_local_ip_and_port(std::string &ip, int &port) const { address_of(fd_, false, ip, port); }

void ConnectionStream::finish(bool linger) {
  if (ssl_ && !tls_broken_ && failure_ != Failure::closed) {
    ERR_clear_error();
    SSL_shutdown(ssl_);  // close_notify, best effort: the socket is non-blocking
  }
  if (!linger || failure_ == Failure::closed) return;
  ::shutdown(fd_, SHUT_WR);
  const auto deadline = Clock::now() + kLingerTime;
  std::size_t discarded = 0;
  while (discarded < kLingerBytes && poll_until(fd_, POLLIN, deadline) > 0) {
    ssize_t received = ::recv(fd_, buffer_.data(), buffer_.size(), 0);
    if (received > 0) {
      discarded += static_cast<std::size_t>(received);
    } else if (received == 0 || (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)) {
      break;
    }
  }
}

}  // namespace zumero::server
