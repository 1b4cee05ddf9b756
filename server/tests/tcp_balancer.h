// Test fixture: a round-robin TCP balancer on 127.0.0.1 in front of several server
// nodes, as a load balancer would be in front of zumero-server nodes sharing one
// PostgreSQL.
//
//   zumero::test::TcpBalancer balancer({node1.port(), node2.port(), node3.port()});
//   client.sync("http://127.0.0.1:" + std::to_string(balancer.port()), "dbfile");
//   balancer.set_upstream(1, restarted_port);   // a node came back on another port
//
// Each new client connection goes to the next upstream in turn; an upstream that
// refuses the connection (a node that is down) is skipped, and a client connection
// no upstream accepts is closed. Bytes are relayed unchanged in both directions, so
// HTTPS passes through; a connection ends when either side closes or resets it (a
// killed node drops the connections it served). Thread-safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace zumero::test {

class TcpBalancer {
public:
  // Listens on a free 127.0.0.1 port. Upstream ports of 0 are skipped.
  explicit TcpBalancer(std::vector<int> upstream_ports);
  // Closes every connection and stops. Never throws.
  ~TcpBalancer();
  TcpBalancer(const TcpBalancer &) = delete;
  TcpBalancer &operator=(const TcpBalancer &) = delete;

  int port() const { return port_; }
  // Upstream `index` listens on `port` from now on (0: skip it).
  void set_upstream(std::size_t index, int port);
  std::vector<int> upstreams() const;
  // Client connections handed to each upstream so far.
  std::vector<std::size_t> connections_per_upstream() const;

private:
  struct Relay {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };

  void accept_loop();
  // A connected socket to the next upstream that accepts, or -1.
  int connect_upstream();
  void relay(int client_fd, int upstream_fd);
  void close_pair(int client_fd, int upstream_fd);
  void reap_finished_relays();

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::vector<int> upstreams_;
  std::vector<std::size_t> handed_;
  std::size_t next_ = 0;
  std::set<int> open_fds_;
  std::list<Relay> relays_;
  std::thread acceptor_;
};

}  // namespace zumero::test
