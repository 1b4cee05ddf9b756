#include "bench_util.h"

#include "ext/zumero_register.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <system_error>

namespace zumero_bench {

// ---------------------------------------------------------------------------
// Scratch files
// ---------------------------------------------------------------------------

ScratchDir::ScratchDir(const std::string &parent) {
  namespace fs = std::filesystem;
  fs::path base = parent.empty() ? fs::temp_directory_path() : fs::path(parent);
  std::error_code error;
  fs::create_directories(base, error);
  if (error) throw BenchError("cannot create directory " + base.string() + ": " + error.message());

  std::string pattern = (base / "zumero-bench-XXXXXX").string();
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (mkdtemp(buffer.data()) == nullptr)
    throw BenchError("cannot create a scratch directory in " + base.string());
  path_ = buffer.data();
}

ScratchDir::~ScratchDir() {
  std::error_code ignored;  // a destructor must not throw; leftovers are harmless
  std::filesystem::remove_all(path_, ignored);
}

void remove_database_files(const std::string &path) {
  std::error_code ignored;  // missing files are the normal case
  for (const char *suffix : {"", "-journal", "-wal", "-shm"})
    std::filesystem::remove(path + suffix, ignored);
}

std::uint64_t file_size_bytes(const std::string &path) {
  std::error_code error;
  std::uintmax_t size = std::filesystem::file_size(path, error);
  if (error) throw BenchError("cannot read the size of " + path + ": " + error.message());
  return size;
}

// ---------------------------------------------------------------------------
// SQLite
// ---------------------------------------------------------------------------

Database::Database(const std::string &path, bool register_zumero) {
  int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    throw BenchError("cannot open " + path + ": " + message);
  }
  if (register_zumero) {
    rc = zumero_register(db_);
    if (rc != SQLITE_OK) {
      std::string message = sqlite3_errmsg(db_);
      sqlite3_close(db_);
      throw BenchError("zumero_register failed on " + path + ": " + message);
    }
  }
}

Database::~Database() { sqlite3_close(db_); }

void Database::exec(const std::string &sql) {
  char *message = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : sqlite3_errmsg(db_);
    sqlite3_free(message);
    throw BenchError("SQL failed: " + sql + ": " + text);
  }
}

std::int64_t Database::query_int(const std::string &sql) {
  Statement statement(*this, sql);
  return statement.step() ? sqlite3_column_int64(statement.get(), 0) : 0;
}

Statement::Statement(Database &db, const std::string &sql) : db_(db.get()) {
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK)
    throw BenchError("cannot prepare: " + sql + ": " + sqlite3_errmsg(db_));
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

void Statement::fail(const char *what) const {
  throw BenchError(std::string(what) + " failed: " + sqlite3_sql(stmt_) + ": " + sqlite3_errmsg(db_));
}

void Statement::bind(int index, std::int64_t value) {
  if (sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK) fail("bind");
}

void Statement::bind(int index, double value) {
  if (sqlite3_bind_double(stmt_, index, value) != SQLITE_OK) fail("bind");
}

void Statement::bind(int index, std::string_view text) {
  if (sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT) != SQLITE_OK)
    fail("bind");
}

bool Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail("step");
}

void Statement::run() {
  while (step()) {
  }
  reset();
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

// ---------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------

std::string ArgReader::next_option() {
  if (inline_value_) throw UsageError("option " + current_ + " does not take a value");
  const std::string &arg = args_.at(next_++);
  std::size_t equals = arg.find('=');
  if (arg.rfind("--", 0) == 0 && equals != std::string::npos) {
    current_ = arg.substr(0, equals);
    inline_value_ = arg.substr(equals + 1);
  } else {
    current_ = arg;
    inline_value_.reset();
  }
  return current_;
}

std::string ArgReader::value() {
  if (inline_value_) {
    std::string result = *inline_value_;
    inline_value_.reset();
    return result;
  }
  if (done()) throw UsageError("option " + current_ + " needs a value");
  return args_[next_++];
}

std::uint64_t ArgReader::count_value(std::uint64_t max) {
  std::string text = value();
  std::size_t used = 0;
  unsigned long long parsed = 0;
  try {
    if (text.empty() || text[0] == '-' || text[0] == '+') throw std::invalid_argument(text);
    parsed = std::stoull(text, &used);
  } catch (const std::exception &) {
    used = 0;
  }
  if (used == 0 || used != text.size())
    throw UsageError("option " + current_ + " needs a whole number, not '" + text + "'");
  if (parsed > max) throw UsageError("option " + current_ + " must be at most " + std::to_string(max));
  return parsed;
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

namespace {

std::string json_string(const std::string &text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
          out += escaped;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string fixed(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

}  // namespace

void Report::add_int(const std::string &name, std::int64_t value) {
  std::string text = std::to_string(value);
  figures_.push_back({name, text, text});
}

void Report::add_real(const std::string &name, double value, int decimals) {
  if (!std::isfinite(value)) {
    figures_.push_back({name, "n/a", "null"});
    return;
  }
  std::string text = fixed(value, decimals);
  figures_.push_back({name, text, text});
}

void Report::add_text(const std::string &name, const std::string &value) {
  figures_.push_back({name, value, json_string(value)});
}

void Report::add_ratio(const std::string &name, double numerator, double denominator) {
  if (!(denominator > 0) || !std::isfinite(numerator)) {
    figures_.push_back({name, "n/a", "null"});
    return;
  }
  add_real(name, numerator / denominator, 2);
}

std::string Report::as_text() const {
  std::string out;
  for (const Figure &figure : figures_) out += figure.name + " " + figure.text + "\n";
  return out;
}

std::string Report::as_json() const {
  std::string out = "{";
  for (std::size_t i = 0; i < figures_.size(); ++i) {
    out += i == 0 ? "\n  " : ",\n  ";
    out += json_string(figures_[i].name) + ": " + figures_[i].json;
  }
  return out + "\n}\n";
}

void progress(const std::string &message) { std::cerr << "zumero-bench: " << message << std::endl; }

}  // namespace zumero_bench
