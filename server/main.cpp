// zumero-server: command line, startup and signal handling.
#include "server/backup.h"
#include "server/http_server.h"
#include "server/logging.h"
#include "server/metrics.h"
#include "server/request.h"
#include "server/server_config.h"

#include <CLI/CLI.hpp>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>
#include <system_error>
#include <thread>

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

namespace {

using namespace zumero::server;

// Splits "HOST:PORT" (or "[v6]:PORT"); returns an error message, empty on success.
std::string parse_listen(const std::string &text, std::string &host, int &port) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size()) return "expected HOST:PORT, got '" + text + "'";
  host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) return "missing host in '" + text + "'";
  std::string digits = text.substr(colon + 1);
  if (digits.size() > 5 || digits.find_first_not_of("0123456789") != std::string::npos) {
    return "invalid port in '" + text + "'";
  }
  port = std::stoi(digits);
  if (port > 65535) return "invalid port in '" + text + "'";
  return {};
}

// "90", "90s", "15m", "6h" or "1d" as seconds; -1 when malformed.
long parse_interval(const std::string &text) {
  if (text.empty() || text.size() > 12) return -1;
  long unit = 1;
  std::string digits = text;
  switch (text.back()) {
    case 's': unit = 1; digits.pop_back(); break;
    case 'm': unit = 60; digits.pop_back(); break;
    case 'h': unit = 3600; digits.pop_back(); break;
    case 'd': unit = 86400; digits.pop_back(); break;
    default: break;
  }
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  long value = std::stol(digits);
  if (value > 365L * 86400 / unit) return -1;
  return value * unit;
}

// `zumero-server restore`: fills an empty data directory from a backup directory.
int run_restore(const std::string &from, const std::string &data_dir, const std::string &at) {
  try {
    int restored = restore_backup(from, data_dir, at);
    if (restored == 0) {
      std::cerr << "zumero-server restore: no backups found in '" << from << "'"
                << (at.empty() ? "" : " at or before " + at) << "\n";
      return 1;
    }
    std::cout << "restored " << restored << " dbfiles into " << data_dir << std::endl;
    return 0;
  } catch (const std::exception &e) {
    std::cerr << "zumero-server restore: " << e.what() << "\n";
    return 1;
  }
}

// The password in `file`, without the line end that editors and `echo` add.
// Returns an error message, empty on success.
std::string read_password_file(const std::string &file, std::string &password) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return "cannot read '" + file + "'";
  password.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (!password.empty() && password.back() == '\n') password.pop_back();
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) return "'" + file + "' is empty";
  return {};
}

// Waits for SIGINT/SIGTERM (blocked in every thread) and asks the server to stop.
// A second signal ends the process at once. With `watch_stdin`, the end of standard
// input also stops the server: a test harness holds the other end of a pipe, so its
// servers go away even when it dies without cleaning up.
class SignalWatcher {
public:
  SignalWatcher(HttpServer &server, bool watch_stdin)
      : watch_stdin_(watch_stdin), thread_([this, &server] { watch(server); }) {}
  ~SignalWatcher() {
    done_ = true;
    thread_.join();
  }

  static void block_signals() {
    sigset_t set = signals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
  }

private:
  static sigset_t signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    return set;
  }

  // True once standard input reached its end (or failed).
  static bool stdin_closed() {
    pollfd p{0, POLLIN, 0};
    if (poll(&p, 1, 0) <= 0 || p.revents == 0) return false;
    char buffer[256];
    ssize_t n = ::read(0, buffer, sizeof buffer);
    return n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN);
  }

  void watch(HttpServer &server) {
    sigset_t set = signals();
    bool stopping = false;
    bool watch_stdin = watch_stdin_;
    while (!done_) {
      if (watch_stdin && stdin_closed()) {
        watch_stdin = false;
        if (!stopping) {
          stopping = true;
          log_info("standard input closed; no longer accepting connections, finishing requests in flight");
          server.stop();
        }
      }
      timespec timeout{0, 100 * 1000 * 1000};
      int sig = sigtimedwait(&set, nullptr, &timeout);
      if (sig < 0) continue;  // timeout or EINTR
      if (stopping) {
        log_warn("received ", sig == SIGINT ? "SIGINT" : "SIGTERM", " again; exiting immediately");
        std::_Exit(1);
      }
      stopping = true;
      log_info("received ", sig == SIGINT ? "SIGINT" : "SIGTERM",
               "; no longer accepting connections, finishing requests in flight");
      server.stop();
    }
  }

  std::atomic<bool> done_{false};
  bool watch_stdin_;
  std::thread thread_;
};

}  // namespace

int main(int argc, char **argv) {
  // Before any thread exists, so every thread inherits the mask.
  SignalWatcher::block_signals();

  ServerConfig config;
  std::string data_dir = config.data_dir.string();
  std::string listen = "127.0.0.1:8080";
  std::string level_name = "info";
  std::string tls_cert, tls_key;
  std::string metrics_listen;
  std::string admin_password_file;

  // Timeouts: at least 10 ms, at most a day.
  const CLI::Range kSeconds(0.01, 86400.0);

  CLI::App app{"zumero-server: the sync server for zumero SQLite databases.\n"
               "Clients push and pull changes over HTTP(S) POST requests."};
  // Every option may also be given in the file, by its long name without the dashes
  // (data-dir = "/var/lib/zumero"); the command line overrides the file, and the file
  // overrides the environment. A name the server does not know is an error.
  app.set_config("--config", "", "Read options from FILE (INI or TOML: name = value, one per line)");
  app.allow_config_extras(CLI::config_extras_mode::error);
  app.add_option("--data-dir", data_dir, "Directory for the server's databases (created if missing)")
      ->capture_default_str();
  app.add_option("--listen", listen, "Address to listen on, HOST:PORT; port 0 picks a free port")
      ->capture_default_str();
  auto *cert_option = app.add_option("--tls-cert", tls_cert, "PEM certificate (chain) file; serve HTTPS")
                          ->check(CLI::ExistingFile);
  auto *key_option =
      app.add_option("--tls-key", tls_key, "PEM private key file for --tls-cert")->check(CLI::ExistingFile);
  cert_option->needs(key_option);
  key_option->needs(cert_option);
  app.add_option("--log-level", level_name, "Log verbosity on stderr: error, warn, info or debug")
      ->check(CLI::IsMember({"error", "warn", "info", "debug"}))
      ->capture_default_str();
  app.add_option("--max-body-bytes", config.max_body_bytes, "Largest accepted request body; larger ones get HTTP 413")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--max-payload-bytes", config.max_payload_bytes,
                 "Largest uncompressed payload the sync service accepts in one request")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--max-push-bytes", config.max_push_bytes,
                 "Largest push, all its parts together; unfinished pushes together may stage four times this")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--pull-chunk-bytes", config.pull_chunk_bytes, "Target size of one pull response chunk")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--header-timeout", config.header_timeout,
                 "Seconds a client has to send a request's line and headers, counted from the connection's "
                 "start (TLS handshake included) or from the first byte of a later request")
      ->check(kSeconds)
      ->capture_default_str();
  app.add_option("--keep-alive-timeout", config.keep_alive_timeout,
                 "Seconds an idle connection waits for its next request")
      ->check(kSeconds)
      ->capture_default_str();
  app.add_option("--transfer-timeout", config.transfer_timeout,
                 "Seconds a request body or a response may take beyond what --min-transfer-rate allows")
      ->check(kSeconds)
      ->capture_default_str();
  app.add_option("--min-transfer-rate", config.min_transfer_rate,
                 "Bytes per second below which a request body or a response runs out of time")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--max-connections", config.max_connections,
                 "Connections served at once; when all are taken, the one that waited longest for a request "
                 "is closed")
      ->check(CLI::Range(std::size_t(1), std::size_t(100000)))
      ->capture_default_str();
  app.add_option("--query-max-rows", config.query_max_rows, "Most rows a remote query (POST /query) answers")
      ->check(CLI::Range(std::size_t(1), std::size_t(10000000)))
      ->capture_default_str();
  app.add_option("--query-timeout-ms", config.query_timeout_ms, "Longest time a remote query may run")
      ->check(CLI::Range(1, 3600000))
      ->capture_default_str();
  app.add_flag("--require-tls", config.require_tls,
               "Serve only HTTPS (needs --tls-cert and --tls-key); plain HTTP requests get a clear error");
  app.add_option("--auth-throttle-after", config.auth_throttle_after,
                 "Failed authentications for one user or address before further answers slow down")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str();
  app.add_option("--auth-throttle-max-ms", config.auth_throttle_max_ms,
                 "Longest delay (milliseconds) of an answer to a repeated failed authentication")
      ->check(CLI::Range(0, 600000))
      ->capture_default_str();
  auto *password_option = app.add_option("--admin-password", config.admin_password,
                                         "Administrator password (or environment ZUMERO_ADMIN_PASSWORD)")
                              ->envname("ZUMERO_ADMIN_PASSWORD");
  app.add_option("--admin-password-file", admin_password_file,
                 "File holding the administrator password, e.g. a Docker secret or a systemd credential "
                 "(or environment ZUMERO_ADMIN_PASSWORD_FILE)")
      ->envname("ZUMERO_ADMIN_PASSWORD_FILE")
      ->excludes(password_option);
  app.add_option("--metrics-listen", metrics_listen,
                 "Also listen on HOST:PORT (plain HTTP) for GET /metrics and /status WITHOUT credentials; "
                 "use a private address only");

  app.add_option("--store", config.store,
                 "Keep dbfiles in PostgreSQL (a postgresql:// URI; environment ZUMERO_STORE) instead of SQLite "
                 "files; several servers may share one; --data-dir then holds this server's disposable copies")
      ->envname("ZUMERO_STORE");
  std::string backup_dir, backup_interval = "0";
  app.add_option("--backup-dir", backup_dir, "Directory for scheduled online backups of every dbfile");
  app.add_option("--backup-interval", backup_interval,
                 "Time between backups: seconds, or a number with s, m, h or d (0: no backups)")
      ->capture_default_str();
  app.add_option("--backup-keep", config.backup_keep, "Backups kept per dbfile; older ones are deleted")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();

  std::string restore_from, restore_at, restore_into;
  CLI::App *restore = app.add_subcommand(
      "restore", "Fill an empty data directory with the newest backup of every dbfile, then exit");
  restore->add_option("--from", restore_from, "The backup directory (--backup-dir of the server)")
      ->required()
      ->check(CLI::ExistingDirectory);
  restore->add_option("--data-dir", restore_into, "The data directory to fill; it must hold no dbfile")->required();
  restore->add_option("--at", restore_at,
                      "Restore the newest backups taken at or before this UTC time, as in 20261201T101500Z");

  CLI11_PARSE(app, argc, argv);

  if (!admin_password_file.empty()) {
    if (std::string problem = read_password_file(admin_password_file, config.admin_password); !problem.empty()) {
      std::cerr << "zumero-server: --admin-password-file: " << problem << "\n";
      return 2;
    }
  }

  if (restore->parsed()) return run_restore(restore_from, restore_into, restore_at);

  config.backup_interval = parse_interval(backup_interval);
  if (config.backup_interval < 0) {
    std::cerr << "zumero-server: --backup-interval: expected seconds or a number with s, m, h or d, got '"
              << backup_interval << "'\n";
    return 2;
  }
  if (!config.store.empty() && (!backup_dir.empty() || config.backup_interval > 0)) {
    std::cerr << "zumero-server: with --store, back up PostgreSQL with its own tools (pg_dump, or pg_basebackup "
                 "with WAL archiving); --backup-dir is for SQLite files\n";
    return 2;
  }
  if (config.store.rfind("postgresql://", 0) != 0 && config.store.rfind("postgres://", 0) != 0 &&
      !config.store.empty()) {
    std::cerr << "zumero-server: --store: expected a postgresql:// URI\n";
    return 2;
  }
  if (config.backup_interval > 0 && backup_dir.empty()) {
    std::cerr << "zumero-server: --backup-interval needs --backup-dir\n";
    return 2;
  }
  if (!backup_dir.empty()) {
    if (config.backup_interval == 0) config.backup_interval = 86400;
    config.backup_dir = std::filesystem::absolute(backup_dir).lexically_normal();
  }

  config.log_level = parse_log_level(level_name).value_or(LogLevel::info);
  set_log_level(config.log_level);
  config.tls_cert_file = tls_cert;
  config.tls_key_file = tls_key;
  if (config.require_tls && !config.tls()) {
    std::cerr << "zumero-server: --require-tls needs --tls-cert and --tls-key\n";
    return 2;
  }
  const char *hooks = std::getenv("ZUMERO_TEST_HOOKS");
  config.test_hooks = hooks && std::string(hooks) == "1";

  if (std::string problem = parse_listen(listen, config.listen_host, config.listen_port); !problem.empty()) {
    std::cerr << "zumero-server: --listen: " << problem << "\n";
    return 2;
  }
  if (!metrics_listen.empty()) {
    std::string problem = parse_listen(metrics_listen, config.metrics_listen_host, config.metrics_listen_port);
    if (!problem.empty()) {
      std::cerr << "zumero-server: --metrics-listen: " << problem << "\n";
      return 2;
    }
  }

  try {
    std::filesystem::path dir = data_dir;
    std::filesystem::create_directories(dir);
    if (!std::filesystem::is_directory(dir)) throw std::runtime_error("'" + data_dir + "' is not a directory");
    config.data_dir = std::filesystem::absolute(dir).lexically_normal();
  } catch (const std::exception &e) {
    log_error("cannot use data directory '", data_dir, "': ", e.what());
    return 1;
  }

  try {
    Metrics metrics;
    std::unique_ptr<Service> service = make_sync_service(config, metrics);
    HttpServer server(config, *service, metrics);
    server.bind();
    log_info("data directory ", config.data_dir.string(), ", max body ", config.max_body_bytes,
             " bytes, max payload ", config.max_payload_bytes, " bytes, pull chunk ", config.pull_chunk_bytes,
             " bytes, max connections ", config.max_connections);

    bool ok;
    {
      const char *watch_stdin = std::getenv("ZUMERO_STOP_ON_STDIN_EOF");
      SignalWatcher watcher(server, watch_stdin && std::string(watch_stdin) == "1");
      ok = server.run([&] {
        std::cout << "zumero-server listening on " << server.url() << std::endl;
        log_info("listening on ", server.url());
        if (config.metrics_listener())
          log_info("metrics listening on ", server.metrics_url(), " (no credentials asked: keep it private)");
      });
    }
    if (!ok) {
      log_error("the server stopped unexpectedly");
      return 1;
    }
    log_info("stopped");
    return 0;
  } catch (const std::exception &e) {
    log_error(e.what());
    return 1;
  }
}
