// What the subcommands that talk to a zumero-server share: the server as a child
// process on loopback, and zumero_sync called until a sync is complete.
#pragma once

#include "bench_util.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace zumero_bench {

// The zumero-server next to this executable.
std::string default_server_path();

// The last `count` lines of a text file, indented, for error messages.
std::string tail_of_file(const std::string &path, std::size_t count);

// Peak resident memory of a process (VmHWM), in bytes; 0 when it cannot be read.
std::uint64_t peak_memory_bytes(pid_t pid);
// Starts measuring a process's peak memory anew from its current size (Linux
// clear_refs); false when the kernel does not allow it.
bool reset_peak_memory(pid_t pid);

// A zumero-server child process listening on a free loopback port. Its stderr (the
// server's log) goes to a file; its stdout is a pipe, whose first line gives the URL.
// The destructor stops the server if stop() was not called.
class ServerProcess {
public:
  ServerProcess(const std::string &binary, const std::string &data_dir, const std::string &log_path)
      : log_path_(log_path) {
    if (access(binary.c_str(), X_OK) != 0)
      throw BenchError("cannot run the server " + binary + ": " + std::strerror(errno) +
                       " (build the zumero-server target, or pass --server PATH)");
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) throw BenchError(std::string("pipe failed: ") + std::strerror(errno));
    stdout_fd_ = pipe_fds[0];

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    std::vector<std::string> args = {binary, "--data-dir", data_dir, "--listen", "127.0.0.1:0"};
    std::vector<char *> argv;
    for (std::string &arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    int rc = posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(pipe_fds[1]);
    if (rc != 0) {
      pid_ = -1;
      close(stdout_fd_);
      throw BenchError("cannot start " + binary + ": " + std::strerror(rc));
    }
    try {
      url_ = read_url();
    } catch (...) {
      stop();
      throw;
    }
  }

  ~ServerProcess() { stop(); }
  ServerProcess(const ServerProcess &) = delete;
  ServerProcess &operator=(const ServerProcess &) = delete;

  const std::string &url() const { return url_; }
  pid_t pid() const { return pid_; }
  const std::string &log_path() const { return log_path_; }

  // SIGTERM, then up to 10 s for the server to exit before SIGKILL. Returns the
  // wait status, or -1 when no process was running.
  int stop() {
    if (pid_ <= 0) return -1;
    int status = 0;
    kill(pid_, SIGTERM);
    Stopwatch clock;
    pid_t done = 0;
    while ((done = waitpid(pid_, &status, WNOHANG)) == 0 && clock.elapsed_ms() < 10000)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (done == 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
    pid_ = -1;
    if (stdout_fd_ >= 0) close(stdout_fd_);
    stdout_fd_ = -1;
    return status;
  }

private:
  // Reads "zumero-server listening on URL" from the server's stdout (at most 30 s).
  std::string read_url() {
    const std::string prefix = "zumero-server listening on ";
    std::string line;
    Stopwatch clock;
    while (true) {
      int left = 30000 - static_cast<int>(clock.elapsed_ms());
      if (left <= 0) throw BenchError("the server did not report its address within 30 s\n" + log_tail());
      pollfd descriptor{stdout_fd_, POLLIN, 0};
      int ready = poll(&descriptor, 1, left);
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) continue;
      char c;
      ssize_t got = read(stdout_fd_, &c, 1);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) throw BenchError("the server exited before it was listening\n" + log_tail());
      if (c == '\n') break;
      line += c;
    }
    if (line.rfind(prefix, 0) != 0) throw BenchError("unexpected first line from the server: " + line);
    std::string url = line.substr(prefix.size());
    if (url.rfind("http://127.0.0.1:", 0) != 0) throw BenchError("the server is not on loopback: " + url);
    return url;
  }

  std::string log_tail() const { return "server log (last lines):\n" + tail_of_file(log_path_, 20); }

  std::string log_path_;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string url_;
};


// What one or more zumero_sync calls did, summed over the calls.
struct SyncTotals {
  double ms = 0;          // wall-clock time of the calls, measured here
  int calls = 0;
  std::int64_t up_full = 0;
  std::int64_t down_full = 0;
  std::int64_t up_compressed = 0;
  std::int64_t down_compressed = 0;
  std::int64_t net_ms = 0;  // time the client spent waiting on HTTP, as it reports
};

// Calls zumero_sync on `db` until it no longer reports a partial pull, and times
// the calls. A failed call, or a quarantined package, throws BenchError.
SyncTotals sync_until_done(Database &db, const std::string &url, const std::string &dbfile);

}  // namespace zumero_bench
