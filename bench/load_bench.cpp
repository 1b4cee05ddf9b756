// `zumero-bench load`: how many syncs a second one zumero-server serves, and how
// long each takes, when many clients sync at once.
//
// One process starts a zumero-server on loopback and N client threads. Each client
// has its own database file and its own connection, and syncs one of M dbfiles
// (client i syncs dbfile i mod M). Each mode runs for S seconds, every client in a
// loop:
//
//   write   insert one new row (not timed), then sync: one row pushed per sync
//   idle    sync with nothing to push (the pull finds nothing new)
//   health  GET /health through zumero's HTTP client: the floor of a round trip
//
// Afterwards every client syncs until nothing moves, and must then hold exactly
// what a fresh client pulling its dbfile holds, and every row written.
#include "bench_util.h"
#include "items.h"
#include "subcommands.h"
#include "sync_support.h"

#include "sync/http_client.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <iostream>
#include <limits>
#include <map>
#include <mutex>
#include <thread>

namespace zumero_bench {
namespace {

constexpr double kIdleTarget = 5000;
constexpr double kWriteTarget = 1000;
constexpr double kP99TargetMs = 50;
// Rows a client writes get ids from (client + 1) * kIdSpan on, so clients never clash.
constexpr std::int64_t kIdSpan = 1000000000;
constexpr std::size_t kKeptErrors = 5;

enum class Mode { write, idle, health };

const char *mode_name(Mode mode) {
  switch (mode) {
    case Mode::write: return "write";
    case Mode::idle: return "idle";
    default: return "health";
  }
}

struct Options {
  std::uint64_t clients = 64;
  std::uint64_t dbfiles = 4;
  std::uint64_t seconds = 20;
  std::vector<Mode> modes = {Mode::health, Mode::idle, Mode::write};
  std::string dir;
  std::string server;
  bool json = false;
};

std::string dbfile_name(std::uint64_t index) { return "load" + std::to_string(index); }

// One client: a database file, a connection, the dbfile it syncs, the rows it wrote.
struct Client {
  Client(const std::string &path, std::string dbfile_, std::int64_t first_id)
      : db(path, true), dbfile(std::move(dbfile_)), next_id(first_id) {
    // As an app that syncs often would set its file up: WAL, and commits that do not
    // wait for the disk (the sync follows the application's setting).
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL");
  }
  Database db;
  std::string dbfile;
  std::int64_t next_id;
  std::int64_t written = 0;
  zumero::HttpSession http;  // for health checks: one kept-alive connection, as a sync has
};

// What one mode measured, merged over the clients.
struct ModeResult {
  Mode mode = Mode::idle;
  double seconds = 0;
  std::vector<double> latencies_ms;  // successful operations only
  double net_ms = 0;                 // of which the clients report waiting on HTTP
  std::int64_t errors = 0;
  std::vector<std::string> first_errors;

  double rate() const { return seconds > 0 ? static_cast<double>(latencies_ms.size()) / seconds : 0; }
  double percentile(double q) const {
    if (latencies_ms.empty()) return std::numeric_limits<double>::infinity();
    std::size_t rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(latencies_ms.size())));
    return latencies_ms[std::min(latencies_ms.size() - 1, rank == 0 ? 0 : rank - 1)];
  }
};

// Collects what the client threads of one mode report.
class Collector {
public:
  void add(std::vector<double> &&latencies, double net_ms, std::int64_t errors, std::vector<std::string> &&messages) {
    std::lock_guard<std::mutex> guard(mutex_);
    result_.net_ms += net_ms;
    result_.latencies_ms.insert(result_.latencies_ms.end(), latencies.begin(), latencies.end());
    result_.errors += errors;
    for (std::string &message : messages)
      if (result_.first_errors.size() < kKeptErrors) result_.first_errors.push_back(std::move(message));
  }
  ModeResult take() { return std::move(result_); }

private:
  std::mutex mutex_;
  ModeResult result_;
};

void write_one_row(Client &client) {
  Statement insert(client.db, kItemsInsertSql);
  bind_row(insert, make_row(client.next_id));
  insert.run();
  ++client.next_id;
  ++client.written;
}

// One operation of `mode` for `client`; throws on failure. Returns the time the
// client reports waiting on HTTP (0 for health checks).
double operate(Mode mode, Client &client, const std::string &url) {
  if (mode == Mode::health) {
    zumero::HttpResponse response = client.http.get(url, "/health", 30);
    if (response.status != 200 || response.body != "ok")
      throw BenchError("GET /health answered " + std::to_string(response.status));
    return 0;
  }
  SyncTotals totals = sync_until_done(client.db, url, client.dbfile);
  if (mode == Mode::write && totals.up_full == 0) throw BenchError("a write sync pushed nothing");
  return static_cast<double>(totals.net_ms);
}

// Every client loops over `mode` until the deadline; returns the merged figures.
ModeResult run_mode(Mode mode, std::vector<std::unique_ptr<Client>> &clients, const std::string &url,
                    std::uint64_t seconds) {
  using Clock = std::chrono::steady_clock;
  Collector collector;
  // Every thread starts at the same moment, once all of them exist.
  const Clock::time_point start = Clock::now() + std::chrono::milliseconds(200);
  const Clock::time_point deadline = start + std::chrono::seconds(seconds);
  std::vector<std::thread> threads;
  for (auto &client : clients) {
    threads.emplace_back([&, mode, client = client.get()] {
      std::vector<double> latencies;
      double net_ms = 0;
      std::vector<std::string> messages;
      std::int64_t errors = 0;
      std::this_thread::sleep_until(start);
      while (Clock::now() < deadline) {
        try {
          if (mode == Mode::write) write_one_row(*client);
          Stopwatch clock;
          net_ms += operate(mode, *client, url);
          latencies.push_back(clock.elapsed_ms());
        } catch (const std::exception &error) {
          ++errors;
          if (messages.size() < kKeptErrors) messages.push_back(error.what());
        }
      }
      collector.add(std::move(latencies), net_ms, errors, std::move(messages));
    });
  }
  for (std::thread &thread : threads) thread.join();
  ModeResult result = collector.take();
  result.mode = mode;
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(result.latencies_ms.begin(), result.latencies_ms.end());
  return result;
}

// ---------------------------------------------------------------------------
// Setup and the final check
// ---------------------------------------------------------------------------

// An order-independent summary of every row of `items`.
struct Digest {
  std::int64_t rows = 0;
  std::uint64_t hash = 0;
  bool operator==(const Digest &other) const { return rows == other.rows && hash == other.hash; }
};

Digest digest_of(Database &db) {
  Statement query(db, "SELECT id, email, balance, country, quantity FROM items");
  Digest digest;
  while (query.step()) {
    sqlite3_stmt *row = query.get();
    std::uint64_t hash = 1469598103934665603ull;
    auto mix = [&hash](const void *data, std::size_t size) {
      const unsigned char *bytes = static_cast<const unsigned char *>(data);
      for (std::size_t i = 0; i < size; ++i) hash = (hash ^ bytes[i]) * 1099511628211ull;
    };
    std::int64_t id = sqlite3_column_int64(row, 0);
    double balance = sqlite3_column_double(row, 2);
    std::int64_t quantity = sqlite3_column_int64(row, 4);
    mix(&id, sizeof id);
    for (int column : {1, 3}) {
      const unsigned char *text = sqlite3_column_text(row, column);
      if (text) mix(text, static_cast<std::size_t>(sqlite3_column_bytes(row, column)));
      mix("|", 1);
    }
    mix(&balance, sizeof balance);
    mix(&quantity, sizeof quantity);
    digest.hash += hash;
    ++digest.rows;
  }
  return digest;
}

// Creates each dbfile with the items table and one row, then gives every client its
// first sync, so the timed modes start from clients that are in step.
std::vector<std::unique_ptr<Client>> set_up_clients(const Options &options, const ScratchDir &scratch,
                                                    const std::string &url) {
  for (std::uint64_t d = 0; d < options.dbfiles; ++d) {
    Database seed(scratch.file("seed" + std::to_string(d) + ".db"), true);
    create_items_table(seed, true);
    Statement insert(seed, kItemsInsertSql);
    bind_row(insert, make_row(1));
    insert.run();
    sync_until_done(seed, url, dbfile_name(d));
  }
  std::vector<std::unique_ptr<Client>> clients;
  for (std::uint64_t i = 0; i < options.clients; ++i) {
    clients.push_back(std::make_unique<Client>(scratch.file("client" + std::to_string(i) + ".db"),
                                               dbfile_name(i % options.dbfiles),
                                               static_cast<std::int64_t>(i + 1) * kIdSpan));
    sync_until_done(clients.back()->db, url, clients.back()->dbfile);
  }
  return clients;
}

// Syncs every client until a whole pass pushes nothing, then compares each with a
// fresh client of its dbfile, and counts the rows: the seed plus every row written.
std::string check_clients(const Options &options, const ScratchDir &scratch, const std::string &url,
                          std::vector<std::unique_ptr<Client>> &clients) {
  for (int pass = 0;; ++pass) {
    if (pass == 5) throw BenchError("clients still pushed changes after 5 passes of final syncs");
    bool pushed = false;
    for (auto &client : clients) pushed |= sync_until_done(client->db, url, client->dbfile).up_full > 0;
    if (!pushed) break;
  }
  std::map<std::string, std::int64_t> written;
  for (auto &client : clients) written[client->dbfile] += client->written;
  std::map<std::string, Digest> observed;
  for (std::uint64_t d = 0; d < options.dbfiles; ++d) {
    Database observer(scratch.file("observer" + std::to_string(d) + ".db"), true);
    sync_until_done(observer, url, dbfile_name(d));
    Digest digest = digest_of(observer);
    if (digest.rows != 1 + written[dbfile_name(d)])
      throw BenchError("dbfile " + dbfile_name(d) + " holds " + std::to_string(digest.rows) + " rows, expected " +
                       std::to_string(1 + written[dbfile_name(d)]));
    observed[dbfile_name(d)] = digest;
  }
  for (std::size_t i = 0; i < clients.size(); ++i) {
    if (!(digest_of(clients[i]->db) == observed[clients[i]->dbfile]))
      throw BenchError("client " + std::to_string(i) + " differs from a fresh client of " + clients[i]->dbfile);
  }
  return "every client equals a fresh observer";
}

std::vector<Mode> parse_modes(const std::string &text) {
  std::vector<Mode> modes;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(',', start);
    std::string name = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (name == "write") modes.push_back(Mode::write);
    else if (name == "idle") modes.push_back(Mode::idle);
    else if (name == "health") modes.push_back(Mode::health);
    else throw UsageError("--modes takes write, idle and health separated by commas, not '" + name + "'");
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return modes;
}

Options parse_options(int argc, char **argv, bool &help_requested) {
  Options options;
  ArgReader args(argc, argv);
  while (!args.done()) {
    std::string option = args.next_option();
    if (option == "--json") {
      options.json = true;
    } else if (option == "--clients") {
      options.clients = args.count_value(4096);
      if (options.clients == 0) throw UsageError("--clients must be at least 1");
    } else if (option == "--dbfiles") {
      options.dbfiles = args.count_value(1000);
      if (options.dbfiles == 0) throw UsageError("--dbfiles must be at least 1");
    } else if (option == "--seconds") {
      options.seconds = args.count_value(3600);
      if (options.seconds == 0) throw UsageError("--seconds must be at least 1");
    } else if (option == "--modes") {
      options.modes = parse_modes(args.value());
    } else if (option == "--dir") {
      options.dir = args.value();
      if (options.dir.empty()) throw UsageError("--dir needs a directory");
    } else if (option == "--server") {
      options.server = args.value();
      if (options.server.empty()) throw UsageError("--server needs a path");
    } else if (option == "--help" || option == "-h") {
      help_requested = true;
    } else {
      throw UsageError("unknown argument '" + option + "'");
    }
  }
  return options;
}

void add_mode(Report &report, const ModeResult &result, const ModeResult *health) {
  const std::string name = mode_name(result.mode);
  report.add_real(name + "_per_s", result.rate(), 1);
  report.add_int(name + "_count", static_cast<std::int64_t>(result.latencies_ms.size()));
  report.add_real(name + "_p50_ms", result.percentile(0.50), 2);
  report.add_real(name + "_p95_ms", result.percentile(0.95), 2);
  report.add_real(name + "_p99_ms", result.percentile(0.99), 2);
  report.add_int(name + "_errors", result.errors);
  if (result.mode != Mode::health && !result.latencies_ms.empty()) {
    double total = 0;
    for (double ms : result.latencies_ms) total += ms;
    double count = static_cast<double>(result.latencies_ms.size());
    report.add_real(name + "_mean_ms", total / count, 2);
    report.add_real(name + "_net_mean_ms", result.net_ms / count, 2);
  }
  if (result.mode != Mode::health) {
    if (health) report.add_ratio(name + "_ratio_to_health", result.rate(), health->rate());
    report.add_real(name + "_target_per_s", result.mode == Mode::write ? kWriteTarget : kIdleTarget, 0);
  }
}

}  // namespace

void print_load_usage(std::ostream &out) {
  out << "usage: zumero-bench load [--json] [--clients N] [--dbfiles M] [--seconds S]\n"
         "                         [--modes write,idle,health] [--dir DIR] [--server PATH]\n"
         "\n"
         "Starts a zumero-server on 127.0.0.1 and N client threads, each with its own\n"
         "database file and connection, syncing M dbfiles; runs each mode for S seconds\n"
         "and prints operations per second, latency percentiles and errors per mode.\n"
         "\n"
         "  --json          print the figures as one JSON object instead\n"
         "  --clients N     client threads (default 64)\n"
         "  --dbfiles M     dbfiles the clients share out (default 4)\n"
         "  --seconds S     length of each mode (default 20)\n"
         "  --modes LIST    which modes, in this order (default health,idle,write):\n"
         "                  write (one new row per sync), idle (nothing to push),\n"
         "                  health (GET /health over the same HTTP client)\n"
         "  --dir DIR       where the client databases and the server's data go\n"
         "                  (default: system temp dir; removed at the end)\n"
         "  --server PATH   the zumero-server to start (default: the one next to\n"
         "                  this program)\n";
}

int run_load_bench(int argc, char **argv) {
  bool help_requested = false;
  Options options = parse_options(argc, argv, help_requested);
  if (help_requested) {
    print_load_usage(std::cout);
    return 0;
  }
  const std::string server_binary = options.server.empty() ? default_server_path() : options.server;
  ScratchDir scratch(options.dir);
  std::vector<ModeResult> results;
  std::string check;
  {
    progress("starting " + server_binary);
    ServerProcess server(server_binary, scratch.file("server"), scratch.file("server.log"));
    progress("server at " + server.url());
    try {
      progress("setting up " + std::to_string(options.clients) + " clients on " + std::to_string(options.dbfiles) +
               " dbfiles");
      std::vector<std::unique_ptr<Client>> clients = set_up_clients(options, scratch, server.url());
      for (Mode mode : options.modes) {
        progress(std::string("mode ") + mode_name(mode) + ": " + std::to_string(options.seconds) + " s");
        results.push_back(run_mode(mode, clients, server.url(), options.seconds));
        for (const std::string &message : results.back().first_errors)
          progress(std::string("  ") + mode_name(mode) + " error: " + message);
      }
      progress("final syncs and the comparison with fresh clients");
      check = check_clients(options, scratch, server.url(), clients);
    } catch (const BenchError &error) {
      throw BenchError(std::string(error.what()) + "\nserver log (last lines):\n" +
                       tail_of_file(server.log_path(), 20));
    }
    int status = server.stop();
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
      progress("warning: the server did not exit cleanly (wait status " + std::to_string(status) + ")");
  }

  const ModeResult *health = nullptr;
  for (const ModeResult &result : results)
    if (result.mode == Mode::health) health = &result;
  Report report;
  report.add_int("clients", static_cast<std::int64_t>(options.clients));
  report.add_int("dbfiles", static_cast<std::int64_t>(options.dbfiles));
  report.add_int("seconds", static_cast<std::int64_t>(options.seconds));
  report.add_text("sqlite_version", sqlite3_libversion());
  for (const ModeResult &result : results) add_mode(report, result, health);
  report.add_real("p99_target_ms", kP99TargetMs, 0);
  report.add_text("check", check);
  std::cout << (options.json ? report.as_json() : report.as_text()) << std::flush;
  return 0;
}

}  // namespace zumero_bench
