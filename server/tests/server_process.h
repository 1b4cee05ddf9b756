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
#pragma once

#include <chrono>
#include <csignal>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <sys/types.h>

namespace zumero::test {

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

  // "http://127.0.0.1:PORT" or "https://127.0.0.1:PORT" as printed by the server.
  const std::string &url() const { return url_; }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }

  const std::filesystem::path &work_dir() const { return work_dir_.path(); }
  std::filesystem::path data_dir() const { return work_dir_.path() / "data"; }
  std::filesystem::path log_file() const { return work_dir_.path() / "server.log"; }
  // Everything the server wrote to stderr so far, across restarts.
  std::string log() const;
  // Polls the log until it contains `text`; false on timeout.
  bool wait_for_log(const std::string &text, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

  // Sends `signal` (default SIGTERM) and waits for the process to exit, using SIGKILL
  // after options.stop_timeout. Returns the exit status (128 + signal number when
  // killed by a signal), or -1 when the server was not running.
  int stop(int signal = SIGTERM);

  // Waits for the process to exit by itself (e.g. after a signal sent with
  // kill(pid(), ...)). Returns the exit status as stop() does, or -2 when it is still
  // running after `timeout`, -1 when it was not running.
  int wait_for_exit(std::chrono::milliseconds timeout);

  // SIGKILL and reap: simulates a crash. The data directory is kept.
  void kill_hard();

  // Stops the server gracefully when running, then starts it again with the same data
  // directory and arguments. The previous port is reused when it is still free, so
  // url() normally stays the same; otherwise a new free port is picked.
  void restart();

  // The default executable: $ZUMERO_SERVER_BIN when set, else the zumero-server target.
  static std::string executable();

private:
  void start(int port);
  void wait_healthy();
  int reap(bool block);

  Options options_;
  TempDir work_dir_;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  int stdin_fd_ = -1;  // write end of the server's stdin pipe
  int port_ = 0;
  std::string url_;
};

}  // namespace zumero::test
