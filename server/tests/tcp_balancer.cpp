#include "server/tests/tcp_balancer.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace zumero::test {
namespace {

// How long a connection attempt to one upstream may take before the next is tried
// (loopback answers at once unless a node's listen queue is full).
constexpr int kConnectTimeoutMs = 2000;

std::runtime_error system_error(const std::string &what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

sockaddr_in loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  return address;
}

// A connected socket to 127.0.0.1:port, or -1 when the port refuses or does not answer.
int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  sockaddr_in address = loopback(port);
  int rc = ::connect(fd, reinterpret_cast<sockaddr *>(&address), sizeof address);
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int error = 0;
    socklen_t length = sizeof error;
    rc = -1;
    if (::poll(&p, 1, kConnectTimeoutMs) == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 &&
        error == 0)
      rc = 0;
  }
  if (rc != 0) {
    ::close(fd);
    return -1;
  }
  int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);  // the relay uses blocking sends
  return fd;
}

bool send_all(int fd, const char *data, std::size_t size) {
  std::size_t sent = 0;
  while (sent < size) {
    ssize_t n = ::send(fd, data + sent, size - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

TcpBalancer::TcpBalancer(std::vector<int> upstream_ports)
    : upstreams_(std::move(upstream_ports)), handed_(upstreams_.size(), 0) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw system_error("socket");
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address = loopback(0);
  socklen_t length = sizeof address;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr *>(&address), sizeof address) != 0 ||
      ::listen(listen_fd_, 128) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr *>(&address), &length) != 0) {
    ::close(listen_fd_);
    throw system_error("balancer on 127.0.0.1");
  }
  port_ = ntohs(address.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

TcpBalancer::~TcpBalancer() {
  stopping_ = true;
  if (acceptor_.joinable()) acceptor_.join();
  std::list<Relay> relays;
  {
    std::lock_guard<std::mutex> held(mutex_);
    // Wakes every relay: its reads end and its sends fail.
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    relays.swap(relays_);
  }
  for (Relay &relay : relays) relay.thread.join();
  ::close(listen_fd_);
}

void TcpBalancer::set_upstream(std::size_t index, int port) {
  std::lock_guard<std::mutex> held(mutex_);
  if (index >= upstreams_.size()) {
    upstreams_.resize(index + 1, 0);
    handed_.resize(index + 1, 0);
  }
  upstreams_[index] = port;
}

std::vector<int> TcpBalancer::upstreams() const {
  std::lock_guard<std::mutex> held(mutex_);
  return upstreams_;
}

std::vector<std::size_t> TcpBalancer::connections_per_upstream() const {
  std::lock_guard<std::mutex> held(mutex_);
  return handed_;
}

void TcpBalancer::accept_loop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    int upstream = connect_upstream();
    if (upstream < 0) {
      ::close(client);  // no node accepts: the client sees its connection closed
      continue;
    }
    std::lock_guard<std::mutex> held(mutex_);
    reap_finished_relays();
    if (stopping_) {
      ::close(client);
      ::close(upstream);
      continue;
    }
    open_fds_.insert(client);
    open_fds_.insert(upstream);
    Relay relay;
    relay.done = std::make_shared<std::atomic<bool>>(false);
    relay.thread = std::thread([this, client, upstream, done = relay.done] {
      this->relay(client, upstream);
      *done = true;
    });
    relays_.push_back(std::move(relay));
  }
}

int TcpBalancer::connect_upstream() {
  std::vector<int> ports;
  std::size_t first = 0;
  {
    std::lock_guard<std::mutex> held(mutex_);
    ports = upstreams_;
    if (ports.empty()) return -1;
    first = next_++ % ports.size();
  }
  for (std::size_t step = 0; step < ports.size(); ++step) {
    std::size_t index = (first + step) % ports.size();
    if (ports[index] == 0) continue;
    int fd = connect_to(ports[index]);
    if (fd < 0) continue;
    std::lock_guard<std::mutex> held(mutex_);
    ++handed_[index];
    return fd;
  }
  return -1;
}

// Copies bytes both ways until both directions ended. A side that closes its sending
// half is passed on as a half close; an error on either side ends both.
void TcpBalancer::relay(int client_fd, int upstream_fd) {
  pollfd fds[2] = {{client_fd, POLLIN, 0}, {upstream_fd, POLLIN, 0}};
  const int peer[2] = {upstream_fd, client_fd};
  bool reading[2] = {true, true};
  char buffer[65536];
  bool failed = false;
  while (!failed && (reading[0] || reading[1])) {
    for (int i = 0; i < 2; ++i) fds[i].fd = reading[i] ? (i == 0 ? client_fd : upstream_fd) : -1;
    int ready = ::poll(fds, 2, -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2 && !failed; ++i) {
      if (!reading[i] || fds[i].revents == 0) continue;
      ssize_t n = ::recv(fds[i].fd, buffer, sizeof buffer, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n > 0) {
        failed = !send_all(peer[i], buffer, static_cast<std::size_t>(n));
      } else if (n == 0) {
        reading[i] = false;
        ::shutdown(peer[i], SHUT_WR);
      } else {
        failed = true;
      }
    }
  }
  close_pair(client_fd, upstream_fd);
}

void TcpBalancer::close_pair(int client_fd, int upstream_fd) {
  std::lock_guard<std::mutex> held(mutex_);
  open_fds_.erase(client_fd);
  open_fds_.erase(upstream_fd);
  ::close(client_fd);
  ::close(upstream_fd);
}

// Under mutex_.
void TcpBalancer::reap_finished_relays() {
  for (auto it = relays_.begin(); it != relays_.end();) {
    if (*it->done) {
      it->thread.join();
      it = relays_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace zumero::test
