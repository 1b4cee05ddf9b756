#include "support.h"

#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#ifndef ZUMERO_EXTENSION_PATH
#error "ZUMERO_EXTENSION_PATH must be defined by the build"
#endif

namespace zt {

namespace fs = std::filesystem;

std::string extension_path() { return ZUMERO_EXTENSION_PATH; }

// One scratch directory per test process, removed with everything in it at exit.
static fs::path &scratch_path() {
  static fs::path dir;
  return dir;
}

static void remove_scratch_dir() {
  std::error_code ec;
  if (!scratch_path().empty()) fs::remove_all(scratch_path(), ec);
}

static fs::path scratch_dir() {
  if (scratch_path().empty()) {
    fs::path p = fs::temp_directory_path() / ("zumero-tests-" + std::to_string(::getpid()));
    fs::create_directories(p);
    scratch_path() = p;
    std::atexit(remove_scratch_dir);
  }
  return scratch_path();
}

std::string fresh_db_path() {
  static std::atomic<int> counter{0};
  fs::path p = scratch_dir() / ("db" + std::to_string(++counter) + ".sqlite");
  std::error_code ec;
  fs::remove(p, ec);
  return p.string();
}

static void remove_db_files(const std::string &path) {
  std::error_code ec;
  for (const char *suffix : {"", "-journal", "-wal", "-shm"}) fs::remove(path + suffix, ec);
}

void load_extension(sqlite3 *db) {
  REQUIRE(sqlite3_enable_load_extension(db, 1) == SQLITE_OK);
  char *err = nullptr;
  int rc = sqlite3_load_extension(db, extension_path().c_str(), nullptr, &err);
  std::string message = err ? err : "";
  sqlite3_free(err);
  INFO("loading " << extension_path() << ": " << message);
  REQUIRE(rc == SQLITE_OK);
}

Db::Db() : path_(fresh_db_path()), load_extension_(true), remove_on_close_(true) { open(true); }

Db::Db(const std::string &path, bool load_ext, bool remove_on_close)
    : path_(path), load_extension_(load_ext), remove_on_close_(remove_on_close) {
  open(load_ext);
}

Db::~Db() {
  close();
  if (remove_on_close_) remove_db_files(path_);
}

void Db::open(bool load_ext) {
  int rc = sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  INFO("opening " << path_);
  REQUIRE(rc == SQLITE_OK);
  sqlite3_extended_result_codes(db_, 1);
  // Durability is irrelevant for the tests; this keeps them fast.
  REQUIRE(sqlite3_exec(db_, "PRAGMA synchronous=OFF", nullptr, nullptr, nullptr) == SQLITE_OK);
  if (load_ext) load_extension(db_);
}

void Db::close() {
  if (db_) {
    sqlite3_close_v2(db_);
    db_ = nullptr;
  }
}

void Db::reopen() {
  close();
  open(load_extension_);
}

Outcome Db::attempt(const std::string &sql) {
  Outcome out;
  const char *tail = sql.c_str();
  while (tail && *tail) {
    sqlite3_stmt *stmt = nullptr;
    const char *next = nullptr;
    int rc = sqlite3_prepare_v2(db_, tail, -1, &stmt, &next);
    if (rc != SQLITE_OK) {
      out.rc = rc & 0xff;
      out.extended = sqlite3_extended_errcode(db_);
      out.message = sqlite3_errmsg(db_);
      out.changes = sqlite3_changes(db_);
      out.autocommit = sqlite3_get_autocommit(db_) != 0;
      return out;
    }
    tail = next;
    if (!stmt) continue;  // whitespace or comment
    do {
      rc = sqlite3_step(stmt);
    } while (rc == SQLITE_ROW);
    if (rc != SQLITE_DONE) {
      out.rc = rc & 0xff;
      out.extended = sqlite3_extended_errcode(db_);
      out.message = sqlite3_errmsg(db_);
      out.changes = sqlite3_changes(db_);
      out.autocommit = sqlite3_get_autocommit(db_) != 0;
      sqlite3_finalize(stmt);
      return out;
    }
    sqlite3_finalize(stmt);
  }
  out.changes = sqlite3_changes(db_);
  out.autocommit = sqlite3_get_autocommit(db_) != 0;
  return out;
}

void Db::exec(const std::string &sql) {
  Outcome out = attempt(sql);
  INFO("SQL: " << sql);
  INFO("error: " << out.message << " (code " << out.extended << ")");
  REQUIRE(out.rc == SQLITE_OK);
}

Outcome Db::expect_failure(const std::string &sql) {
  Outcome out = attempt(sql);
  INFO("SQL expected to fail: " << sql);
  REQUIRE(out.rc != SQLITE_OK);
  return out;
}

Outcome Db::expect_error(const std::string &sql, const std::string &exact_message) {
  Outcome out = attempt(sql);
  INFO("SQL expected to fail: " << sql);
  REQUIRE(out.rc != SQLITE_OK);
  CHECK(out.message == exact_message);
  return out;
}

Outcome Db::expect_error_containing(const std::string &sql, const std::string &fragment) {
  Outcome out = attempt(sql);
  INFO("SQL expected to fail: " << sql);
  REQUIRE(out.rc != SQLITE_OK);
  INFO("message: " << out.message);
  CHECK(contains(out.message, fragment));
  return out;
}

static std::string hex_of(const void *data, int size) {
  static const char digits[] = "0123456789ABCDEF";
  std::string out;
  const unsigned char *p = static_cast<const unsigned char *>(data);
  for (int i = 0; i < size; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
  return out;
}

static std::string render(sqlite3_stmt *stmt, int i, bool typed) {
  switch (sqlite3_column_type(stmt, i)) {
    case SQLITE_NULL:
      return "NULL";
    case SQLITE_INTEGER: {
      std::string v = std::to_string(sqlite3_column_int64(stmt, i));
      return typed ? "i:" + v : v;
    }
    case SQLITE_FLOAT: {
      std::string v = reinterpret_cast<const char *>(sqlite3_column_text(stmt, i));
      return typed ? "r:" + v : v;
    }
    case SQLITE_BLOB: {
      const void *data = sqlite3_column_blob(stmt, i);
      int size = sqlite3_column_bytes(stmt, i);
      return (typed ? "b:" : "x'") + hex_of(data, size) + (typed ? "" : "'");
    }
    default: {
      const unsigned char *t = sqlite3_column_text(stmt, i);
      std::string v(reinterpret_cast<const char *>(t), sqlite3_column_bytes(stmt, i));
      return typed ? "t:" + v : v;
    }
  }
}

Rows Db::query(const std::string &sql, bool typed) {
  Rows rows;
  sqlite3_stmt *stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr);
  INFO("SQL: " << sql);
  INFO("prepare error: " << sqlite3_errmsg(db_));
  REQUIRE(rc == SQLITE_OK);
  REQUIRE(stmt != nullptr);
  int n = sqlite3_column_count(stmt);
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    Row row;
    for (int i = 0; i < n; ++i) row.push_back(render(stmt, i, typed));
    rows.push_back(std::move(row));
  }
  std::string message = sqlite3_errmsg(db_);
  sqlite3_finalize(stmt);
  INFO("step error: " << message);
  REQUIRE(rc == SQLITE_DONE);
  return rows;
}

Rows Db::rows(const std::string &sql) { return query(sql, false); }
Rows Db::typed_rows(const std::string &sql) { return query(sql, true); }

std::vector<std::string> Db::column(const std::string &sql) {
  std::vector<std::string> out;
  for (auto &row : query(sql, false)) out.push_back(row.empty() ? "" : row[0]);
  return out;
}

std::string Db::text(const std::string &sql) {
  Rows r = query(sql, false);
  INFO("SQL: " << sql);
  REQUIRE(!r.empty());
  REQUIRE(!r[0].empty());
  return r[0][0];
}

long long Db::integer(const std::string &sql) {
  sqlite3_stmt *stmt = nullptr;
  INFO("SQL: " << sql);
  INFO("error: " << sqlite3_errmsg(db_));
  REQUIRE(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
  int rc = sqlite3_step(stmt);
  long long v = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
  std::string message = sqlite3_errmsg(db_);
  sqlite3_finalize(stmt);
  INFO("step: " << message);
  REQUIRE(rc == SQLITE_ROW);
  return v;
}

bool Db::is_null(const std::string &sql) { return text(sql) == "NULL"; }

std::vector<std::string> Db::plan(const std::string &sql) {
  std::vector<std::string> out;
  for (auto &row : query("EXPLAIN QUERY PLAN " + sql, false)) out.push_back(row.at(3));
  return out;
}

bool Db::object_exists(const std::string &name) {
  sqlite3_stmt *stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db_, "SELECT count(*) FROM sqlite_master WHERE name = ?1", -1, &stmt,
                             nullptr) == SQLITE_OK);
  sqlite3_bind_text(stmt, 1, name.c_str(), -1, SQLITE_TRANSIENT);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  bool exists = sqlite3_column_int(stmt, 0) > 0;
  sqlite3_finalize(stmt);
  return exists;
}

long long Db::count(const std::string &table) { return integer("SELECT count(*) FROM " + ident(table)); }

Rows Db::dump(const std::string &table) {
  return typed_rows("SELECT rowid, * FROM " + ident(table) + " ORDER BY rowid");
}

std::vector<std::string> Db::column_names(const std::string &table) {
  return column("SELECT name FROM pragma_table_info('" + replace_all(table, "'", "''") + "')");
}

std::string ident(const std::string &name) { return "\"" + replace_all(name, "\"", "\"\"") + "\""; }

std::string replace_all(std::string text, const std::string &from, const std::string &to) {
  if (from.empty()) return text;
  size_t pos = 0;
  while ((pos = text.find(from, pos)) != std::string::npos) {
    text.replace(pos, from.size(), to);
    pos += to.size();
  }
  return text;
}

bool contains(const std::string &haystack, const std::string &needle) {
  return haystack.find(needle) != std::string::npos;
}

bool starts_with(const std::string &text, const std::string &prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

void check_consistent(Db &db, const std::string &table) {
  INFO("table " << table << " vs z$" << table);
  CHECK(db.count(table) == db.count("z$" + table));
  CHECK(db.dump(table) == db.dump("z$" + table));
  CHECK(db.text("PRAGMA integrity_check") == "ok");
}

Mirror::Mirror(Db &db, const std::string &definition, std::string regular, std::string zumero)
    : db_(db), regular_(std::move(regular)), zumero_(std::move(zumero)) {
  db_.exec("CREATE TABLE " + ident(regular_) + " (" + definition + ")");
  db_.exec("CREATE VIRTUAL TABLE " + ident(zumero_) + " USING zumero (" + definition + ")");
}

// sqlite3_changes() is only meaningful right after INSERT, UPDATE, DELETE or REPLACE.
static bool counts_changes(const std::string &sql) {
  size_t i = sql.find_first_not_of(" \t\n");
  std::string head;
  for (; i < sql.size() && std::isalpha(static_cast<unsigned char>(sql[i])); ++i)
    head += static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i])));
  return head == "INSERT" || head == "UPDATE" || head == "DELETE" || head == "REPLACE";
}

Outcome Mirror::run(const std::string &sql_template, bool compare_changes) {
  Outcome r = db_.attempt(replace_all(sql_template, "%T", ident(regular_)));
  Outcome z = db_.attempt(replace_all(sql_template, "%T", ident(zumero_)));
  INFO("statement: " << sql_template);
  INFO("regular table: rc=" << r.extended << " changes=" << r.changes << " " << r.message);
  INFO("zumero table:  rc=" << z.extended << " changes=" << z.changes << " " << z.message);
  CHECK(z.rc == r.rc);
  CHECK(z.autocommit == r.autocommit);
  if (compare_changes && counts_changes(sql_template) && r.ok() && z.ok()) CHECK(z.changes == r.changes);
  return z;
}

void Mirror::exec(const std::string &sql_template) {
  Outcome z = run(sql_template);
  INFO("statement: " << sql_template << " -> " << z.message);
  REQUIRE(z.ok());
}

std::vector<Outcome> Mirror::script(const std::vector<std::string> &sql_templates, bool compare_changes) {
  auto run_all = [&](const std::string &table) {
    std::vector<Outcome> outcomes;
    for (const auto &t : sql_templates) outcomes.push_back(db_.attempt(replace_all(t, "%T", ident(table))));
    if (!sqlite3_get_autocommit(db_.handle())) db_.attempt("ROLLBACK");
    return outcomes;
  };
  std::vector<Outcome> r = run_all(regular_);
  std::vector<Outcome> z = run_all(zumero_);
  for (size_t i = 0; i < sql_templates.size(); ++i) {
    INFO("statement " << i + 1 << ": " << sql_templates[i]);
    INFO("regular table: rc=" << r[i].extended << " changes=" << r[i].changes << " " << r[i].message);
    INFO("zumero table:  rc=" << z[i].extended << " changes=" << z[i].changes << " " << z[i].message);
    CHECK(z[i].rc == r[i].rc);
    CHECK(z[i].autocommit == r[i].autocommit);
    if (compare_changes && counts_changes(sql_templates[i]) && r[i].ok() && z[i].ok())
      CHECK(z[i].changes == r[i].changes);
  }
  return z;
}

void Mirror::check_same_rows() {
  CHECK(db_.dump(zumero_) == db_.dump(regular_));
  check_consistent(db_, zumero_);
}

}  // namespace zt
