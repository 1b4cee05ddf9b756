// A child process for the sync tests: runs SQL and syncs on one client database under
// resource limits. Some defects loop over the whole 64-bit row id space; in this process
// they end in "out of memory" or "file too large", or the caller's timeout kills it,
// instead of exhausting the shared machine or hanging the test program. It also lets a
// test sync one file from two processes at once.
//
//   zumero_sql_runner DATABASE ACTION...
//     --sql STATEMENTS            prints every row, values separated by '|'
//     --sync SCHEMA URL DBFILE    zumero_sync until partial is 0; prints the last result
//     --wait-for PATH             waits (at most 30 s) until PATH exists
//
// The first failing action prints "error: <message>" and the exit status is 1.
#include <chrono>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>

#include <sys/resource.h>

#include "sync_support.h"

#if defined(__SANITIZE_ADDRESS__)
// The address space limit below would break the sanitizer; it watches the RSS instead.
extern "C" const char *__asan_default_options() { return "hard_rss_limit_mb=2048"; }
#elif defined(__SANITIZE_THREAD__)
extern "C" const char *__tsan_default_options() { return "hard_rss_limit_mb=2048"; }
#endif

namespace {

using zumero::synctest::Client;
using zumero::synctest::parse_sync_result;
using zumero::synctest::sql_quote;

void limit_resources() {
  constexpr rlim_t kFileBytes = rlim_t(64) << 20;
  rlimit file{kFileBytes, kFileBytes};
  setrlimit(RLIMIT_FSIZE, &file);
  std::signal(SIGXFSZ, SIG_IGN);  // a write past the limit fails instead of killing us
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  constexpr rlim_t kAddressBytes = rlim_t(2) << 30;
  rlimit address{kAddressBytes, kAddressBytes};
  setrlimit(RLIMIT_AS, &address);
#endif
}

// Runs every statement of `sql`, printing the rows each one returns.
void print_rows(Client &client, const std::string &sql) {
  const char *next = sql.c_str();
  while (*next) {
    sqlite3_stmt *statement = nullptr;
    const char *tail = nullptr;
    if (sqlite3_prepare_v2(client.db(), next, -1, &statement, &tail) != SQLITE_OK)
      throw std::runtime_error(sqlite3_errmsg(client.db()));
    next = tail;
    if (!statement) continue;  // whitespace or a comment
    int rc;
    while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
      for (int i = 0; i < sqlite3_column_count(statement); ++i) {
        const unsigned char *text = sqlite3_column_text(statement, i);
        std::cout << (i ? "|" : "") << (text ? reinterpret_cast<const char *>(text) : "<null>");
      }
      std::cout << '\n';
    }
    std::string error = rc == SQLITE_DONE ? "" : sqlite3_errmsg(client.db());
    sqlite3_finalize(statement);
    if (!error.empty()) throw std::runtime_error(error);
  }
}

void sync_until_complete(Client &client, const std::string &schema, const std::string &url,
                         const std::string &dbfile) {
  const std::string sql =
      "SELECT zumero_sync(" + sql_quote(schema) + ", " + sql_quote(url) + ", " + sql_quote(dbfile) + ")";
  for (int call = 0; call < 1000; ++call) {
    auto stats = parse_sync_result(client.text(sql));
    if (stats.partial == 0) {
      std::cout << stats.text << '\n';
      return;
    }
  }
  throw std::runtime_error("zumero_sync still partial after 1000 calls");
}

void wait_for(const std::string &path) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!std::filesystem::exists(path)) {
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("no " + path + " after 30 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

int run(int argc, char **argv) {
  if (argc < 2) throw std::runtime_error("usage: zumero_sql_runner DATABASE ACTION...");
  Client client(argv[1]);
  for (int i = 2; i < argc; ++i) {
    std::string action = argv[i];
    auto argument = [&] {
      if (++i >= argc) throw std::runtime_error(action + " needs more arguments");
      return std::string(argv[i]);
    };
    if (action == "--sql") {
      print_rows(client, argument());
    } else if (action == "--sync") {
      std::string schema = argument();
      std::string url = argument();
      sync_until_complete(client, schema, url, argument());
    } else if (action == "--wait-for") {
      wait_for(argument());
    } else {
      throw std::runtime_error("unknown action " + action);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char **argv) {
  limit_resources();
  try {
    return run(argc, argv);
  } catch (const std::exception &failure) {
    std::cout << "error: " << failure.what() << std::endl;
    return 1;
  }
}
