#include "sync_support.h"

#include <sstream>

namespace zumero::synctest {

std::string extension_path() { return ZUMERO_EXTENSION_PATH; }

std::string sql_quote(const std::string &text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') quoted += '\'';
    quoted += c;
  }
  return quoted + "'";
}

std::string to_string(const Rows &rows) {
  std::ostringstream out;
  for (const Row &row : rows) {
    out << "(";
    for (std::size_t i = 0; i < row.size(); ++i) out << (i ? ", " : "") << row[i];
    out << ")\n";
  }
  return out.str();
}

SyncStats parse_sync_result(const std::string &text) {
  SyncStats stats;
  stats.text = text;
  std::vector<std::int64_t> fields;
  std::stringstream in(text);
  std::string field;
  while (std::getline(in, field, ';')) {
    try {
      fields.push_back(std::stoll(field));
    } catch (const std::exception &) {
      fields.push_back(-1);
    }
  }
  stats.field_count = fields.size();
  std::int64_t *targets[] = {&stats.partial,       &stats.quarantine,          &stats.bytes_up_full,
                             &stats.bytes_down_full, &stats.bytes_up_compressed, &stats.bytes_down_compressed,
                             &stats.elapsed_ms_net,  &stats.elapsed_ms_total};
  for (std::size_t i = 0; i < fields.size() && i < 8; ++i) *targets[i] = fields[i];
  return stats;
}

Client::Client(std::filesystem::path file) : file_(std::move(file)) { open(); }

Client::~Client() {
  if (db_) sqlite3_close_v2(db_);
}

void Client::open() {
  int rc = sqlite3_open(file_.c_str(), &db_);
  if (rc != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : "cannot open";
    sqlite3_close(db_);
    db_ = nullptr;
    throw SqlError(rc, "open " + file_.string() + ": " + message);
  }
  sqlite3_busy_timeout(db_, 30000);
  sqlite3_enable_load_extension(db_, 1);
  char *error = nullptr;
  rc = sqlite3_load_extension(db_, extension_path().c_str(), nullptr, &error);
  if (rc != SQLITE_OK) {
    std::string message = error ? error : "load_extension failed";
    sqlite3_free(error);
    throw SqlError(rc, message);
  }
}

void Client::reopen() {
  sqlite3_close_v2(db_);
  db_ = nullptr;
  open();
}

void Client::exec(const std::string &sql) {
  char *error = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    std::string message = error ? error : sqlite3_errmsg(db_);
    sqlite3_free(error);
    throw SqlError(rc, message);
  }
}

Rows Client::rows(const std::string &sql) {
  sqlite3_stmt *statement = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr);
  if (rc != SQLITE_OK) throw SqlError(rc, sqlite3_errmsg(db_));
  Rows result;
  while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
    Row row;
    for (int i = 0; i < sqlite3_column_count(statement); ++i) {
      switch (sqlite3_column_type(statement, i)) {
        case SQLITE_NULL: row.push_back("<null>"); break;
        case SQLITE_BLOB: {
          const auto *bytes = static_cast<const unsigned char *>(sqlite3_column_blob(statement, i));
          int size = sqlite3_column_bytes(statement, i);
          static const char digits[] = "0123456789abcdef";
          std::string hex = "x'";
          for (int k = 0; k < size; ++k) {
            hex += digits[bytes[k] >> 4];
            hex += digits[bytes[k] & 15];
          }
          row.push_back(hex + "'");
          break;
        }
        default: {
          const unsigned char *value = sqlite3_column_text(statement, i);
          row.emplace_back(value ? reinterpret_cast<const char *>(value) : "");
        }
      }
    }
    result.push_back(std::move(row));
  }
  if (rc != SQLITE_DONE) {
    std::string message = sqlite3_errmsg(db_);
    sqlite3_finalize(statement);
    throw SqlError(rc, message);
  }
  sqlite3_finalize(statement);
  return result;
}

std::string Client::text(const std::string &sql) {
  Rows result = rows(sql);
  if (result.empty() || result[0].empty()) return "<none>";
  return result[0][0];
}

std::int64_t Client::integer(const std::string &sql) {
  std::string value = text(sql);
  try {
    return std::stoll(value);
  } catch (const std::exception &) {
    throw SqlError(SQLITE_MISMATCH, "not an integer: " + value + " from " + sql);
  }
}

std::string Client::error_of(const std::string &sql) {
  try {
    rows(sql);
    return "";
  } catch (const SqlError &error) {
    return error.what();
  }
}

SyncStats Client::sync(const std::string &url, const std::string &dbfile) {
  return parse_sync_result(text("SELECT zumero_sync('main', " + sql_quote(url) + ", " + sql_quote(dbfile) + ")"));
}

SyncStats Client::sync_complete(const std::string &url, const std::string &dbfile, int max_calls) {
  SyncStats stats;
  for (int i = 0; i < max_calls; ++i) {
    stats = sync(url, dbfile);
    if (stats.partial == 0) return stats;
  }
  throw SqlError(SQLITE_ERROR, "zumero_sync still partial after " + std::to_string(max_calls) + " calls");
}

std::string Client::sync_error(const std::string &url, const std::string &dbfile) {
  try {
    sync(url, dbfile);
    return "";
  } catch (const SqlError &error) {
    return error.what();
  }
}

Credentials Credentials::internal(const std::string &dbfile, const std::string &user, const std::string &password) {
  return Credentials{"{\"scheme_type\":\"internal\",\"dbfile\":\"" + dbfile + "\"}", user, password};
}

SyncStats Client::sync(const std::string &url, const std::string &dbfile, const Credentials &credentials) {
  return parse_sync_result(text("SELECT zumero_sync('main', " + sql_quote(url) + ", " + sql_quote(dbfile) + ", " +
                                sql_quote(credentials.scheme) + ", " + sql_quote(credentials.user) + ", " +
                                sql_quote(credentials.password) + ")"));
}

SyncStats Client::sync_complete(const std::string &url, const std::string &dbfile, const Credentials &credentials) {
  SyncStats stats;
  for (int i = 0; i < 1000; ++i) {
    stats = sync(url, dbfile, credentials);
    if (stats.partial == 0) return stats;
  }
  throw SqlError(SQLITE_ERROR, "zumero_sync still partial after 1000 calls");
}

std::string Client::sync_error(const std::string &url, const std::string &dbfile, const Credentials &credentials) {
  try {
    sync(url, dbfile, credentials);
    return "";
  } catch (const SqlError &error) {
    return error.what();
  }
}

Rows Client::dump(const std::string &table) { return rows("SELECT rowid, * FROM \"" + table + "\" ORDER BY rowid"); }

}  // namespace zumero::synctest
