// One client connection, plain or TLS, as the httplib::Stream that httplib's request
// parser reads from and writes to, with deadlines that a slow or silent client cannot
// stretch:
//   idle  waiting for the first byte of a request: until the caller's deadline;
//   head  request line and headers: until the caller's deadline, and at most
//         Limits::max_head_bytes;
//   body  the request body (and anything else read after the head): within
//         transfer_timeout plus one second per min_transfer_rate bytes received;
//   every write(): within transfer_timeout plus one second per min_transfer_rate bytes.
// A read or write that misses its deadline fails (-1) and failure() says why.
//
// The stream owns the TLS session but not the socket: the caller closes it.
#pragma once

#include <httplib.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace zumero::server {

class ConnectionStream final : public httplib::Stream {
public:
  using Clock = std::chrono::steady_clock;

  struct Limits {
    Clock::duration transfer_timeout = std::chrono::seconds(10);
    std::size_t min_transfer_rate = 16384;  // bytes per second, > 0
    std::size_t max_head_bytes = 65536;
  };

  enum class Phase { idle, head, body };
  enum class Failure { none, timed_out, head_too_large, closed };

  // Switches `fd` to non-blocking mode.
  ConnectionStream(int fd, const Limits &limits);
  ~ConnectionStream() override;
  ConnectionStream(const ConnectionStream &) = delete;
  ConnectionStream &operator=(const ConnectionStream &) = delete;

  // The server side of the TLS handshake, finished before `deadline`. False on failure;
  // the connection is then unusable.
  bool accept_tls(SSL_CTX *context, Clock::time_point deadline);

  // Waits for the first byte of the next request (true) until `deadline`; false when
  // the deadline passes or the client closed the connection.
  bool wait_for_request(Clock::time_point deadline);
  // The request head begins: it must be complete by `deadline`.
  void begin_head(Clock::time_point deadline);
  // The head is complete: what follows is read at the body's pace.
  void begin_body();

  Phase phase() const { return phase_; }
  Failure failure() const { return failure_; }
  // Bytes of the current request head read so far.
  std::size_t head_bytes() const { return head_bytes_; }
  // Whether anything was written since begin_head().
  bool responded() const { return responded_; }
  // Bytes read and written since begin_head() (after TLS decryption, before encryption).
  std::size_t bytes_received() const { return bytes_received_; }
  std::size_t bytes_sent() const { return bytes_sent_; }

  // Ends the connection (the socket stays open). Sends TLS close_notify. With `linger`,
  // half-closes and discards what the client still sends for a short while, so that a
  // response sent before the request was fully read reaches the client instead of
  // being destroyed by a TCP reset.
  void finish(bool linger);

  // httplib::Stream
  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char *ptr, size_t size) override;
  ssize_t write(const char *ptr, size_t size) override;
  void get_remote_ip_and_port(std::string &ip, int &port) const override;
  void get_local_ip_and_port(std::string &ip, int &port) const override;
  socket_t socket() const override { return fd_; }

private:
  ssize_t receive(char *buffer, std::size_t size, Clock::time_point deadline);
  bool await(short events, Clock::time_point deadline);
  ssize_t fail(Failure failure);
  Clock::time_point read_deadline() const;
  Clock::duration transfer_allowance(std::size_t bytes) const;

  int fd_;
  Limits limits_;
  SSL *ssl_ = nullptr;
  bool tls_broken_ = false;  // after a fatal TLS error no close_notify may be sent

  std::vector<char> buffer_;
  std::size_t buffer_begin_ = 0;
  std::size_t buffer_end_ = 0;

  Phase phase_ = Phase::idle;
  Failure failure_ = Failure::none;
  Clock::time_point head_deadline_{};
  Clock::time_point body_start_{};
  std::size_t head_bytes_ = 0;
  std::size_t body_bytes_ = 0;
  std::size_t bytes_received_ = 0;
  std::size_t bytes_sent_ = 0;
  bool responded_ = false;
};

}  // namespace zumero::server
