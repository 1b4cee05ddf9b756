#include "server/tests/pg_cluster.h"

#include "server/pg_client.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace zumero::test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char *kDirPrefix = "zumero-pg-";
constexpr const char *kLockName = "owner.lock";
constexpr const char *kKeptMarker = "kept";  // ZUMERO_KEEP_TEST_DIRS=1: never swept

std::runtime_error system_error(const std::string &what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

bool keep_test_dirs() {
  const char *value = std::getenv("ZUMERO_KEEP_TEST_DIRS");
  return value && std::string(value) == "1";
}

std::string read_text(const fs::path &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

bool executable_file(const fs::path &path) { return ::access(path.c_str(), X_OK) == 0; }

bool has_server_programs(const fs::path &bindir) {
  return executable_file(bindir / "initdb") && executable_file(bindir / "postgres");
}

// The newest /usr/lib/postgresql/<version>/bin (Debian's layout).
std::optional<fs::path> debian_bindir() {
  std::optional<fs::path> best;
  int best_version = -1;
  std::error_code ignored;
  for (const auto &entry : fs::directory_iterator("/usr/lib/postgresql", ignored)) {
    const std::string name = entry.path().filename().string();
    char *end = nullptr;
    long version = std::strtol(name.c_str(), &end, 10);
    if (end == name.c_str() || *end != '\0' || version <= best_version) continue;
    if (!has_server_programs(entry.path() / "bin")) continue;
    best = entry.path() / "bin";
    best_version = static_cast<int>(version);
  }
  return best;
}

std::optional<fs::path> path_bindir() {
  const char *path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty() || !executable_file(fs::path(dir) / "initdb")) continue;
    std::error_code error;
    fs::path real = fs::canonical(fs::path(dir) / "initdb", error).parent_path();  // through symlinks
    if (!error && has_server_programs(real)) return real;
  }
  return std::nullopt;
}

std::optional<fs::path> pg_config_bindir() {
  std::unique_ptr<FILE, int (*)(FILE *)> pipe(popen("pg_config --bindir 2>/dev/null", "r"), pclose);
  char line[4096];
  if (!pipe || !std::fgets(line, sizeof line, pipe.get())) return std::nullopt;
  std::string dir = line;
  dir.erase(dir.find_last_not_of("\r\n") + 1);
  if (has_server_programs(dir)) return fs::path(dir);
  return std::nullopt;
}

// Where initdb and postgres live: $ZUMERO_PG_BINDIR, Debian's newest version, PATH,
// or pg_config --bindir. Empty when PostgreSQL is not installed.
const fs::path &server_bindir() {
  static const fs::path bindir = [] {
    if (const char *dir = std::getenv("ZUMERO_PG_BINDIR"); dir && has_server_programs(dir)) return fs::path(dir);
    for (auto find : {debian_bindir, path_bindir, pg_config_bindir}) {
      if (auto dir = find()) return *dir;
    }
    return fs::path();
  }();
  return bindir;
}

// ---------------------------------------------------------------------------------
// Running PostgreSQL's programs

// The user the programs run as: PostgreSQL refuses to run as root.
struct Identity {
  bool switch_user = false;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
};

Identity server_identity() {
  Identity identity;
  if (geteuid() != 0) return identity;
  passwd *user = getpwnam("postgres");
  if (!user) throw std::runtime_error("running as root, but there is no postgres user to run PostgreSQL as");
  identity.switch_user = true;
  identity.uid = user->pw_uid;
  identity.gid = user->pw_gid;
  int count = 32;
  identity.groups.resize(static_cast<std::size_t>(count));
  if (getgrouplist("postgres", user->pw_gid, identity.groups.data(), &count) < 0) {
    identity.groups.resize(static_cast<std::size_t>(count));
    getgrouplist("postgres", user->pw_gid, identity.groups.data(), &count);
  }
  identity.groups.resize(static_cast<std::size_t>(count));
  return identity;
}

// The inherited environment without what would steer PostgreSQL elsewhere (PG*),
// with the C locale (so the log can be searched for messages) and UTC.
std::vector<std::string> server_environment() {
  std::vector<std::string> env;
  for (char **entry = environ; entry && *entry; ++entry) {
    std::string text = *entry;
    bool drop = text.rfind("PG", 0) == 0 || text.rfind("LC_", 0) == 0 || text.rfind("LANG=", 0) == 0 ||
                text.rfind("LANGUAGE=", 0) == 0 || text.rfind("TZ=", 0) == 0;
    if (!drop) env.push_back(std::move(text));
  }
  env.push_back("LC_ALL=C");
  env.push_back("TZ=UTC");
  return env;
}

std::vector<char *> c_strings(std::vector<std::string> &strings) {
  std::vector<char *> result;
  for (auto &s : strings) result.push_back(s.data());
  result.push_back(nullptr);
  return result;
}

struct SpawnOptions {
  fs::path work_dir;     // the child's working directory
  int output_fd = -1;    // stdout and stderr; stdin is /dev/null
  int inherit_fd = -1;   // one more descriptor the child keeps open, or -1
  int death_signal = 0;  // sent to the child when the spawning thread dies
};

[[noreturn]] void child_failed(const char *what) {
  ssize_t ignored = ::write(2, what, std::strlen(what));
  (void)ignored;
  _exit(127);
}

// Child side of spawn(): only async-signal-safe calls between fork and exec.
[[noreturn]] void exec_child(char **argv, char **envp, const Identity &identity, const SpawnOptions &options,
                             pid_t parent) {
  int null_fd = ::open("/dev/null", O_RDONLY);
  if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(options.output_fd, 1) < 0 || dup2(options.output_fd, 2) < 0) {
    child_failed("pg_cluster: cannot set up standard descriptors\n");
  }
  if (identity.switch_user &&
      (setgroups(identity.groups.size(), identity.groups.data()) != 0 || setgid(identity.gid) != 0 ||
       setuid(identity.uid) != 0)) {
    child_failed("pg_cluster: cannot switch to the postgres user\n");
  }
  // After the user switch, which would clear it.
  if (options.death_signal != 0 && prctl(PR_SET_PDEATHSIG, options.death_signal) != 0) {
    child_failed("pg_cluster: prctl(PR_SET_PDEATHSIG) failed\n");
  }
  if (getppid() != parent) _exit(127);  // the test program died before prctl
  if (options.inherit_fd >= 0 && fcntl(options.inherit_fd, F_SETFD, 0) != 0) child_failed("pg_cluster: fcntl failed\n");
  if (chdir(options.work_dir.c_str()) != 0) child_failed("pg_cluster: cannot enter the cluster directory\n");
  execve(argv[0], argv, envp);
  child_failed("pg_cluster: cannot execute a PostgreSQL program\n");
}

pid_t spawn(std::vector<std::string> argv, const SpawnOptions &options) {
  static const Identity identity = server_identity();
  std::vector<std::string> env = server_environment();
  std::vector<char *> c_argv = c_strings(argv);
  std::vector<char *> c_env = c_strings(env);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) throw system_error("fork");
  if (pid == 0) exec_child(c_argv.data(), c_env.data(), identity, options, parent);
  return pid;
}

int decode_wait_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// The process state letter from /proc/<pid>/stat ('Z' zombie, 'T' stopped), or 0
// when there is no such process.
char process_state(pid_t pid) {
  std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  std::size_t end_of_name = stat.rfind(')');
  return end_of_name == std::string::npos || end_of_name + 2 >= stat.size() ? 0 : stat[end_of_name + 2];
}

pid_t parent_of(pid_t pid) {
  std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  std::size_t end_of_name = stat.rfind(')');
  if (end_of_name == std::string::npos) return -1;
  std::istringstream fields(stat.substr(end_of_name + 2));
  char state = 0;
  pid_t parent = -1;
  fields >> state >> parent;
  return parent;
}

std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> children;
  std::error_code ignored;
  for (const auto &entry : fs::directory_iterator("/proc", ignored)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::isdigit(c) != 0; })) continue;
    pid_t pid = static_cast<pid_t>(std::stol(name));
    if (parent_of(pid) == parent) children.push_back(pid);
  }
  return children;
}

// Reaps `pid` when it is (or becomes) our child; otherwise waits until it is gone.
// Returns the exit status, 0 when it was not ours, or -2 when it still runs after
// `timeout`.
int wait_for_exit(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) return decode_wait_status(status);
    if (done < 0 && errno == ECHILD) {
      char state = process_state(pid);
      if (state == 0 || state == 'Z') return 0;
    }
    if (Clock::now() > deadline) return -2;
    std::this_thread::sleep_for(5ms);
  }
}

// ---------------------------------------------------------------------------------
// Directories

// /dev/shm, when it is a writable directory with room for a few clusters (a
// container's default 64 MB is not).
std::optional<fs::path> memory_dir() {
  const fs::path shm = "/dev/shm";
  struct statvfs stats {};
  if (::access(shm.c_str(), W_OK | X_OK) != 0 || statvfs(shm.c_str(), &stats) != 0) return std::nullopt;
  const unsigned long long free_bytes = static_cast<unsigned long long>(stats.f_bavail) * stats.f_frsize;
  if (free_bytes < 1024ull * 1024 * 1024) return std::nullopt;
  return shm;
}

// Where new cluster directories go; an explicit TMPDIR wins.
fs::path base_dir() {
  const char *tmpdir = std::getenv("TMPDIR");
  if (!(tmpdir && *tmpdir)) {
    if (auto dir = memory_dir()) return *dir;
  }
  return fs::temp_directory_path();
}

fs::path make_cluster_dir() {
  std::string pattern = (base_dir() / (std::string(kDirPrefix) + "XXXXXX")).string();
  if (!mkdtemp(pattern.data())) throw system_error("mkdtemp " + pattern);
  return pattern;
}

// ---------------------------------------------------------------------------------
// Leftovers

// The server's System V shared memory segment is removed by the server when it shuts
// down, but not when it is killed; the next start in the same directory would clean
// it, a deleted directory would leak it. Removes it once no process uses it.
void remove_stale_shared_memory(const fs::path &data_dir) {
  std::istringstream lines(read_text(data_dir / "postmaster.pid"));
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    if (number != 7) continue;  // "key id" of the segment (LOCK_FILE_LINE_SHMEM_KEY)
    long long key = 0;
    int id = -1;
    if (!(std::istringstream(line) >> key >> id) || id < 0) return;
    shmid_ds info{};
    if (shmctl(id, IPC_STAT, &info) == 0 && info.shm_perm.__key == static_cast<key_t>(key) && info.shm_nattch == 0) {
      shmctl(id, IPC_RMID, nullptr);
    }
    return;
  }
}

// Removes cluster directories whose owner and server are gone: a test program that
// crashed, the server having shut down with it. The owner's lock (also held by the
// server, which inherits it) tells: when it can be taken, nobody uses the directory.
void sweep_leftovers(const fs::path &base) {
  std::error_code ignored;
  for (const auto &entry : fs::directory_iterator(base, ignored)) {
    if (entry.path().filename().string().rfind(kDirPrefix, 0) != 0) continue;
    if (fs::exists(entry.path() / kKeptMarker, ignored)) continue;
    int fd = ::open((entry.path() / kLockName).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;  // not one of ours, or still being set up
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
      remove_stale_shared_memory(entry.path() / "data");
      fs::remove_all(entry.path(), ignored);
    }
    ::close(fd);
  }
}

// Locks the directory for its owner. The lock file gets its final name only once it
// is locked, so a concurrent sweep never sees it unlocked.
int lock_directory(const fs::path &dir) {
  fs::path pending = dir / (std::string(kLockName) + ".new");
  int fd = ::open(pending.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw system_error("open " + pending.string());
  if (flock(fd, LOCK_EX) != 0 || ::rename(pending.c_str(), (dir / kLockName).c_str()) != 0) {
    ::close(fd);
    throw system_error("lock " + dir.string());
  }
  return fd;
}

void hand_to_server_user(const fs::path &dir) {
  if (geteuid() != 0) return;
  passwd *user = getpwnam("postgres");
  if (!user || ::chown(dir.c_str(), user->pw_uid, user->pw_gid) != 0) throw system_error("chown " + dir.string());
}

// ---------------------------------------------------------------------------------

int free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw system_error("socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr *>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr *>(&address), &length) != 0) {
    ::close(fd);
    throw system_error("bind 127.0.0.1:0");
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

std::string percent_encoded(const std::string &text) {
  static const char *hex = "0123456789ABCDEF";
  std::string result;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      result += static_cast<char>(c);
    } else {
      result += '%';
      result += hex[c >> 4];
      result += hex[c & 15];
    }
  }
  return result;
}

std::string quoted_identifier(const std::string &name) {
  std::string result = "\"";
  for (char c : name) result += c == '"' ? std::string("\"\"") : std::string(1, c);
  return result + "\"";
}

int open_for_append(const fs::path &path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw system_error("open " + path.string());
  return fd;
}

}  // namespace

// ---------------------------------------------------------------------------------

bool PgCluster::available() {
  return !server_bindir().empty() && (geteuid() != 0 || getpwnam("postgres") != nullptr);
}

PgCluster::PgCluster() {
  static std::once_flag swept;
  std::call_once(swept, [] {
    sweep_leftovers(fs::temp_directory_path());
    if (auto dir = memory_dir()) sweep_leftovers(*dir);
  });
  dir_ = make_cluster_dir();
  try {
    lock_fd_ = lock_directory(dir_);
    if (keep_test_dirs()) std::ofstream(dir_ / kKeptMarker).put('\n');
    if (!available()) throw std::runtime_error("PostgreSQL (initdb, postgres) is not installed");
    hand_to_server_user(dir_);
    initdb();
    start();
  } catch (...) {
    release_directory();
    throw;
  }
}

PgCluster::~PgCluster() {
  try {
    if (running()) signal_and_wait(SIGQUIT);
    remove_stale_shared_memory(data_dir());
  } catch (...) {
  }
  release_directory();
}

void PgCluster::release_directory() noexcept {
  if (lock_fd_ >= 0) ::close(lock_fd_);
  lock_fd_ = -1;
  if (keep_test_dirs()) return;
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

std::string PgCluster::log() const { return read_text(dir_ / "postgres.log"); }

std::string PgCluster::conninfo(const std::string &database) const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + percent_encoded(database);
}

void PgCluster::create_database(const std::string &name) {
  server::pg::PgConnection connection(conninfo());
  connection.exec("CREATE DATABASE " + quoted_identifier(name));
}

void PgCluster::initdb() {
  fs::path log_path = dir_ / "initdb.log";
  int log_fd = open_for_append(log_path);
  SpawnOptions options{dir_, log_fd, -1, SIGKILL};
  pid_t pid = -1;
  try {
    pid = spawn({(server_bindir() / "initdb").string(), "-D", data_dir().string(), "--auth=trust", "-U", "postgres",
                 "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"},
                options);
  } catch (...) {
    ::close(log_fd);
    throw;
  }
  ::close(log_fd);
  int code = wait_for_exit(pid, 120s);
  if (code == -2) {
    kill(pid, SIGKILL);
    wait_for_exit(pid, 10s);
  }
  if (code != 0) throw std::runtime_error("initdb failed:\n" + read_text(log_path));
}

// Starts the postmaster on `port` and waits until it accepts connections. False when
// it exited instead (the reason is in the log).
bool PgCluster::launch(int port) {
  const std::string socket_dir = dir_.string();
  // A Unix socket path is limited to about 100 bytes; TCP is what the tests use.
  const std::string socket_setting = socket_dir.size() < 80 ? socket_dir : "";
  std::vector<std::string> argv = {(server_bindir() / "postgres").string(),
                                   "-D", data_dir().string(),
                                   "-c", "listen_addresses=127.0.0.1",
                                   "-c", "port=" + std::to_string(port),
                                   "-c", "unix_socket_directories=" + socket_setting,
                                   "-c", "fsync=off",
                                   "-c", "full_page_writes=off",
                                   "-c", "shared_buffers=16MB",
                                   "-c", "max_connections=50",
                                   // Segments under data/, so they vanish with the directory.
                                   "-c", "dynamic_shared_memory_type=mmap"};
  int log_fd = open_for_append(dir_ / "postgres.log");
  // SIGQUIT is PostgreSQL's immediate shutdown: if the test program dies, the server
  // stops its backends and exits.
  SpawnOptions options{dir_, log_fd, lock_fd_, SIGQUIT};
  try {
    postmaster_ = spawn(std::move(argv), options);
  } catch (...) {
    ::close(log_fd);
    throw;
  }
  ::close(log_fd);

  const std::string ping = "host=127.0.0.1 port=" + std::to_string(port) +
                           " user=postgres dbname=postgres connect_timeout=2";
  auto deadline = Clock::now() + 60s;  // crash recovery included
  for (;;) {
    if (wait_for_exit(postmaster_, 0ms) != -2) {
      postmaster_ = -1;
      return false;
    }
    if (PQping(ping.c_str()) == PQPING_OK) return true;
    if (Clock::now() > deadline) {
      signal_and_wait(SIGQUIT);
      throw std::runtime_error("PostgreSQL did not accept connections within 60 s:\n" + log());
    }
    std::this_thread::sleep_for(10ms);
  }
}

void PgCluster::start() {
  if (running()) return;
  // The first start picks a free port; later starts keep it, so conninfo() stays
  // valid. Either way the port may be taken meanwhile: then try again.
  for (int attempt = 0; attempt < 5; ++attempt) {
    int port = port_ != 0 ? port_ : free_loopback_port();
    std::size_t log_before = log().size();
    if (launch(port)) {
      port_ = port;
      return;
    }
    if (log().find("Address already in use", log_before) == std::string::npos) break;
    std::this_thread::sleep_for(100ms);
  }
  throw std::runtime_error("PostgreSQL did not start:\n" + log());
}

void PgCluster::stop() {
  if (running()) signal_and_wait(SIGINT);  // SIGINT: fast shutdown
}

void PgCluster::restart() {
  stop();
  start();
}

// Sends `signal` to the postmaster and reaps it, escalating to SIGQUIT and then to
// kill_hard() when it does not exit in time.
void PgCluster::signal_and_wait(int signal) {
  if (!running()) return;
  kill(postmaster_, signal);
  if (wait_for_exit(postmaster_, 30s) != -2) {
    postmaster_ = -1;
    return;
  }
  if (signal != SIGQUIT) {
    kill(postmaster_, SIGQUIT);
    if (wait_for_exit(postmaster_, 10s) != -2) {
      postmaster_ = -1;
      return;
    }
  }
  kill_hard();
}

void PgCluster::kill_hard() {
  if (!running()) return;
  // The backends are the postmaster's children; once it is dead they are orphans,
  // handed to the nearest "subreaper". Becoming one lets this process reap them, so
  // that no zombie is left even where PID 1 does not reap.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  // Stopped, the postmaster cannot fork a backend we would miss.
  kill(postmaster_, SIGSTOP);
  for (auto deadline = Clock::now() + 5s; process_state(postmaster_) != 'T' && Clock::now() < deadline;) {
    std::this_thread::sleep_for(1ms);
  }
  std::vector<pid_t> backends = children_of(postmaster_);
  kill(postmaster_, SIGKILL);
  for (pid_t backend : backends) kill(backend, SIGKILL);
  wait_for_exit(postmaster_, 10s);
  for (pid_t backend : backends) wait_for_exit(backend, 10s);
  postmaster_ = -1;
}

}  // namespace zumero::test
