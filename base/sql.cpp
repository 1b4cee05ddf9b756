#include "base/sql.h"

#include <algorithm>
#include <cctype>

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

void exec(sqlite3 *db, const std::string &sql) {
  char *message = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    std::string text = message ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    throw Error(rc, text);
  }
}

Statement::Statement(sqlite3 *db, const std::string &sql, bool persistent) : db_(db) {
  int rc = sqlite3_prepare_v3(db, sql.c_str(), static_cast<int>(sql.size()),
                              persistent ? SQLITE_PREPARE_PERSISTENT : 0, &stmt_, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = sqlite3_errmsg(db);
    sqlite3_finalize(stmt_);
    stmt_ = nullptr;
    throw Error(rc, message);
  }
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement::Statement(Statement &&other) noexcept : db_(other.db_), stmt_(other.stmt_) {
  other.stmt_ = nullptr;
}

Statement &Statement::operator=(Statement &&other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
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
