// A small HTTP-aware TCP proxy on 127.0.0.1 for fault injection: it forwards each
// request to the upstream server and relays the answer, except that it can
// - "lose" the reply of the first request whose path starts with a given prefix: the
//   request reaches the server, the server answers, and the proxy closes the client's
//   connection instead of relaying the answer;
// - hold every reply for a while before relaying it (a slow network), so a test can act
//   while a client waits for the server.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace zumero::synctest {

struct TcpProxyOptions {
  // Prefix of the path whose first reply is lost; empty loses nothing.
  std::string drop_reply_of_first_path;
  // How long each reply is held after the server sent it and before it is relayed.
  std::chrono::milliseconds reply_delay{0};
};

class TcpProxy {
public:
  TcpProxy(int upstream_port, std::string drop_reply_of_first_path);
  TcpProxy(int upstream_port, TcpProxyOptions options);
  ~TcpProxy();
  TcpProxy(const TcpProxy &) = delete;
  TcpProxy &operator=(const TcpProxy &) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // Replies that were answered by the server but not relayed.
  int dropped() const { return dropped_.load(); }
  // Requests forwarded, by path.
  std::vector<std::string> forwarded_paths() const;
  // Number of requests forwarded so far.
  std::size_t forwarded_count() const;

private:
  void accept_loop();
  void serve(int client_fd);
  // Sleeps for `duration`, cut short when the proxy is being destroyed.
  void sleep_unless_stopping(std::chrono::milliseconds duration) const;

  int upstream_port_;
  std::string drop_prefix_;
  std::chrono::milliseconds reply_delay_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> dropped_{0};
  std::atomic<bool> drop_armed_{true};
  mutable std::mutex mutex_;
  std::vector<std::string> paths_;
  std::vector<int> open_fds_;
  std::vector<std::thread> workers_;
  std::thread acceptor_;
};

}  // namespace zumero::synctest
