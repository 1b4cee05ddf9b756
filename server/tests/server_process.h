// Test fixture: runs the real zumero-server executable as a child process.
//
//   zumero::test::ServerProcess server;                    // http://127.0.0.1:<free port>
//   auto r = zumero::http_post(server.url(), "/push", body, "application/octet-stream");
//   server.kill_hard();  server.restart();                 // crash and come back, same data dir
//
//   zumero::test::TempDir dir;
//   auto tls = zumero::test::make_self_signed_certificate(dir.path());
//   zumero::test::ServerProcess https({"--tls-cert", tls.cert_file, "--tls-key", tls.key_file});
//
// Every ServerProcess gets a fresh temporary directory holding data/ (passed as
// --data-dir) and server.log (the server's stderr). It is deleted on destruction
// unless ZUMERO_KEEP_TEST_DIRS=1. The executable is the zumero-server target of the
// build, $ZUMERO_SERVER_BIN when set, or Options::executable.
//
// PostgreSQL mode (ZUMERO_TEST_STORE=postgresql in the environment, or
// Options::store): the server is several nodes sharing one fresh PostgreSQL database
// (--store), each with its own --data-dir (node1/, node2/, ... with logs node1.log,
// ...), behind a round-robin TcpBalancer (tcp_balancer.h): url() and port() are the
// balancer's, so each connection of a client may reach another node. The database
// lives in the PgCluster the options name, or in one cluster shared by the whole test
// program, started by the first such ServerProcess (create that one from the main
// thread: see pg_cluster.h); it is dropped on destruction. stop(), restart(),
// kill_hard(), log() and wait_for_log() act on every node; the node_* accessors on
// one (with SQLite files there is one node, node 0).
#pragma once

#include <chrono>
#include <csignal>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <sys/types.h>

namespace zumero::test {

class PgCluster;
class TcpBalancer;

// A fresh directory under the system temporary directory, removed recursively on
// destruction (kept when ZUMERO_KEEP_TEST_DIRS=1).
class TempDir {
public:
  explicit TempDir(const std::string &prefix = "zumero-test-");
  ~TempDir();
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
  const std::filesystem::path &path() const { return path_; }

private:
  std::filesystem::path path_;
};

struct TlsFiles {
  std::string cert_file;  // PEM certificate; also usable as ZUMERO_CA_FILE
  std::string key_file;   // PEM private key, unencrypted
};

// Creates cert.pem and key.pem in `dir` with the openssl command: a self-signed
// certificate for CN=localhost, subjectAltName IP:127.0.0.1 and DNS:localhost, valid
// one day. Throws std::runtime_error on failure.
TlsFiles make_self_signed_certificate(const std::filesystem::path &dir);

struct CommandResult {
  int exit_code = -1;  // exit status, or 128 + signal number when killed by a signal
  std::string output;  // stdout and stderr together
};

// Runs argv (argv[0] is looked up in PATH when it has no '/') and collects its output.
// The child is killed with SIGKILL after `timeout`. Throws when it cannot be started.
CommandResult run_command(const std::vector<std::string> &argv,
                          std::chrono::milliseconds timeout = std::chrono::seconds(30));

struct GetResult {
  long status = 0;
  std::string body;
};

// A plain GET with libcurl (e.g. /health or /debug/sleep?ms=500). `ca_file`, when not
// empty, is the certificate to trust for https. Throws std::runtime_error when no HTTP
// response arrives.
GetResult http_get(const std::string &url, const std::string &ca_file = "", long timeout_seconds = 30);

class ServerProcess {
public:
  struct Options {
    // The server executable; empty means executable().
    std::string executable;
    // Arguments added after --data-dir DIR --listen 127.0.0.1:0.
    std::vector<std::string> args;
    // Extra environment variables for the child (the rest is inherited).
    std::vector<std::pair<std::string, std::string>> env;
    // Sets ZUMERO_TEST_HOOKS=1, enabling debug routes such as GET /debug/sleep?ms=N.
    bool test_hooks = true;
    // The server's stdin is a pipe held by this process, with ZUMERO_STOP_ON_STDIN_EOF=1:
    // if the test program dies without cleaning up, its servers stop by themselves.
    bool stop_with_parent = true;
    // Certificate trusted by the fixture's own health checks; defaults to the value
    // given with --tls-cert in `args`.
    std::string ca_file;
    std::chrono::milliseconds startup_timeout{20000};
    // How long stop() waits after SIGTERM before falling back to SIGKILL.
    std::chrono::milliseconds stop_timeout{15000};
    // Where the server keeps dbfiles. from_environment: PostgreSQL when
    // ZUMERO_TEST_STORE=postgresql and `executable` is empty (another executable, such
    // as the placeholder server, runs as asked), SQLite files otherwise.
    enum class Store { from_environment, sqlite_files, postgresql };
    Store store = Store::from_environment;
    // PostgreSQL mode: the cluster (it must outlive the server); nullptr means the one
    // shared by the test program.
    PgCluster *cluster = nullptr;
    // PostgreSQL mode: how many nodes share the database.
    int nodes = 3;
  };

  // Starts the server and waits until "listening on" was printed and GET /health
  // answered 200. Throws std::runtime_error (including the server log) on failure.
  ServerProcess();
  explicit ServerProcess(std::vector<std::string> extra_args);
  explicit ServerProcess(Options options);

  // stop(), then removes the temporary directory. Never throws.
  ~ServerProcess();

  ServerProcess(const ServerProcess &) = delete;
  ServerProcess &operator=(const ServerProcess &) = delete;

  // "http://127.0.0.1:PORT" or "https://127.0.0.1:PORT" as printed by the server (in
  // PostgreSQL mode, the balancer's; it stays the same across restarts).
  const std::string &url() const { return url_; }
  int port() const { return port_; }
  // The first node's process.
  pid_t pid() const { return node_pid(0); }
  // Some node runs.
  bool running() const;

  const std::filesystem::path &work_dir() const { return work_dir_.path(); }
  // The first node's data directory and log.
  std::filesystem::path data_dir() const { return node_data_dir(0); }
  std::filesystem::path log_file() const { return node_log_file(0); }
  // Everything the server wrote to stderr so far, across restarts: the nodes' logs one
  // after the other.
  std::string log() const;
  // Polls the log until it contains `text`; false on timeout.
  bool wait_for_log(const std::string &text, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

  // Sends `signal` (default SIGTERM) to every node and waits for them to exit, using
  // SIGKILL after options.stop_timeout. Returns the exit status (128 + signal number
  // when killed by a signal; the first one that is not 0 among nodes), or -1 when no
  // node was running.
  int stop(int signal = SIGTERM);

  // Waits for the nodes to exit by themselves (e.g. after a signal sent with
  // kill(pid(), ...)). Returns the exit status as stop() does, or -2 when one is still
  // running after `timeout`, -1 when none was running.
  int wait_for_exit(std::chrono::milliseconds timeout);

  // SIGKILL and reap every node: simulates a crash. The data directories are kept.
  void kill_hard();

  // Stops the nodes gracefully when running, then starts them again with the same data
  // directories and arguments. A node's previous port is reused when it is still free,
  // so node URLs normally stay the same; otherwise a new free port is picked.
  void restart();

  // ---- PostgreSQL mode --------------------------------------------------------------
  bool uses_postgresql() const { return !conninfo_.empty(); }
  // The server's PostgreSQL database (postgresql://...); empty with SQLite files.
  const std::string &store_conninfo() const { return conninfo_; }
  // The balancer in front of the nodes; nullptr with SQLite files.
  TcpBalancer *balancer() const { return balancer_.get(); }

  // The dbfiles the server's storage holds, sorted (zumero_log included): the names of
  // the database files in the data directory, or the dbfiles PostgreSQL records.
  std::vector<std::string> dbfiles() const;
  bool has_dbfile(const std::string &dbfile) const;

  // ---- single nodes, 0 <= i < node_count() -------------------------------------------
  int node_count() const { return static_cast<int>(nodes_.size()); }
  // The node's own address, bypassing the balancer; empty while it is down.
  std::string node_url(int i) const;
  int node_port(int i) const;
  pid_t node_pid(int i) const;
  bool node_running(int i) const;
  std::filesystem::path node_data_dir(int i) const;
  std::filesystem::path node_log_file(int i) const;
  std::string node_log(int i) const;
  // Stops one node as stop() does; the others keep serving.
  int stop_node(int i, int signal = SIGTERM);
  // SIGKILL and reap one node.
  void kill_node(int i);
  // Starts a node that is down (nothing when it runs), on its previous port when free.
  void start_node(int i);
  // stop_node(i), then start_node(i).
  void restart_node(int i);

  // The default executable: $ZUMERO_SERVER_BIN when set, else the zumero-server target.
  static std::string executable();

private:
  struct Node {
    std::filesystem::path data_dir;
    std::filesystem::path log_file;
    pid_t pid = -1;
    int stdout_fd = -1;
    int stdin_fd = -1;  // write end of the server's stdin pipe
    int port = 0;
    std::string url;
  };

  void setup_postgresql();
  void drop_database() noexcept;
  std::vector<std::string> node_arguments(const Node &node, int port) const;
  void spawn(Node &node, int port);
  void await_ready(Node &node);
  // Spawns the nodes at the given ports, waits for all, and retries on a new port those
  // whose port was taken.
  void start_nodes(const std::vector<std::size_t> &which, const std::vector<int> &ports);
  void signal_nodes(const std::vector<std::size_t> &which, int signal);
  int wait_nodes(const std::vector<std::size_t> &which, std::chrono::milliseconds timeout);
  int reap(Node &node, bool block);
  void node_moved(std::size_t index);
  Node &node(int i);
  const Node &node(int i) const;
  std::vector<std::size_t> all_nodes() const;

  Options options_;
  TempDir work_dir_;
  std::vector<Node> nodes_;
  PgCluster *cluster_ = nullptr;
  std::string database_;
  std::string conninfo_;
  std::unique_ptr<TcpBalancer> balancer_;
  int port_ = 0;
  std::string url_;
};

}  // namespace zumero::test
