#include "server/tests/server_process.h"

#include <curl/curl.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace zumero::test {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::runtime_error system_error(const std::string &what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

bool keep_test_dirs() {
  const char *value = std::getenv("ZUMERO_KEEP_TEST_DIRS");
  return value && std::string(value) == "1";
}

int decode_wait_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Owns a posix_spawn_file_actions_t.
class FileActions {
public:
  FileActions() { posix_spawn_file_actions_init(&actions_); }
  ~FileActions() { posix_spawn_file_actions_destroy(&actions_); }
  FileActions(const FileActions &) = delete;
  FileActions &operator=(const FileActions &) = delete;
  posix_spawn_file_actions_t *get() { return &actions_; }

private:
  posix_spawn_file_actions_t actions_;
};

// NULL-terminated char* array over a vector of strings.
std::vector<char *> c_strings(std::vector<std::string> &strings) {
  std::vector<char *> result;
  for (auto &s : strings) result.push_back(s.data());
  result.push_back(nullptr);
  return result;
}

std::vector<std::string> child_environment(const std::vector<std::pair<std::string, std::string>> &overrides) {
  std::vector<std::string> env;
  for (char **entry = environ; entry && *entry; ++entry) {
    std::string text = *entry;
    std::string name = text.substr(0, text.find('='));
    bool replaced = std::any_of(overrides.begin(), overrides.end(), [&](const auto &o) { return o.first == name; });
    if (!replaced) env.push_back(std::move(text));
  }
  for (const auto &[name, value] : overrides) env.push_back(name + "=" + value);
  return env;
}

void close_fd(int &fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

std::string read_file(const std::filesystem::path &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

size_t append_to_string(char *data, size_t size, size_t count, void *user) {
  static_cast<std::string *>(user)->append(data, size * count);
  return size * count;
}

}  // namespace

// ---------------------------------------------------------------------------------

TempDir::TempDir(const std::string &prefix) {
  std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
  if (!mkdtemp(pattern.data())) throw system_error("mkdtemp " + pattern);
  path_ = pattern;
}

TempDir::~TempDir() {
  if (keep_test_dirs()) return;
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

CommandResult run_command(const std::vector<std::string> &argv, std::chrono::milliseconds timeout) {
  if (argv.empty()) throw std::invalid_argument("run_command: empty argv");
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw system_error("pipe2");
  FileActions actions;
  posix_spawn_file_actions_addopen(actions.get(), 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(actions.get(), fds[1], 1);
  posix_spawn_file_actions_adddup2(actions.get(), fds[1], 2);

  std::vector<std::string> args = argv;
  std::vector<char *> c_args = c_strings(args);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0].c_str(), actions.get(), nullptr, c_args.data(), environ);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    errno = rc;
    throw system_error("cannot run " + args[0]);
  }

  CommandResult result;
  auto deadline = Clock::now() + timeout;
  bool killed = false;
  for (;;) {
    pollfd p{fds[0], POLLIN, 0};
    int ready = poll(&p, 1, 50);
    if (ready > 0) {
      char buffer[4096];
      ssize_t n = ::read(fds[0], buffer, sizeof buffer);
      if (n > 0) {
        result.output.append(buffer, static_cast<size_t>(n));
        continue;
      }
      if (n == 0 || errno != EINTR) break;
    }
    if (!killed && Clock::now() > deadline) {
      kill(pid, SIGKILL);
      killed = true;
    }
  }
  ::close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = decode_wait_status(status);
  return result;
}

TlsFiles make_self_signed_certificate(const std::filesystem::path &dir) {
  TlsFiles files{(dir / "cert.pem").string(), (dir / "key.pem").string()};
  CommandResult result = run_command({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                      "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", files.key_file, "-out",
                                      files.cert_file, "-days", "1", "-subj", "/CN=localhost", "-addext",
                                      "subjectAltName=IP:127.0.0.1,DNS:localhost"});
  if (result.exit_code != 0) {
    throw std::runtime_error("openssl could not create a certificate:\n" + result.output);
  }
  return files;
}

GetResult http_get(const std::string &url, const std::string &ca_file, long timeout_seconds) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<CURL, void (*)(CURL *)> easy(curl_easy_init(), curl_easy_cleanup);
  if (!easy) throw std::runtime_error("curl_easy_init failed");
  CURL *h = easy.get();
  GetResult result;
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_seconds);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, ca_file.c_str());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &append_to_string);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, static_cast<void *>(&result.body));
  CURLcode rc = curl_easy_perform(h);
  if (rc != CURLE_OK) throw std::runtime_error("GET " + url + ": " + curl_easy_strerror(rc));
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &result.status);
  return result;
}

// ---------------------------------------------------------------------------------

std::string ServerProcess::executable() {
  if (const char *path = std::getenv("ZUMERO_SERVER_BIN"); path && *path) return path;
  return ZUMERO_SERVER_PATH;
}

ServerProcess::ServerProcess() : ServerProcess(Options{}) {}

ServerProcess::ServerProcess(std::vector<std::string> extra_args) : ServerProcess([&] {
  Options options;
  options.args = std::move(extra_args);
  return options;
}()) {}

ServerProcess::ServerProcess(Options options) : options_(std::move(options)), work_dir_("zumero-server-") {
  if (options_.ca_file.empty()) {
    for (size_t i = 0; i < options_.args.size(); ++i) {
      const std::string &arg = options_.args[i];
      if (arg == "--tls-cert" && i + 1 < options_.args.size()) options_.ca_file = options_.args[i + 1];
      if (arg.rfind("--tls-cert=", 0) == 0) options_.ca_file = arg.substr(std::strlen("--tls-cert="));
    }
  }
  std::filesystem::create_directories(data_dir());
  start(0);
}

ServerProcess::~ServerProcess() {
  try {
    stop();
  } catch (...) {
  }
  close_fd(stdout_fd_);
  close_fd(stdin_fd_);
}

std::string ServerProcess::log() const { return read_file(log_file()); }

bool ServerProcess::wait_for_log(const std::string &text, std::chrono::milliseconds timeout) const {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (log().find(text) != std::string::npos) return true;
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
}

// Returns the exit status once the child has exited (and forgets the child), -2 while it
// still runs, -1 when there is no child.
int ServerProcess::reap(bool block) {
  if (pid_ <= 0) return -1;
  int status = 0;
  pid_t done;
  do {
    done = waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (done < 0 && errno == EINTR);
  if (done == 0) return -2;  // still running
  pid_ = -1;
  close_fd(stdout_fd_);
  close_fd(stdin_fd_);
  return done < 0 ? -1 : decode_wait_status(status);
}

void ServerProcess::start(int port) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw system_error("pipe2");
  int log_fd = ::open(log_file().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw system_error("open " + log_file().string());
  }

  int in_fds[2] = {-1, -1};
  if (options_.stop_with_parent && pipe2(in_fds, O_CLOEXEC) != 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    ::close(log_fd);
    throw system_error("pipe2");
  }

  FileActions actions;
  if (options_.stop_with_parent) posix_spawn_file_actions_adddup2(actions.get(), in_fds[0], 0);
  else posix_spawn_file_actions_addopen(actions.get(), 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(actions.get(), fds[1], 1);
  posix_spawn_file_actions_adddup2(actions.get(), log_fd, 2);

  std::vector<std::string> args = {options_.executable.empty() ? executable() : options_.executable, "--data-dir", data_dir().string(), "--listen",
                                   "127.0.0.1:" + std::to_string(port)};
  args.insert(args.end(), options_.args.begin(), options_.args.end());
  auto overrides = options_.env;
  if (options_.test_hooks) overrides.emplace_back("ZUMERO_TEST_HOOKS", "1");
  if (options_.stop_with_parent) overrides.emplace_back("ZUMERO_STOP_ON_STDIN_EOF", "1");
  std::vector<std::string> env = child_environment(overrides);
  std::vector<char *> c_args = c_strings(args);
  std::vector<char *> c_env = c_strings(env);

  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0].c_str(), actions.get(), nullptr, c_args.data(), c_env.data());
  ::close(fds[1]);
  ::close(log_fd);
  if (in_fds[0] >= 0) ::close(in_fds[0]);
  if (rc != 0) {
    ::close(fds[0]);
    if (in_fds[1] >= 0) ::close(in_fds[1]);
    errno = rc;
    throw system_error("cannot start " + args[0]);
  }
  pid_ = pid;
  stdout_fd_ = fds[0];
  stdin_fd_ = in_fds[1];

  auto fail = [&](const std::string &why) {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      reap(true);
    }
    close_fd(stdout_fd_);
    close_fd(stdin_fd_);
    throw std::runtime_error("zumero-server did not start: " + why + "\n--- server log ---\n" + log());
  };

  // Read the "listening on" line.
  const std::string prefix = "zumero-server listening on ";
  auto deadline = Clock::now() + options_.startup_timeout;
  std::string line;
  for (;;) {
    if (Clock::now() > deadline) fail("no 'listening on' line");
    pollfd p{stdout_fd_, POLLIN, 0};
    int ready = poll(&p, 1, 50);
    if (ready < 0 && errno != EINTR) fail("poll failed");
    if (ready <= 0) continue;
    char c;
    ssize_t n = ::read(stdout_fd_, &c, 1);
    if (n == 0) {
      int code = reap(true);
      fail("exited with status " + std::to_string(code) + " before listening");
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("read failed");
    }
    if (c == '\n') {
      if (line.rfind(prefix, 0) == 0) break;
      line.clear();  // some other output; keep looking
      continue;
    }
    line += c;
  }
  url_ = line.substr(prefix.size());
  try {
    port_ = std::stoi(url_.substr(url_.rfind(':') + 1));
  } catch (...) {
    fail("cannot parse '" + line + "'");
  }

  // Wait for /health.
  for (;;) {
    if (reap(false) != -2) fail("exited while starting");
    try {
      if (http_get(url_ + "/health", options_.ca_file, 5).status == 200) return;
    } catch (const std::exception &) {
    }
    if (Clock::now() > deadline) fail("/health did not answer 200");
    std::this_thread::sleep_for(20ms);
  }
}

int ServerProcess::wait_for_exit(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    int code = reap(false);
    if (code != -2 || Clock::now() > deadline) return code;
    std::this_thread::sleep_for(10ms);
  }
}

int ServerProcess::stop(int signal) {
  if (pid_ <= 0) return -1;
  kill(pid_, signal);
  int code = wait_for_exit(options_.stop_timeout);
  if (code != -2) return code;
  kill(pid_, SIGKILL);
  return reap(true);
}

void ServerProcess::kill_hard() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  reap(true);
}

void ServerProcess::restart() {
  stop();
  int previous = port_;
  if (previous > 0) {
    try {
      start(previous);
      return;
    } catch (const std::exception &) {
      // The port was taken meanwhile; fall back to a new one.
    }
  }
  start(0);
}

}  // namespace zumero::test
