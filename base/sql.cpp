#include "base/sql.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace zumero {

void fail(const std::string &identifier, int code) { throw Error(code, "zumero:" + identifier); }

void fail_from_db(sqlite3 *db, int code) { throw Error(code, sqlite3_errmsg(db)); }

std::string quote_identifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string hex_bytes(const void *data, std::size_t size) {
  static const char digits[] = "0123456789abcdef";
  const auto *bytes = static_cast<const unsigned char *>(data);
  std::string hex;
  hex.reserve(2 * size);
  for (std::size_t i = 0; i < size; ++i) {
    hex += digits[bytes[i] >> 4];
    hex += digits[bytes[i] & 15];
  }
  return hex;
}

std::string quote_literal(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

namespace {
// SQLite folds only ASCII letters when it compares identifiers (sqlite3_stricmp).
unsigned char fold(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  return (u >= 'A' && u <= 'Z') ? static_cast<unsigned char>(u + 32) : u;
}
}  // namespace

std::string lower_ascii(std::string_view text) {
  std::string out(text);
  for (char &c : out) c = static_cast<char>(fold(c));
  return out;
}

bool iequals(std::string_view a, std::string_view b) { return compare_names(a, b) == 0; }

int compare_names(std::string_view a, std::string_view b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = fold(a[i]), y = fold(b[i]);
    if (x != y) return x < y ? -1 : 1;
  }
  if (a.size() == b.size()) return 0;
  return a.size() < b.size() ? -1 : 1;
}

// ---- kept statements ---------------------------------------------------------------

namespace {

constexpr std::size_t kMaxKeptStatements = 128;

// The idle statements of one connection; used only by the thread using the connection.
struct KeptStatements {
  std::unordered_multimap<std::string, sqlite3_stmt *> idle;
};

std::mutex kept_mutex;
std::unordered_map<sqlite3 *, std::unique_ptr<KeptStatements>> &kept_registry() {
  static std::unordered_map<sqlite3 *, std::unique_ptr<KeptStatements>> registry;
  return registry;
}
// Bumped whenever a connection starts or stops keeping statements, so the lookup each
// thread remembers is never used for a connection it no longer describes.
std::atomic<std::uint64_t> kept_generation{1};

struct LastLookup {
  sqlite3 *db = nullptr;
  KeptStatements *kept = nullptr;
  std::uint64_t generation = 0;
};
thread_local LastLookup last_lookup;

KeptStatements *kept_for(sqlite3 *db) {
  std::uint64_t generation = kept_generation.load(std::memory_order_acquire);
  if (last_lookup.db == db && last_lookup.generation == generation) return last_lookup.kept;
  std::lock_guard<std::mutex> guard(kept_mutex);
  auto found = kept_registry().find(db);
  last_lookup = {db, found == kept_registry().end() ? nullptr : found->second.get(), generation};
  return last_lookup.kept;
}

sqlite3_stmt *take_kept(sqlite3 *db, const std::string &sql) {
  KeptStatements *kept = kept_for(db);
  if (!kept) return nullptr;
  auto found = kept->idle.find(sql);
  if (found == kept->idle.end()) return nullptr;
  sqlite3_stmt *statement = found->second;
  kept->idle.erase(found);
  return statement;
}

// Finalizes the statement unless its connection keeps it.
void release_statement(sqlite3 *db, sqlite3_stmt *statement) {
  if (!statement) return;
  KeptStatements *kept = db ? kept_for(db) : nullptr;
  if (kept && kept->idle.size() < kMaxKeptStatements) {
    sqlite3_reset(statement);
    sqlite3_clear_bindings(statement);
    try {
      kept->idle.emplace(sqlite3_sql(statement), statement);
      return;
    } catch (...) {
      // Out of memory: finalized below.
    }
  }
  sqlite3_finalize(statement);
}

}  // namespace

void keep_statements(sqlite3 *db) {
  std::lock_guard<std::mutex> guard(kept_mutex);
  kept_registry().emplace(db, std::make_unique<KeptStatements>());
  kept_generation.fetch_add(1, std::memory_order_release);
}

void drop_kept_statements(sqlite3 *db) {
  std::unique_ptr<KeptStatements> kept;
  {
    std::lock_guard<std::mutex> guard(kept_mutex);
    auto found = kept_registry().find(db);
    if (found == kept_registry().end()) return;
    kept = std::move(found->second);
    kept_registry().erase(found);
    kept_generation.fetch_add(1, std::memory_order_release);
  }
  for (auto &entry : kept->idle) sqlite3_finalize(entry.second);
}

void exec(sqlite3 *db, const std::string &sql) {
  // One statement on a connection that keeps them: prepared once (BEGIN, COMMIT, ...).
  if (sql.find(';') == std::string::npos && kept_for(db)) {
    try {
      Statement(db, sql).run();
    } catch (const Error &error) {
      throw Error(error.code() & 0xff, error.what());  // the code sqlite3_exec reports
    }
    return;
  }
  char *message = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    std::string text = message ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    throw Error(rc, text);
  }
}

Statement::Statement(sqlite3 *db, const std::string &sql, bool persistent) : db_(db) {
  stmt_ = take_kept(db, sql);
  if (stmt_) return;
  int rc = sqlite3_prepare_v3(db, sql.c_str(), static_cast<int>(sql.size()),
                              persistent ? SQLITE_PREPARE_PERSISTENT : 0, &stmt_, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = sqlite3_errmsg(db);
    sqlite3_finalize(stmt_);
    stmt_ = nullptr;
    throw Error(rc, message);
  }
}

Statement::~Statement() { release_statement(db_, stmt_); }

Statement::Statement(Statement &&other) noexcept : db_(other.db_), stmt_(other.stmt_) {
  other.stmt_ = nullptr;
}

Statement &Statement::operator=(Statement &&other) noexcept {
  if (this != &other) {
    release_statement(db_, stmt_);
    db_ = other.db_;
    stmt_ = other.stmt_;
    other.stmt_ = nullptr;
  }
  return *this;
}

// A failed bind (out of range index, too big, out of memory) is a programming or
// resource error: it must not leave a statement running with a stale value.
void Statement::check_bind(int rc) {
  if (rc != SQLITE_OK) throw Error(rc, std::string("cannot bind a parameter: ") + sqlite3_errstr(rc));
}

Statement &Statement::bind(int index, std::int64_t value) {
  check_bind(sqlite3_bind_int64(stmt_, index, value));
  return *this;
}

Statement &Statement::bind(int index, double value) {
  check_bind(sqlite3_bind_double(stmt_, index, value));
  return *this;
}

Statement &Statement::bind(int index, std::string_view text) {
  check_bind(sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  return *this;
}

Statement &Statement::bind_blob(int index, const void *data, std::size_t size) {
  check_bind(size ? sqlite3_bind_blob64(stmt_, index, data, size, SQLITE_TRANSIENT)
                  : sqlite3_bind_zeroblob(stmt_, index, 0));
  return *this;
}

Statement &Statement::bind_null(int index) {
  check_bind(sqlite3_bind_null(stmt_, index));
  return *this;
}

Statement &Statement::bind_value(int index, sqlite3_value *value) {
  check_bind(sqlite3_bind_value(stmt_, index, value));
  return *this;
}

bool Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  std::string message = sqlite3_errmsg(db_);
  int extended = sqlite3_extended_errcode(db_);
  sqlite3_reset(stmt_);
  throw Error(extended ? extended : rc, message);
}

void Statement::run() {
  while (step()) {
  }
  reset();
}

// Bindings are kept: every caller binds all the parameters it uses before stepping.
void Statement::reset() { sqlite3_reset(stmt_); }

std::string Statement::column_text(int i) const {
  const unsigned char *text = sqlite3_column_text(stmt_, i);
  if (!text) return std::string();
  return std::string(reinterpret_cast<const char *>(text), sqlite3_column_bytes(stmt_, i));
}

std::int64_t query_int(sqlite3 *db, const std::string &sql, std::int64_t fallback) {
  Statement statement(db, sql);
  if (!statement.step() || statement.is_null(0)) return fallback;
  return statement.column_int(0);
}

Transaction::Transaction(sqlite3 *db, const char *begin_sql) : db_(db), open_(true) { exec(db, begin_sql); }

Transaction::~Transaction() {
  if (open_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  exec(db_, "COMMIT");
  open_ = false;
}

Savepoint::Savepoint(sqlite3 *db, std::string name) : db_(db), name_(std::move(name)), open_(true) {
  exec(db, "SAVEPOINT " + quote_identifier(name_));
}

Savepoint::~Savepoint() {
  if (!open_) return;
  std::string sql = "ROLLBACK TO " + quote_identifier(name_) + "; RELEASE " + quote_identifier(name_);
  sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
}

void Savepoint::release() {
  exec(db_, "RELEASE " + quote_identifier(name_));
  open_ = false;
}

}  // namespace zumero
