// `zumero-bench sync`: what syncing through a zumero-server costs, each figure set
// against plain SQLite doing the same bulk insert in the same run.
//
// The program starts its own zumero-server on 127.0.0.1 (a free port, a data
// directory inside the scratch directory) and talks to it only over loopback.
// Every client is a fresh database file using the `items` table of `local`.
//
//   plain_insert  N rows into a plain table with its index, one transaction
//   push          a client whose zumero table holds N new rows (inserted
//                 beforehand, not timed) syncs them to a new dbfile
//   pull          a new, empty client syncs that dbfile until nothing is partial
//   incremental   a client that is in sync with a dbfile of 1000 rows, and one in
//                 sync with a dbfile of M rows, each update one row and sync
//   package       bytes the push of N rows sent, against gzip of the same rows as CSV
//
// Timed figures are the best (minimum) of R repeats; the dbfiles behind the
// incremental figures are built once, before those repeats, and not timed.
#include "bench_util.h"
#include "items.h"
#include "subcommands.h"
#include "sync_support.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iostream>
#include <limits>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

namespace zumero_bench {
namespace {

// Targets the figures are measured against (a ratio at or below its target is good).
constexpr double kPushTarget = 2.5;
constexpr double kPullTarget = 2.0;
// Peak memory of the client and of the server while an empty client pulls the large dbfile.
constexpr double kMemoryTargetMb = 200;
constexpr double kIncrementalTarget = 1.5;
constexpr double kPackageTarget = 1.2;

// Rows in the small dbfile of the incremental figures.
constexpr std::uint64_t kSmallDbfileRows = 1000;
// The large dbfile is pushed in batches of at most this many rows, which keeps each
// request body well below the server's default --max-body-bytes (64 MiB).
constexpr std::uint64_t kBuildBatchRows = 250000;

constexpr const char *kUpdateSql = "UPDATE items SET balance = ? WHERE id = ?";

struct Options {
  std::uint64_t rows = 100000;
  std::uint64_t big_rows = 1000000;
  std::uint64_t repeats = 3;
  std::string dir;
  std::string server;
  bool json = false;
};

// ---------------------------------------------------------------------------
// Data and checks
// ---------------------------------------------------------------------------

// Inserts rows first..last (ids) in one transaction.
void insert_rows(Database &db, std::int64_t first, std::int64_t last) {
  Statement insert(db, kItemsInsertSql);
  db.exec("BEGIN");
  for (std::int64_t id = first; id <= last; ++id) {
    bind_row(insert, make_row(id));
    insert.run();
  }
  db.exec("COMMIT");
}

// Same, from rows generated up front (what the timed insert uses).
void insert_rows(Database &db, const std::vector<Row> &rows) {
  Statement insert(db, kItemsInsertSql);
  db.exec("BEGIN");
  for (const Row &row : rows) {
    bind_row(insert, row);
    insert.run();
  }
  db.exec("COMMIT");
}

// A cheap summary of a table's content, to check that a pull brought every row.
struct Content {
  std::int64_t rows = 0;
  std::int64_t quantity_sum = 0;
  std::int64_t email_bytes = 0;
  std::int64_t id_sum = 0;

  bool operator==(const Content &other) const {
    return rows == other.rows && quantity_sum == other.quantity_sum && email_bytes == other.email_bytes &&
           id_sum == other.id_sum;
  }
  std::string describe() const {
    return std::to_string(rows) + " rows, quantity sum " + std::to_string(quantity_sum) + ", email bytes " +
           std::to_string(email_bytes) + ", id sum " + std::to_string(id_sum);
  }
};

Content content_of(Database &db) {
  Statement query(db, "SELECT count(*), total(quantity), total(length(email)), total(id) FROM items");
  Content content;
  if (query.step()) {
    content.rows = sqlite3_column_int64(query.get(), 0);
    content.quantity_sum = static_cast<std::int64_t>(sqlite3_column_double(query.get(), 1));
    content.email_bytes = static_cast<std::int64_t>(sqlite3_column_double(query.get(), 2));
    content.id_sum = static_cast<std::int64_t>(sqlite3_column_double(query.get(), 3));
  }
  return content;
}

Content content_of(const std::vector<Row> &rows) {
  Content content;
  for (const Row &row : rows) {
    ++content.rows;
    content.quantity_sum += row.quantity;
    content.email_bytes += static_cast<std::int64_t>(row.email.size());
    content.id_sum += row.id;
  }
  return content;
}

// The rows as CSV: one line per row, values separated by commas, text quoted
// (with inner quotes doubled), reals in their shortest exact decimal form.
std::string rows_as_csv(const std::vector<Row> &rows) {
  std::string csv;
  csv.reserve(rows.size() * 56);
  auto quoted = [&csv](const std::string &text) {
    csv += '"';
    for (char c : text) {
      if (c == '"') csv += '"';
      csv += c;
    }
    csv += '"';
  };
  char number[64];
  for (const Row &row : rows) {
    csv += std::to_string(row.id);
    csv += ',';
    quoted(row.email);
    csv += ',';
    auto [end, error] = std::to_chars(number, number + sizeof number, row.balance);
    if (error != std::errc()) throw BenchError("cannot format a balance");
    csv.append(number, end);
    csv += ',';
    quoted(row.country);
    csv += ',';
    csv += std::to_string(row.quantity);
    csv += '\n';
  }
  return csv;
}

// Size of `data` compressed as gzip does by default: deflate level 6 with a gzip header.
std::uint64_t gzip_size(const std::string &data) {
  z_stream stream{};
  if (deflateInit2(&stream, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw BenchError("deflateInit2 failed");
  std::vector<unsigned char> out(deflateBound(&stream, data.size()) + 64);
  stream.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = out.data();
  stream.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&stream, Z_FINISH);
  std::uint64_t size = stream.total_out;
  deflateEnd(&stream);
  if (rc != Z_STREAM_END) throw BenchError("deflate did not finish");
  return size;
}

// ---------------------------------------------------------------------------
// Phases
// ---------------------------------------------------------------------------

double time_plain_insert(const std::string &path, const std::vector<Row> &rows) {
  remove_database_files(path);
  double ms = 0;
  {
    Database db(path, false);
    create_items_table(db, false);
    Statement insert(db, kItemsInsertSql);
    Stopwatch clock;
    db.exec("BEGIN");
    for (const Row &row : rows) {
      bind_row(insert, row);
      insert.run();
    }
    db.exec("COMMIT");
    ms = clock.elapsed_ms();
    if (db.query_int("SELECT count(*) FROM items") != static_cast<std::int64_t>(rows.size()))
      throw BenchError("the plain table does not hold every inserted row");
  }
  remove_database_files(path);
  return ms;
}

// A client holding `rows` in a new zumero table pushes them to a new dbfile.
SyncTotals time_push(const std::string &path, const std::vector<Row> &rows, const std::string &url,
                     const std::string &dbfile) {
  remove_database_files(path);
  SyncTotals totals;
  {
    Database db(path, true);
    create_items_table(db, true);
    insert_rows(db, rows);
    totals = sync_until_done(db, url, dbfile);
    std::int64_t dirty = db.query_int("SELECT count(*) FROM \"t$dirty\"");
    if (dirty != 0) throw BenchError("after the push, " + std::to_string(dirty) + " changes are still unsynced");
  }
  remove_database_files(path);
  return totals;
}

// A new, empty client pulls `dbfile` and must end up with `expected`.
SyncTotals time_pull(const std::string &path, const std::string &url, const std::string &dbfile,
                     const Content &expected) {
  remove_database_files(path);
  SyncTotals totals;
  {
    Database db(path, true);
    totals = sync_until_done(db, url, dbfile);
    Content pulled = content_of(db);
    if (!(pulled == expected))
      throw BenchError("the pulled copy of '" + dbfile + "' holds " + pulled.describe() + "; expected " +
                       expected.describe());
  }
  remove_database_files(path);
  return totals;
}

// A client that builds a dbfile of `rows` rows (pushed in batches) and then stays
// in sync with it, for the incremental figures.
class SyncedClient {
public:
  SyncedClient(const std::string &path, std::string url, std::string dbfile, std::uint64_t rows)
      : db_(path, true), url_(std::move(url)), dbfile_(std::move(dbfile)), rows_(rows) {
    create_items_table(db_, true);
    for (std::uint64_t first = 1; first <= rows; first += kBuildBatchRows) {
      std::uint64_t last = std::min(rows, first + kBuildBatchRows - 1);
      progress("  " + dbfile_ + ": rows " + std::to_string(first) + ".." + std::to_string(last));
      insert_rows(db_, static_cast<std::int64_t>(first), static_cast<std::int64_t>(last));
      sync_until_done(db_, url_, dbfile_);
    }
    if (db_.query_int("SELECT count(*) FROM items") != static_cast<std::int64_t>(rows))
      throw BenchError("the client of '" + dbfile_ + "' does not hold its " + std::to_string(rows) + " rows");
  }

  // Changes one row (not timed), then times the sync that pushes it and pulls.
  double update_and_sync(std::uint64_t round) {
    std::uint64_t state = 0xC0FFEE + round;
    std::int64_t id = static_cast<std::int64_t>(1 + next_random(state) % rows_);
    double balance = static_cast<double>(next_random(state) % 10000000) / 100.0;
    {
      Statement update(db_, kUpdateSql);
      update.bind(1, balance);
      update.bind(2, id);
      update.run();
      if (sqlite3_changes(db_.get()) != 1)
        throw BenchError("the update of id " + std::to_string(id) + " in the client of '" + dbfile_ +
                         "' changed " + std::to_string(sqlite3_changes(db_.get())) + " rows");
    }
    SyncTotals totals = sync_until_done(db_, url_, dbfile_);
    if (totals.up_full == 0) throw BenchError("the sync of '" + dbfile_ + "' pushed nothing");
    return totals.ms;
  }

private:
  Database db_;
  std::string url_;
  std::string dbfile_;
  std::uint64_t rows_;
};

Options parse_options(int argc, char **argv, bool &help_requested) {
  Options options;
  ArgReader args(argc, argv);
  while (!args.done()) {
    std::string option = args.next_option();
    if (option == "--json") {
      options.json = true;
    } else if (option == "--rows") {
      options.rows = args.count_value(100000000);
      if (options.rows == 0) throw UsageError("--rows must be at least 1");
    } else if (option == "--big-rows") {
      options.big_rows = args.count_value(100000000);
    } else if (option == "--repeats") {
      options.repeats = args.count_value(1000);
      if (options.repeats == 0) throw UsageError("--repeats must be at least 1");
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

struct Figures {
  double plain_insert_ms = std::numeric_limits<double>::infinity();
  SyncTotals push;  // the fastest push
  SyncTotals pull;  // the fastest pull
  std::int64_t package_bytes = 0;
  std::int64_t package_full_bytes = 0;
  double incremental_small_ms = std::numeric_limits<double>::infinity();
  double incremental_big_ms = std::numeric_limits<double>::infinity();
  SyncTotals big_pull;
  std::uint64_t big_pull_client_peak = 0;
  std::uint64_t big_pull_server_peak = 0;
};

Content content_of_ids(std::uint64_t rows) {
  Content content;
  for (std::uint64_t id = 1; id <= rows; ++id) {
    Row row = make_row(static_cast<std::int64_t>(id));
    ++content.rows;
    content.quantity_sum += row.quantity;
    content.email_bytes += static_cast<std::int64_t>(row.email.size());
    content.id_sum += row.id;
  }
  return content;
}

// A new, empty client pulls the large dbfile; the peak memory of this process (the
// client) and of the server is measured from just before the pull.
void measure_big_pull(const ScratchDir &scratch, ServerProcess &server, std::uint64_t rows, Figures &figures) {
  const Content expected = content_of_ids(rows);
  progress("pulling dbfile 'big' into an empty client");
  if (!reset_peak_memory(getpid()) || !reset_peak_memory(server.pid()))
    progress("warning: peak memory cannot be reset; the peaks include what came before");
  figures.big_pull = time_pull(scratch.file("bigpull.db"), server.url(), "big", expected);
  figures.big_pull_client_peak = peak_memory_bytes(getpid());
  figures.big_pull_server_peak = peak_memory_bytes(server.pid());
}

void run_phases(const Options &options, const ScratchDir &scratch, ServerProcess &server,
                const std::vector<Row> &rows, Figures &figures) {
  const std::string &url = server.url();
  const Content expected = content_of(rows);

  figures.push.ms = std::numeric_limits<double>::infinity();
  figures.pull.ms = std::numeric_limits<double>::infinity();
  for (std::uint64_t round = 1; round <= options.repeats; ++round) {
    const std::string label = "round " + std::to_string(round) + "/" + std::to_string(options.repeats) + ": ";
    const std::string dbfile = "push" + std::to_string(round);

    progress(label + "plain insert");
    figures.plain_insert_ms = std::min(figures.plain_insert_ms, time_plain_insert(scratch.file("plain.db"), rows));

    progress(label + "push");
    SyncTotals push = time_push(scratch.file("push.db"), rows, url, dbfile);
    if (push.ms < figures.push.ms) figures.push = push;
    // Every push sends the same rows; keep the bytes of the first one.
    if (round == 1) {
      figures.package_bytes = push.up_compressed;
      figures.package_full_bytes = push.up_full;
    }

    progress(label + "pull");
    SyncTotals pull = time_pull(scratch.file("pull.db"), url, dbfile, expected);
    if (pull.ms < figures.pull.ms) figures.pull = pull;
  }

  if (options.big_rows == 0) return;
  progress("building dbfile 'small' (" + std::to_string(kSmallDbfileRows) + " rows)");
  SyncedClient small(scratch.file("small.db"), url, "small", kSmallDbfileRows);
  progress("building dbfile 'big' (" + std::to_string(options.big_rows) + " rows)");
  SyncedClient big(scratch.file("big.db"), url, "big", options.big_rows);
  for (std::uint64_t round = 1; round <= options.repeats; ++round) {
    progress("round " + std::to_string(round) + "/" + std::to_string(options.repeats) +
             ": incremental sync, small and big");
    // Alternate the order so that drift does not always favour the same dbfile.
    if (round % 2 == 1) {
      figures.incremental_small_ms = std::min(figures.incremental_small_ms, small.update_and_sync(round));
      figures.incremental_big_ms = std::min(figures.incremental_big_ms, big.update_and_sync(round));
    } else {
      figures.incremental_big_ms = std::min(figures.incremental_big_ms, big.update_and_sync(round));
      figures.incremental_small_ms = std::min(figures.incremental_small_ms, small.update_and_sync(round));
    }
  }
  measure_big_pull(scratch, server, options.big_rows, figures);
}

}  // namespace

void print_sync_usage(std::ostream &out) {
  out << "usage: zumero-bench sync [--json] [--rows N] [--big-rows M] [--repeats R] [--dir DIR]\n"
         "                         [--server PATH]\n"
         "\n"
         "Starts a zumero-server on 127.0.0.1, times push, pull and one-row syncs through\n"
         "it, compares each with a plain SQLite bulk insert of the same rows, and prints\n"
         "one 'name value' line per figure.\n"
         "\n"
         "  --json          print the figures as one JSON object instead\n"
         "  --rows N        rows inserted, pushed and pulled (default 100000)\n"
         "  --big-rows M    rows in the large dbfile of the incremental figures\n"
         "                  (default 1000000; 0 skips the incremental figures)\n"
         "  --repeats R     rounds; each timed figure is the best of them (default 3)\n"
         "  --dir DIR       where the scratch databases and the server's data go\n"
         "                  (default: system temp dir; removed at the end)\n"
         "  --server PATH   the zumero-server to start (default: the one next to\n"
         "                  this program)\n";
}

int run_sync_bench(int argc, char **argv) {
  bool help_requested = false;
  Options options = parse_options(argc, argv, help_requested);
  if (help_requested) {
    print_sync_usage(std::cout);
    return 0;
  }
  const std::string server_binary = options.server.empty() ? default_server_path() : options.server;

  progress("generating " + std::to_string(options.rows) + " rows");
  std::vector<Row> rows;
  rows.reserve(options.rows);
  for (std::uint64_t id = 1; id <= options.rows; ++id) rows.push_back(make_row(static_cast<std::int64_t>(id)));

  ScratchDir scratch(options.dir);
  Figures figures;
  {
    progress("starting " + server_binary);
    ServerProcess server(server_binary, scratch.file("server"), scratch.file("server.log"));
    progress("server at " + server.url());
    try {
      run_phases(options, scratch, server, rows, figures);
    } catch (const BenchError &error) {
      throw BenchError(std::string(error.what()) + "\nserver log (last lines):\n" +
                       tail_of_file(server.log_path(), 20));
    }
    int status = server.stop();
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
      progress("warning: the server did not exit cleanly (wait status " + std::to_string(status) + ")");
  }

  progress("compressing the rows as CSV");
  std::uint64_t csv_bytes = 0, gzip_csv_bytes = 0;
  {
    std::string csv = rows_as_csv(rows);
    csv_bytes = csv.size();
    gzip_csv_bytes = gzip_size(csv);
  }

  Report report;
  report.add_int("rows", static_cast<std::int64_t>(options.rows));
  report.add_int("big_rows", static_cast<std::int64_t>(options.big_rows));
  report.add_int("repeats", static_cast<std::int64_t>(options.repeats));
  report.add_text("sqlite_version", sqlite3_libversion());
  report.add_real("plain_insert_ms", figures.plain_insert_ms, 1);
  report.add_real("push_ms", figures.push.ms, 1);
  report.add_int("push_calls", figures.push.calls);
  report.add_int("push_net_ms", figures.push.net_ms);
  report.add_ratio("push_ratio", figures.push.ms, figures.plain_insert_ms);
  report.add_real("push_target", kPushTarget, 2);
  report.add_real("pull_ms", figures.pull.ms, 1);
  report.add_int("pull_calls", figures.pull.calls);
  report.add_int("pull_net_ms", figures.pull.net_ms);
  report.add_int("pull_bytes", figures.pull.down_compressed);
  report.add_ratio("pull_ratio", figures.pull.ms, figures.plain_insert_ms);
  report.add_real("pull_target", kPullTarget, 2);
  if (options.big_rows > 0) {
    report.add_real("incremental_1k_ms", figures.incremental_small_ms, 1);
    report.add_real("incremental_1m_ms", figures.incremental_big_ms, 1);
    report.add_ratio("incremental_ratio", figures.incremental_big_ms, figures.incremental_small_ms);
    report.add_real("incremental_target", kIncrementalTarget, 2);
    report.add_real("big_pull_ms", figures.big_pull.ms, 1);
    report.add_int("big_pull_calls", figures.big_pull.calls);
    report.add_real("big_pull_client_peak_mb", static_cast<double>(figures.big_pull_client_peak) / 1048576.0, 1);
    report.add_real("big_pull_server_peak_mb", static_cast<double>(figures.big_pull_server_peak) / 1048576.0, 1);
    report.add_real("memory_target_mb", kMemoryTargetMb, 0);
  }
  report.add_int("package_bytes", figures.package_bytes);
  report.add_int("package_full_bytes", figures.package_full_bytes);
  report.add_int("csv_bytes", static_cast<std::int64_t>(csv_bytes));
  report.add_int("gzip_csv_bytes", static_cast<std::int64_t>(gzip_csv_bytes));
  report.add_ratio("package_ratio", static_cast<double>(figures.package_bytes), static_cast<double>(gzip_csv_bytes));
  report.add_real("package_target", kPackageTarget, 2);
  std::cout << (options.json ? report.as_json() : report.as_text()) << std::flush;
  return 0;
}

}  // namespace zumero_bench
