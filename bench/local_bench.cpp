// `zumero-bench local`: the cost of a zumero table next to a plain SQLite table.
//
// Both sides get the same schema (five columns, one secondary index), the same rows
// and the same statements, each in its own fresh database file with SQLite's default
// journal mode and synchronous setting. A round runs, on one side, in this order:
//
//   insert  N rows, one transaction, one prepared INSERT
//   update  N single-row UPDATEs by primary key of a non-indexed column, one transaction
//   lookup  10000 point queries on the indexed column, reading every column
//   scan    one full scan reading every column of every row
//   delete  N single-row DELETEs by primary key, one transaction
//
// Each round starts from a new file; rounds alternate which side goes first, and
// each phase reports its best (minimum) time over the rounds. Every phase also
// computes row counts and an order-independent digest of what it read, and the two
// sides must agree: a zumero table that returned different data would make the
// timing meaningless.
//
// The size figures come from a separate pair of files holding M rows: their size
// straight after the inserting transaction, and again after zumero_purge_history()
// (zumero side) and VACUUM (both sides).
#include "bench_util.h"
#include "items.h"
#include "subcommands.h"

#include <algorithm>
#include <cstring>
#include <iostream>
#include <limits>
#include <random>

namespace zumero_bench {
namespace {

constexpr const char *kUpdateSql = "UPDATE items SET balance = ? WHERE id = ?";
constexpr const char *kDeleteSql = "DELETE FROM items WHERE id = ?";
constexpr const char *kLookupSql = "SELECT id, email, balance, country, quantity FROM items WHERE email = ?";
constexpr const char *kScanSql = "SELECT id, email, balance, country, quantity FROM items";
constexpr std::size_t kLookupCount = 10000;

struct Options {
  std::uint64_t rows = 100000;
  std::uint64_t size_rows = 1000000;
  std::uint64_t repeats = 3;
  std::uint64_t fk_rows = 300000;
  KeyKind key = KeyKind::integer;
  std::string dir;
  bool json = false;
};

// One-row inserts timed per table size in the foreign-key figures; the best counts.
constexpr int kForeignKeyInserts = 30;
constexpr std::uint64_t kForeignKeySmallRows = 1000;

enum class Side { plain, zumero };

const char *side_name(Side side) { return side == Side::plain ? "plain" : "zumero"; }

// ---------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------

// Everything the timed phases feed to SQLite, generated before any clock starts.
struct Workload {
  KeyKind key = KeyKind::integer;
  std::vector<Row> rows;                  // inserted in this order (ids 1..N)
  std::vector<std::string> text_keys;     // with a text key: text_key(id) at [id - 1]
  std::vector<std::int64_t> update_ids;   // every id once, shuffled
  std::vector<double> new_balances;       // parallel to update_ids
  std::vector<std::int64_t> delete_ids;   // every id once, shuffled differently
  std::vector<std::string> lookup_emails; // kLookupCount emails of existing rows
};

Workload make_workload(std::uint64_t row_count, KeyKind key) {
  Workload workload;
  workload.key = key;
  workload.rows.reserve(row_count);
  for (std::uint64_t i = 1; i <= row_count; ++i) workload.rows.push_back(make_row(static_cast<std::int64_t>(i)));
  if (key == KeyKind::text)
    for (const Row &row : workload.rows) workload.text_keys.push_back(text_key(row.id));

  std::mt19937_64 shuffler(20240611);
  for (const Row &row : workload.rows) workload.update_ids.push_back(row.id);
  std::shuffle(workload.update_ids.begin(), workload.update_ids.end(), shuffler);
  workload.delete_ids = workload.update_ids;
  std::shuffle(workload.delete_ids.begin(), workload.delete_ids.end(), shuffler);

  std::uint64_t state = 0xBA1A9CE;
  for (std::size_t i = 0; i < workload.update_ids.size(); ++i)
    workload.new_balances.push_back(static_cast<double>(next_random(state) % 10000000) / 100.0);
  for (std::size_t i = 0; i < kLookupCount; ++i)
    workload.lookup_emails.push_back(workload.rows[next_random(state) % row_count].email);
  return workload;
}

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

// Binds the key of row `id`, prepared before the clock started.
void bind_workload_key(Statement &statement, int index, const Workload &workload, std::int64_t id) {
  if (workload.key == KeyKind::text)
    statement.bind(index, std::string_view(workload.text_keys[static_cast<std::size_t>(id - 1)]));
  else
    statement.bind(index, id);
}

// Mixes one result row (id, email, balance, country, quantity) into a 64-bit value,
// reading every column the way an application would (a text key as text).
std::uint64_t digest_row(sqlite3_stmt *statement, KeyKind key) {
  std::uint64_t hash = 1469598103934665603ull;  // FNV-1a over the column bytes
  auto mix = [&hash](const void *data, std::size_t size) {
    const unsigned char *bytes = static_cast<const unsigned char *>(data);
    for (std::size_t i = 0; i < size; ++i) hash = (hash ^ bytes[i]) * 1099511628211ull;
  };
  for (int column = 0; column < 5; ++column) {
    switch (column == 0 && key == KeyKind::text ? 1 : column) {
      case 1:
      case 3: {
        const unsigned char *text = sqlite3_column_text(statement, column);
        int size = sqlite3_column_bytes(statement, column);
        if (text) mix(text, static_cast<std::size_t>(size));
        mix("|", 1);
        break;
      }
      case 2: {
        double value = sqlite3_column_double(statement, column);
        mix(&value, sizeof value);
        break;
      }
      default: {
        std::int64_t value = sqlite3_column_int64(statement, column);
        mix(&value, sizeof value);
      }
    }
  }
  return hash;
}

// What one round read, to compare the two sides.
struct Observed {
  std::int64_t lookup_rows = 0;
  std::uint64_t lookup_digest = 0;
  std::int64_t scan_rows = 0;
  std::uint64_t scan_digest = 0;  // sum of row digests: independent of row order

  bool operator==(const Observed &other) const {
    return lookup_rows == other.lookup_rows && lookup_digest == other.lookup_digest &&
           scan_rows == other.scan_rows && scan_digest == other.scan_digest;
  }
};

void expect_row_count(Database &db, std::uint64_t expected, Side side, const char *when) {
  std::int64_t actual = db.query_int("SELECT count(*) FROM items");
  if (actual != static_cast<std::int64_t>(expected))
    throw BenchError(std::string(side_name(side)) + " table holds " + std::to_string(actual) + " rows " + when +
                     ", expected " + std::to_string(expected));
}

void expect_one_change(Database &db, Side side, const char *what, std::int64_t id) {
  if (sqlite3_changes(db.get()) != 1)
    throw BenchError(std::string(side_name(side)) + " " + what + " of id " + std::to_string(id) +
                     " changed " + std::to_string(sqlite3_changes(db.get())) + " rows, expected 1");
}

// ---------------------------------------------------------------------------
// Phases
// ---------------------------------------------------------------------------

void create_schema(Database &db, Side side, KeyKind key) { create_items_table(db, side == Side::zumero, key); }

double time_insert(Database &db, const Workload &workload) {
  Statement insert(db, kItemsInsertSql);
  Stopwatch clock;
  db.exec("BEGIN");
  for (const Row &row : workload.rows) {
    bind_row(insert, row);
    bind_workload_key(insert, 1, workload, row.id);
    insert.run();
  }
  db.exec("COMMIT");
  return clock.elapsed_ms();
}

double time_update(Database &db, const Workload &workload, Side side) {
  Statement update(db, kUpdateSql);
  Stopwatch clock;
  db.exec("BEGIN");
  for (std::size_t i = 0; i < workload.update_ids.size(); ++i) {
    update.bind(1, workload.new_balances[i]);
    bind_workload_key(update, 2, workload, workload.update_ids[i]);
    update.run();
    expect_one_change(db, side, "update", workload.update_ids[i]);
  }
  db.exec("COMMIT");
  return clock.elapsed_ms();
}

double time_lookup(Database &db, const Workload &workload, Observed &observed) {
  Statement lookup(db, kLookupSql);
  Stopwatch clock;
  for (const std::string &email : workload.lookup_emails) {
    lookup.bind(1, std::string_view(email));
    while (lookup.step()) {
      observed.lookup_digest += digest_row(lookup.get(), workload.key);
      ++observed.lookup_rows;
    }
    lookup.reset();
  }
  return clock.elapsed_ms();
}

double time_scan(Database &db, KeyKind key, Observed &observed) {
  Statement scan(db, kScanSql);
  Stopwatch clock;
  while (scan.step()) {
    observed.scan_digest += digest_row(scan.get(), key);
    ++observed.scan_rows;
  }
  return clock.elapsed_ms();
}

double time_delete(Database &db, const Workload &workload, Side side) {
  Statement remove(db, kDeleteSql);
  Stopwatch clock;
  db.exec("BEGIN");
  for (std::int64_t id : workload.delete_ids) {
    bind_workload_key(remove, 1, workload, id);
    remove.run();
    expect_one_change(db, side, "delete", id);
  }
  db.exec("COMMIT");
  return clock.elapsed_ms();
}

// Phase times of one round, in milliseconds.
struct PhaseTimes {
  double insert = std::numeric_limits<double>::infinity();
  double update = std::numeric_limits<double>::infinity();
  double lookup = std::numeric_limits<double>::infinity();
  double scan = std::numeric_limits<double>::infinity();
  double remove = std::numeric_limits<double>::infinity();

  void keep_minimum(const PhaseTimes &other) {
    insert = std::min(insert, other.insert);
    update = std::min(update, other.update);
    lookup = std::min(lookup, other.lookup);
    scan = std::min(scan, other.scan);
    remove = std::min(remove, other.remove);
  }
};

// One round on one side, in a fresh file at `path` (removed again afterwards).
PhaseTimes run_round(const std::string &path, Side side, const Workload &workload, Observed &observed) {
  remove_database_files(path);
  PhaseTimes times;
  {
    Database db(path, true);
    create_schema(db, side, workload.key);
    std::uint64_t rows = workload.rows.size();
    times.insert = time_insert(db, workload);
    expect_row_count(db, rows, side, "after insert");
    times.update = time_update(db, workload, side);
    times.lookup = time_lookup(db, workload, observed);
    times.scan = time_scan(db, workload.key, observed);
    times.remove = time_delete(db, workload, side);
    expect_row_count(db, 0, side, "after delete");
  }
  remove_database_files(path);
  return times;
}

struct SizeFigures {
  std::uint64_t after_insert = 0;
  std::uint64_t after_vacuum = 0;
};

// Inserts `row_count` rows into a fresh file and measures it, then purges history
// (zumero side), VACUUMs and measures again. Each step runs on its own connection so
// the file is closed, and any rollback journal gone, when it is measured.
SizeFigures measure_size(const std::string &path, Side side, std::uint64_t row_count, KeyKind key) {
  remove_database_files(path);
  SizeFigures sizes;
  {
    Database db(path, true);
    create_schema(db, side, key);
    Statement insert(db, kItemsInsertSql);
    db.exec("BEGIN");
    for (std::uint64_t id = 1; id <= row_count; ++id) {
      bind_row(insert, make_row(static_cast<std::int64_t>(id)), key);
      insert.run();
    }
    db.exec("COMMIT");
    expect_row_count(db, row_count, side, "after the size insert");
  }
  sizes.after_insert = file_size_bytes(path);
  {
    Database db(path, true);
    if (side == Side::zumero) db.query_int("SELECT zumero_purge_history('main')");
    db.exec("VACUUM");
  }
  sizes.after_vacuum = file_size_bytes(path);
  remove_database_files(path);
  return sizes;
}

// ---------------------------------------------------------------------------
// Foreign keys
// ---------------------------------------------------------------------------

// Two zumero tables, `parents` and `children` (children.parent REFERENCES parents,
// with an index on it as SQLite advises), `rows` rows each. Returns the best time of
// kForeignKeyInserts one-row inserts into children, each its own autocommit
// transaction, so the commit and its foreign-key check are inside the time.
double time_foreign_key_insert(const std::string &path, std::uint64_t rows, bool enforced) {
  remove_database_files(path);
  double best = std::numeric_limits<double>::infinity();
  {
    Database db(path, true);
    db.exec(std::string("PRAGMA foreign_keys = ") + (enforced ? "ON" : "OFF"));
    db.exec("CREATE VIRTUAL TABLE parents USING zumero (id INTEGER PRIMARY KEY, name TEXT)");
    db.exec("CREATE VIRTUAL TABLE children USING zumero (id INTEGER PRIMARY KEY, "
            "parent INTEGER REFERENCES parents (id), note TEXT)");
    db.exec("CREATE INDEX children_parent ON \"z$children\" (parent)");
    {
      Statement parent(db, "INSERT INTO parents (id, name) VALUES (?, 'parent')");
      Statement child(db, "INSERT INTO children (id, parent, note) VALUES (?, ?, 'child')");
      db.exec("BEGIN");
      for (std::uint64_t id = 1; id <= rows; ++id) {
        parent.bind(1, static_cast<std::int64_t>(id));
        parent.run();
        child.bind(1, static_cast<std::int64_t>(id));
        child.bind(2, static_cast<std::int64_t>(id));
        child.run();
      }
      db.exec("COMMIT");
    }
    Statement insert(db, "INSERT INTO children (id, parent, note) VALUES (?, ?, 'one more')");
    for (int k = 0; k < kForeignKeyInserts; ++k) {
      insert.bind(1, static_cast<std::int64_t>(rows + 1 + k));
      insert.bind(2, static_cast<std::int64_t>(1 + (static_cast<std::uint64_t>(k) * 7919) % rows));
      Stopwatch clock;
      insert.run();
      best = std::min(best, clock.elapsed_ms());
    }
    // The figure means nothing unless the check is really made.
    if (sqlite3_exec(db.get(), "INSERT INTO children (parent, note) VALUES (-1, 'dangling')", nullptr, nullptr,
                     nullptr) == SQLITE_OK)
      throw BenchError(std::string("a dangling reference was accepted with foreign_keys ") +
                       (enforced ? "on" : "off"));
  }
  remove_database_files(path);
  return best;
}

struct ForeignKeyFigures {
  double off_small = 0, off_big = 0, on_small = 0, on_big = 0;
};

ForeignKeyFigures measure_foreign_keys(const std::string &path, std::uint64_t big_rows) {
  ForeignKeyFigures figures;
  for (bool enforced : {false, true}) {
    const char *label = enforced ? "on" : "off";
    progress(std::string("foreign keys ") + label + ": " + std::to_string(kForeignKeySmallRows) + " rows");
    double small = time_foreign_key_insert(path, kForeignKeySmallRows, enforced);
    progress(std::string("foreign keys ") + label + ": " + std::to_string(big_rows) + " rows");
    double big = time_foreign_key_insert(path, big_rows, enforced);
    (enforced ? figures.on_small : figures.off_small) = small;
    (enforced ? figures.on_big : figures.off_big) = big;
  }
  return figures;
}

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
    } else if (option == "--size-rows") {
      options.size_rows = args.count_value(100000000);
    } else if (option == "--fk-rows") {
      options.fk_rows = args.count_value(100000000);
    } else if (option == "--pk") {
      std::string kind = args.value();
      if (kind == "integer") options.key = KeyKind::integer;
      else if (kind == "text") options.key = KeyKind::text;
      else throw UsageError("--pk takes 'integer' or 'text', not '" + kind + "'");
    } else if (option == "--repeats") {
      options.repeats = args.count_value(1000);
      if (options.repeats == 0) throw UsageError("--repeats must be at least 1");
    } else if (option == "--dir") {
      options.dir = args.value();
      if (options.dir.empty()) throw UsageError("--dir needs a directory");
    } else if (option == "--help" || option == "-h") {
      help_requested = true;
    } else {
      throw UsageError("unknown argument '" + option + "'");
    }
  }
  return options;
}

void add_timing(Report &report, const char *phase, double plain_ms, double zumero_ms) {
  std::string name(phase);
  report.add_real(name + "_plain_ms", plain_ms, 1);
  report.add_real(name + "_zumero_ms", zumero_ms, 1);
  report.add_ratio(name + "_ratio", zumero_ms, plain_ms);
}

void add_size(Report &report, const std::string &prefix, std::uint64_t plain, std::uint64_t zumero) {
  report.add_int(prefix + "_plain_bytes", static_cast<std::int64_t>(plain));
  report.add_int(prefix + "_zumero_bytes", static_cast<std::int64_t>(zumero));
  report.add_ratio(prefix + "_ratio", static_cast<double>(zumero), static_cast<double>(plain));
}

}  // namespace

void print_local_usage(std::ostream &out) {
  out << "usage: zumero-bench local [--json] [--rows N] [--size-rows M] [--fk-rows K] [--pk integer|text]\n"
         "                          [--repeats R] [--dir DIR]\n"
         "\n"
         "Times the same workload on a plain SQLite table and on a zumero table, each in\n"
         "its own fresh database file, and prints one 'name value' line per figure.\n"
         "\n"
         "  --json          print the figures as one JSON object instead\n"
         "  --rows N        rows inserted, updated and deleted per round (default 100000)\n"
         "  --size-rows M   rows in the files whose size is measured (default 1000000;\n"
         "                  0 skips the size figures)\n"
         "  --fk-rows K     rows in the large tables of the foreign-key figures\n"
         "                  (default 300000; 0 skips them)\n"
         "  --pk KIND       'integer' (INTEGER PRIMARY KEY, the default) or 'text'\n"
         "                  (TEXT PRIMARY KEY on both sides)\n"
         "  --repeats R     rounds per side; each phase reports its best time (default 3)\n"
         "  --dir DIR       where the scratch database files go (default: system temp dir)\n";
}

int run_local_bench(int argc, char **argv) {
  bool help_requested = false;
  Options options = parse_options(argc, argv, help_requested);
  if (help_requested) {
    print_local_usage(std::cout);
    return 0;
  }

  ScratchDir scratch(options.dir);
  const std::string plain_path = scratch.file("plain.db");
  const std::string zumero_path = scratch.file("zumero.db");

  progress("generating " + std::to_string(options.rows) + " rows");
  const Workload workload = make_workload(options.rows, options.key);

  PhaseTimes best[2];
  Observed reference;
  bool have_reference = false;
  for (std::uint64_t round = 0; round < options.repeats; ++round) {
    // Alternate which side goes first so that drift (cache warm-up, thermal state,
    // other load) does not always favour the same one.
    const Side order[2] = {round % 2 == 0 ? Side::plain : Side::zumero,
                           round % 2 == 0 ? Side::zumero : Side::plain};
    for (Side side : order) {
      progress("round " + std::to_string(round + 1) + "/" + std::to_string(options.repeats) + ": " +
               side_name(side));
      Observed observed;
      PhaseTimes times = run_round(side == Side::plain ? plain_path : zumero_path, side, workload, observed);
      if (!have_reference) {
        reference = observed;
        have_reference = true;
      } else if (!(observed == reference)) {
        throw BenchError(std::string("the ") + side_name(side) +
                         " table returned different rows from the lookups or the scan than the other side "
                         "(lookup rows " + std::to_string(observed.lookup_rows) + " vs " +
                         std::to_string(reference.lookup_rows) + ", scan rows " +
                         std::to_string(observed.scan_rows) + " vs " + std::to_string(reference.scan_rows) + ")");
      }
      best[static_cast<int>(side)].keep_minimum(times);
    }
  }
  const PhaseTimes &plain = best[static_cast<int>(Side::plain)];
  const PhaseTimes &zumero = best[static_cast<int>(Side::zumero)];

  SizeFigures plain_size, zumero_size;
  if (options.size_rows > 0) {
    progress("size: " + std::to_string(options.size_rows) + " rows, plain");
    plain_size = measure_size(plain_path, Side::plain, options.size_rows, options.key);
    progress("size: " + std::to_string(options.size_rows) + " rows, zumero");
    zumero_size = measure_size(zumero_path, Side::zumero, options.size_rows, options.key);
  }
  ForeignKeyFigures fk;
  if (options.fk_rows > 0) fk = measure_foreign_keys(scratch.file("fk.db"), options.fk_rows);

  Report report;
  report.add_int("rows", static_cast<std::int64_t>(options.rows));
  report.add_int("size_rows", static_cast<std::int64_t>(options.size_rows));
  report.add_int("lookups", static_cast<std::int64_t>(kLookupCount));
  report.add_int("repeats", static_cast<std::int64_t>(options.repeats));
  report.add_text("pk", options.key == KeyKind::text ? "text" : "integer");
  report.add_text("sqlite_version", sqlite3_libversion());
  add_timing(report, "insert", plain.insert, zumero.insert);
  add_timing(report, "update", plain.update, zumero.update);
  add_timing(report, "delete", plain.remove, zumero.remove);
  add_timing(report, "lookup", plain.lookup, zumero.lookup);
  add_timing(report, "scan", plain.scan, zumero.scan);
  if (options.size_rows > 0) {
    add_size(report, "size_inserted", plain_size.after_insert, zumero_size.after_insert);
    add_size(report, "size", plain_size.after_vacuum, zumero_size.after_vacuum);
  }
  if (options.fk_rows > 0) {
    report.add_int("fk_rows", static_cast<std::int64_t>(options.fk_rows));
    report.add_real("fk_off_1k_ms", fk.off_small, 3);
    report.add_real("fk_off_big_ms", fk.off_big, 3);
    report.add_ratio("fk_off_ratio", fk.off_big, fk.off_small);
    report.add_real("fk_on_1k_ms", fk.on_small, 3);
    report.add_real("fk_on_big_ms", fk.on_big, 3);
    report.add_ratio("fk_on_ratio", fk.on_big, fk.on_small);
  }
  std::cout << (options.json ? report.as_json() : report.as_text()) << std::flush;
  return 0;
}

}  // namespace zumero_bench
