#include "server/tests/server_process.h"

#include <curl/curl.h>

#include "server/pg_client.h"
#include "server/tests/pg_cluster.h"
#include "server/tests/tcp_balancer.h"

#include <algorithm>
#include <atomic>
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
#include <sys/syscall.h>
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

bool postgresql_requested(const ServerProcess::Options &options) {
  using Store = ServerProcess::Options::Store;
  if (options.store != Store::from_environment) return options.store == Store::postgresql;
  const char *store = std::getenv("ZUMERO_TEST_STORE");
  return options.executable.empty() && store && std::string(store) == "postgresql";
}

// The cluster every PostgreSQL-mode server of the test program shares. Its server
// stops when the thread that started it ends, hence the main thread only.
PgCluster &shared_cluster() {
  static std::mutex mutex;
  static std::unique_ptr<PgCluster> cluster;
  std::lock_guard<std::mutex> held(mutex);
  if (!cluster) {
    if (static_cast<pid_t>(syscall(SYS_gettid)) != getpid())
      throw std::runtime_error("the PostgreSQL cluster shared by the tests must be started from the main thread");
    cluster = std::make_unique<PgCluster>();
  }
  return *cluster;
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
  if (postgresql_requested(options_)) {
    setup_postgresql();
  } else {
    nodes_.resize(1);
    nodes_[0].data_dir = work_dir_.path() / "data";
    nodes_[0].log_file = work_dir_.path() / "server.log";
  }
  for (Node &n : nodes_) std::filesystem::create_directories(n.data_dir);
  try {
    start_nodes(all_nodes(), std::vector<int>(nodes_.size(), 0));
  } catch (...) {
    kill_hard();
    drop_database();
    throw;
  }
  if (uses_postgresql()) {
    std::vector<int> ports;
    for (const Node &n : nodes_) ports.push_back(n.port);
    balancer_ = std::make_unique<TcpBalancer>(ports);
    port_ = balancer_->port();
    url_ = nodes_[0].url.substr(0, nodes_[0].url.rfind(':') + 1) + std::to_string(port_);
  } else {
    port_ = nodes_[0].port;
    url_ = nodes_[0].url;
  }
}

ServerProcess::~ServerProcess() {
  try {
    stop();
  } catch (...) {
  }
  balancer_.reset();
  for (Node &n : nodes_) {
    close_fd(n.stdout_fd);
    close_fd(n.stdin_fd);
  }
  drop_database();
}

void ServerProcess::setup_postgresql() {
  cluster_ = options_.cluster ? options_.cluster : &shared_cluster();
  static std::atomic<int> databases{0};
  database_ = "zumero_test_" + std::to_string(getpid()) + "_" + std::to_string(++databases);
  cluster_->create_database(database_);
  conninfo_ = cluster_->conninfo(database_);
  int count = std::max(1, options_.nodes);
  nodes_.resize(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    std::string name = "node" + std::to_string(i + 1);
    nodes_[static_cast<std::size_t>(i)].data_dir = work_dir_.path() / name;
    nodes_[static_cast<std::size_t>(i)].log_file = work_dir_.path() / (name + ".log");
  }
}

// The database goes with the server, so a long test run does not fill the cluster.
void ServerProcess::drop_database() noexcept {
  if (database_.empty() || !cluster_ || !cluster_->running()) return;
  try {
    server::pg::PgConnection connection(cluster_->conninfo());
    connection.exec("DROP DATABASE IF EXISTS \"" + database_ + "\" WITH (FORCE)");
  } catch (...) {
  }
  database_.clear();
}

bool ServerProcess::running() const {
  return std::any_of(nodes_.begin(), nodes_.end(), [](const Node &n) { return n.pid > 0; });
}

std::string ServerProcess::log() const {
  std::string text;
  for (const Node &n : nodes_) text += read_file(n.log_file);
  return text;
}

bool ServerProcess::wait_for_log(const std::string &text, std::chrono::milliseconds timeout) const {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (log().find(text) != std::string::npos) return true;
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
}

std::vector<std::string> ServerProcess::dbfiles() const {
  std::vector<std::string> names;
  if (uses_postgresql()) {
    server::pg::PgConnection connection(conninfo_);
    server::pg::PgResult result = connection.exec(
        "SELECT name FROM zumero_dbfiles WHERE to_regclass('zumero_dbfiles') IS NOT NULL ORDER BY name");
    for (int i = 0; i < result.rows(); ++i) names.push_back(result.text(i, 0));
    return names;
  }
  // Every database file but hidden ones (drafts, the push parts): a file under a name
  // the server should have refused counts too.
  for (const auto &entry : std::filesystem::directory_iterator(data_dir())) {
    std::string name = entry.path().stem().string();
    if (entry.path().extension() == ".db" && !name.empty() && name[0] != '.') names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool ServerProcess::has_dbfile(const std::string &dbfile) const {
  std::vector<std::string> names = dbfiles();
  return std::find(names.begin(), names.end(), dbfile) != names.end();
}

// ---- nodes ---------------------------------------------------------------------------

ServerProcess::Node &ServerProcess::node(int i) {
  if (i < 0 || i >= node_count()) throw std::out_of_range("no server node " + std::to_string(i));
  return nodes_[static_cast<std::size_t>(i)];
}

const ServerProcess::Node &ServerProcess::node(int i) const {
  if (i < 0 || i >= node_count()) throw std::out_of_range("no server node " + std::to_string(i));
  return nodes_[static_cast<std::size_t>(i)];
}

std::vector<std::size_t> ServerProcess::all_nodes() const {
  std::vector<std::size_t> which;
  for (std::size_t i = 0; i < nodes_.size(); ++i) which.push_back(i);
  return which;
}

std::string ServerProcess::node_url(int i) const { return node(i).pid > 0 ? node(i).url : std::string(); }
int ServerProcess::node_port(int i) const { return node(i).port; }
pid_t ServerProcess::node_pid(int i) const { return node(i).pid; }
bool ServerProcess::node_running(int i) const { return node(i).pid > 0; }
std::filesystem::path ServerProcess::node_data_dir(int i) const { return node(i).data_dir; }
std::filesystem::path ServerProcess::node_log_file(int i) const { return node(i).log_file; }
std::string ServerProcess::node_log(int i) const { return read_file(node(i).log_file); }

int ServerProcess::stop_node(int i, int signal) {
  node(i);  // range check
  signal_nodes({static_cast<std::size_t>(i)}, signal);
  int code = wait_nodes({static_cast<std::size_t>(i)}, options_.stop_timeout);
  if (code != -2) return code;
  kill_node(i);
  return 128 + SIGKILL;
}

void ServerProcess::kill_node(int i) {
  Node &n = node(i);
  if (n.pid <= 0) return;
  kill(n.pid, SIGKILL);
  reap(n, true);
}

void ServerProcess::start_node(int i) {
  Node &n = node(i);
  if (n.pid > 0) return;
  start_nodes({static_cast<std::size_t>(i)}, {n.port});
}

void ServerProcess::restart_node(int i) {
  stop_node(i);
  start_node(i);
}

// Returns the exit status once the child has exited (and forgets the child), -2 while it
// still runs, -1 when there is no child.
int ServerProcess::reap(Node &n, bool block) {
  if (n.pid <= 0) return -1;
  int status = 0;
  pid_t done;
  do {
    done = waitpid(n.pid, &status, block ? 0 : WNOHANG);
  } while (done < 0 && errno == EINTR);
  if (done == 0) return -2;  // still running
  n.pid = -1;
  close_fd(n.stdout_fd);
  close_fd(n.stdin_fd);
  return done < 0 ? -1 : decode_wait_status(status);
}

std::vector<std::string> ServerProcess::node_arguments(const Node &n, int port) const {
  std::vector<std::string> args = {options_.executable.empty() ? executable() : options_.executable, "--data-dir",
                                   n.data_dir.string(), "--listen", "127.0.0.1:" + std::to_string(port)};
  if (uses_postgresql()) {
    args.push_back("--store");
    args.push_back(conninfo_);
  }
  args.insert(args.end(), options_.args.begin(), options_.args.end());
  return args;
}

void ServerProcess::spawn(Node &n, int port) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw system_error("pipe2");
  int log_fd = ::open(n.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw system_error("open " + n.log_file.string());
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

  std::vector<std::string> args = node_arguments(n, port);
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
  n.pid = pid;
  n.stdout_fd = fds[0];
  n.stdin_fd = in_fds[1];
}

// Reads the "listening on" line, then waits for /health.
void ServerProcess::await_ready(Node &n) {
  auto fail = [&](const std::string &why) {
    if (n.pid > 0) {
      kill(n.pid, SIGKILL);
      reap(n, true);
    }
    close_fd(n.stdout_fd);
    close_fd(n.stdin_fd);
    throw std::runtime_error("zumero-server did not start: " + why + "\n--- server log (" + n.log_file.string() +
                             ") ---\n" + read_file(n.log_file));
  };

  const std::string prefix = "zumero-server listening on ";
  auto deadline = Clock::now() + options_.startup_timeout;
  std::string line;
  for (;;) {
    if (Clock::now() > deadline) fail("no 'listening on' line");
    pollfd p{n.stdout_fd, POLLIN, 0};
    int ready = poll(&p, 1, 50);
    if (ready < 0 && errno != EINTR) fail("poll failed");
    if (ready <= 0) continue;
    char c;
    ssize_t count = ::read(n.stdout_fd, &c, 1);
    if (count == 0) {
      int code = reap(n, true);
      fail("exited with status " + std::to_string(code) + " before listening");
    }
    if (count < 0) {
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
  n.url = line.substr(prefix.size());
  try {
    n.port = std::stoi(n.url.substr(n.url.rfind(':') + 1));
  } catch (...) {
    fail("cannot parse '" + line + "'");
  }

  for (;;) {
    if (reap(n, false) != -2) fail("exited while starting");
    try {
      if (http_get(n.url + "/health", options_.ca_file, 5).status == 200) return;
    } catch (const std::exception &) {
    }
    if (Clock::now() > deadline) fail("/health did not answer 200");
    std::this_thread::sleep_for(20ms);
  }
}

void ServerProcess::start_nodes(const std::vector<std::size_t> &which, const std::vector<int> &ports) {
  // All at once: nodes of one database start side by side as they would in production.
  for (std::size_t k = 0; k < which.size(); ++k) spawn(nodes_[which[k]], ports[k]);
  std::optional<std::runtime_error> failure;
  for (std::size_t k = 0; k < which.size(); ++k) {
    Node &n = nodes_[which[k]];
    try {
      await_ready(n);
    } catch (const std::runtime_error &error) {
      if (ports[k] == 0) {
        if (!failure) failure = error;
        continue;
      }
      // The previous port was taken meanwhile; fall back to a new one.
      try {
        spawn(n, 0);
        await_ready(n);
      } catch (const std::runtime_error &again) {
        if (!failure) failure = again;
        continue;
      }
    }
    node_moved(which[k]);
  }
  if (failure) throw *failure;
}

void ServerProcess::node_moved(std::size_t index) {
  if (balancer_) balancer_->set_upstream(index, nodes_[index].port);
  if (!uses_postgresql()) {
    port_ = nodes_[index].port;
    url_ = nodes_[index].url;
  }
}

void ServerProcess::signal_nodes(const std::vector<std::size_t> &which, int signal) {
  for (std::size_t index : which)
    if (nodes_[index].pid > 0) kill(nodes_[index].pid, signal);
}

// The first exit status that is not 0, else 0; -1 when none ran; -2 when one still runs.
int ServerProcess::wait_nodes(const std::vector<std::size_t> &which, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  int result = -1;
  for (std::size_t index : which) {
    Node &n = nodes_[index];
    if (n.pid <= 0) continue;
    int code;
    for (;;) {
      code = reap(n, false);
      if (code != -2 || Clock::now() > deadline) break;
      std::this_thread::sleep_for(10ms);
    }
    if (code == -2) return -2;
    if (result <= 0) result = code;
  }
  return result;
}

int ServerProcess::wait_for_exit(std::chrono::milliseconds timeout) { return wait_nodes(all_nodes(), timeout); }

int ServerProcess::stop(int signal) {
  if (!running()) return -1;
  signal_nodes(all_nodes(), signal);
  int code = wait_nodes(all_nodes(), options_.stop_timeout);
  if (code != -2) return code;
  int result = -1;
  for (Node &n : nodes_) {
    if (n.pid <= 0) continue;
    kill(n.pid, SIGKILL);
    int killed = reap(n, true);
    if (result <= 0) result = killed;
  }
  return result;
}

void ServerProcess::kill_hard() {
  for (Node &n : nodes_) {
    if (n.pid <= 0) continue;
    kill(n.pid, SIGKILL);
    reap(n, true);
  }
}

void ServerProcess::restart() {
  stop();
  std::vector<int> ports;
  for (const Node &n : nodes_) ports.push_back(n.port);
  start_nodes(all_nodes(), ports);
}

}  // namespace zumero::test
