#include "tcp_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <stdexcept>

namespace zumero::synctest {
namespace {

bool send_all(int fd, const std::string &data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

// Reads more bytes into buffer; false on EOF or error.
bool read_some(int fd, std::string &buffer) {
  char chunk[16384];
  for (;;) {
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<std::size_t>(n));
    return true;
  }
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::optional<std::string> header_value(const std::string &head, const std::string &name) {
  std::string lowered = lower(head);
  std::string key = "\r\n" + lower(name) + ":";
  std::size_t at = lowered.find(key);
  if (at == std::string::npos) return std::nullopt;
  std::size_t start = at + key.size();
  std::size_t end = head.find("\r\n", start);
  std::string value = head.substr(start, end - start);
  value.erase(0, value.find_first_not_of(" \t"));
  value.erase(value.find_last_not_of(" \t") + 1);
  return value;
}

// Reads one HTTP message (request or response) from fd into `message`, using `buffer`
// for bytes already received. `response_status` > 0 when reading a response (304 and
// 204 have no body). Returns false when the peer closed before a complete message.
bool read_message(int fd, std::string &buffer, std::string &message, bool is_response) {
  std::size_t head_end;
  while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos)
    if (!read_some(fd, buffer)) return false;
  std::string head = buffer.substr(0, head_end + 4);
  std::size_t body_length = 0;
  bool until_close = false;
  bool chunked = false;
  if (auto length = header_value(head, "Content-Length")) {
    body_length = std::stoul(*length);
  } else if (auto encoding = header_value(head, "Transfer-Encoding"); encoding && lower(*encoding) == "chunked") {
    chunked = true;
  } else if (is_response) {
    int status = std::atoi(head.c_str() + head.find(' ') + 1);
    until_close = !(status == 304 || status == 204 || (status >= 100 && status < 200));
  }
  if (chunked) {
    while (buffer.find("\r\n0\r\n\r\n", head_end) == std::string::npos)
      if (!read_some(fd, buffer)) return false;
    std::size_t end = buffer.find("\r\n0\r\n\r\n", head_end) + 7;
    message = buffer.substr(0, end);
    buffer.erase(0, end);
    return true;
  }
  if (until_close) {
    while (read_some(fd, buffer)) {
    }
    message = buffer;
    buffer.clear();
    return true;
  }
  while (buffer.size() < head.size() + body_length)
    if (!read_some(fd, buffer)) return false;
  message = buffer.substr(0, head.size() + body_length);
  buffer.erase(0, head.size() + body_length);
  return true;
}

int connect_upstream(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr *>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

TcpProxy::TcpProxy(int upstream_port, std::string drop_reply_of_first_path)
    : TcpProxy(upstream_port, TcpProxyOptions{std::move(drop_reply_of_first_path), {}}) {}

TcpProxy::TcpProxy(int upstream_port, TcpProxyOptions options)
    : upstream_port_(upstream_port),
      drop_prefix_(std::move(options.drop_reply_of_first_path)),
      reply_delay_(options.reply_delay) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error("socket failed");
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = 0;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr *>(&address), sizeof address) != 0 || ::listen(listen_fd_, 16) != 0) {
    ::close(listen_fd_);
    throw std::runtime_error("cannot listen on 127.0.0.1");
  }
  socklen_t size = sizeof address;
  getsockname(listen_fd_, reinterpret_cast<sockaddr *>(&address), &size);
  port_ = ntohs(address.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

TcpProxy::~TcpProxy() {
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  ::close(listen_fd_);
  {
    std::lock_guard<std::mutex> guard(mutex_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  for (auto &worker : workers_)
    if (worker.joinable()) worker.join();
}

std::vector<std::string> TcpProxy::forwarded_paths() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return paths_;
}

std::size_t TcpProxy::forwarded_count() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return paths_.size();
}

void TcpProxy::sleep_unless_stopping(std::chrono::milliseconds duration) const {
  auto deadline = std::chrono::steady_clock::now() + duration;
  while (!stopping_ && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        std::chrono::milliseconds(5), deadline - std::chrono::steady_clock::now()));
}

void TcpProxy::accept_loop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    int ready = ::poll(&p, 1, 100);
    if (ready <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard<std::mutex> guard(mutex_);
    open_fds_.push_back(fd);
    workers_.emplace_back([this, fd] { serve(fd); });
  }
}

void TcpProxy::serve(int client_fd) {
  int upstream = connect_upstream(upstream_port_);
  std::string client_buffer;
  std::string upstream_buffer;
  if (upstream >= 0) {
    {
      std::lock_guard<std::mutex> guard(mutex_);
      open_fds_.push_back(upstream);
    }
    for (;;) {
      std::string request;
      if (!read_message(client_fd, client_buffer, request, false)) break;
      std::size_t space = request.find(' ');
      std::string path = request.substr(space + 1, request.find(' ', space + 1) - space - 1);
      {
        std::lock_guard<std::mutex> guard(mutex_);
        paths_.push_back(path);
      }
      if (!send_all(upstream, request)) break;
      std::string response;
      if (!read_message(upstream, upstream_buffer, response, true)) break;
      bool drop = !drop_prefix_.empty() && path.rfind(drop_prefix_, 0) == 0 && drop_armed_.exchange(false);
      if (drop) {
        ++dropped_;
        break;  // the server answered; the client never hears of it
      }
      if (reply_delay_.count() > 0) sleep_unless_stopping(reply_delay_);
      if (!send_all(client_fd, response)) break;
    }
  }
  std::lock_guard<std::mutex> guard(mutex_);
  for (int fd : {client_fd, upstream}) {
    if (fd < 0) continue;
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
    open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
  }
}

}  // namespace zumero::synctest
