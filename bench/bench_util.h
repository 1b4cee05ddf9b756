// Shared pieces of zumero-bench: timing, scratch files, thin SQLite wrappers,
// command-line helpers and the report printer. Every subcommand (local_bench.cpp,
// and later others) builds on these so their output looks the same.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace zumero_bench {

// Thrown for any failure a benchmark cannot recover from; main() prints it and exits 1.
class BenchError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// ---------------------------------------------------------------------------
// Timing
// ---------------------------------------------------------------------------

// Measures wall-clock time on the monotonic clock from construction (or restart()).
class Stopwatch {
public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  void restart() { start_ = std::chrono::steady_clock::now(); }
  double elapsed_ms() const {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
  }

private:
  std::chrono::steady_clock::time_point start_;
};

// ---------------------------------------------------------------------------
// Scratch files
// ---------------------------------------------------------------------------

// A fresh, uniquely named directory under `parent` (created if missing; the system
// temporary directory when empty). It and everything inside are removed on destruction.
class ScratchDir {
public:
  explicit ScratchDir(const std::string &parent);
  ~ScratchDir();
  ScratchDir(const ScratchDir &) = delete;
  ScratchDir &operator=(const ScratchDir &) = delete;

  const std::filesystem::path &path() const { return path_; }
  // A path for a file named `name` inside the directory (the file is not created).
  std::string file(const std::string &name) const { return (path_ / name).string(); }

private:
  std::filesystem::path path_;
};

// Removes a database file and the journal / WAL / shared-memory files next to it.
void remove_database_files(const std::string &path);

// Size of a file in bytes; throws when it cannot be read.
std::uint64_t file_size_bytes(const std::string &path);

// ---------------------------------------------------------------------------
// SQLite
// ---------------------------------------------------------------------------

// An open connection that closes itself. When `register_zumero` is set, the zumero
// module and SQL functions are registered on it right after opening.
class Database {
public:
  Database(const std::string &path, bool register_zumero);
  ~Database();
  Database(const Database &) = delete;
  Database &operator=(const Database &) = delete;

  sqlite3 *get() const { return db_; }
  // Runs one or more statements whose results are not needed.
  void exec(const std::string &sql);
  // Runs a query that returns one integer in its first row (0 when it returns no row).
  std::int64_t query_int(const std::string &sql);

private:
  sqlite3 *db_ = nullptr;
};

// A prepared statement that finalizes itself. Methods throw BenchError on failure,
// quoting the statement's SQL and the connection's error message.
class Statement {
public:
  Statement(Database &db, const std::string &sql);
  ~Statement();
  Statement(const Statement &) = delete;
  Statement &operator=(const Statement &) = delete;

  sqlite3_stmt *get() const { return stmt_; }
  void bind(int index, std::int64_t value);
  void bind(int index, double value);
  void bind(int index, std::string_view text);
  // Steps once: true when a row is available, false when the statement is done.
  bool step();
  // Steps to completion, then resets and clears bindings for the next use.
  void run();
  void reset();

private:
  [[noreturn]] void fail(const char *what) const;

  sqlite3 *db_;
  sqlite3_stmt *stmt_ = nullptr;
};

// ---------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------

// Walks the arguments of one subcommand. Options may be written "--name value" or
// "--name=value". Usage mistakes throw UsageError.
class UsageError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

class ArgReader {
public:
  ArgReader(int argc, char **argv) : args_(argv, argv + argc) {}

  bool done() const { return next_ >= args_.size(); }
  // Advances to the next argument and returns its option name ("--rows" for both
  // "--rows 5" and "--rows=5").
  std::string next_option();
  // The value of the option just read, from "=value" or from the next argument.
  std::string value();
  // value() parsed as a non-negative integer no larger than `max`.
  std::uint64_t count_value(std::uint64_t max);

private:
  std::vector<std::string> args_;
  std::size_t next_ = 0;
  std::string current_;
  std::optional<std::string> inline_value_;
};

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

// An ordered list of named figures, printed either as "name value" lines or as one
// JSON object with the same names and values.
class Report {
public:
  void add_int(const std::string &name, std::int64_t value);
  // `decimals` digits after the point in both output formats.
  void add_real(const std::string &name, double value, int decimals);
  void add_text(const std::string &name, const std::string &value);
  // Adds name = numerator / denominator with two decimals, or a missing value
  // ("n/a", JSON null) when the denominator is not positive.
  void add_ratio(const std::string &name, double numerator, double denominator);

  std::string as_text() const;
  std::string as_json() const;

private:
  struct Figure {
    std::string name;
    std::string text;  // the value as printed in text output
    std::string json;  // the value as printed in JSON output
  };
  std::vector<Figure> figures_;
};

// Progress messages go to stderr so that stdout carries only the report.
void progress(const std::string &message);

}  // namespace zumero_bench
