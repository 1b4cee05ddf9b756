#include "cli/client_database.h"

#include <sys/stat.h>

#include <sstream>
#include <vector>

#include "base/sql.h"
#include "zumero_register.h"

namespace zumero::cli {

ClientDatabase::ClientDatabase(const std::string &path, bool must_exist) {
  struct stat info;
  if (must_exist && stat(path.c_str(), &info) != 0)
    throw Error(SQLITE_CANTOPEN, "zumero:invalid_argument (no database file " + path + ")");
  int flags = SQLITE_OPEN_READWRITE | (must_exist ? 0 : SQLITE_OPEN_CREATE);
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error(rc, "zumero:invalid_argument (cannot open " + path + ": " + message + ")");
  }
  sqlite3_busy_timeout(db_, 10000);
  rc = zumero_register(db_);
  if (rc != SQLITE_OK) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error(rc, "zumero:invalid_argument (cannot register zumero on " + path + ")");
  }
  // A file that is not a database fails here rather than halfway through a command.
  query_int(db_, "SELECT count(*) FROM sqlite_master");
}

ClientDatabase::~ClientDatabase() {
  if (db_) sqlite3_close_v2(db_);
}

bool ClientDatabase::has_table(const std::string &name) {
  Statement find(db_, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1");
  find.bind(1, name);
  return find.step();
}

std::optional<std::string> ClientDatabase::sync_value(const std::string &key) {
  if (!has_table("t$sync")) return std::nullopt;
  Statement select(db_, "SELECT value FROM \"t$sync\" WHERE key = ?1");
  select.bind(1, key);
  if (!select.step() || select.is_null(0)) return std::nullopt;
  return select.column_text(0);
}

std::string zumero_sync_call(sqlite3 *db, const std::string &url, const std::string &dbfile,
                             const std::optional<ResolvedCredentials> &credentials) {
  Statement sync(db, credentials ? "SELECT zumero_sync('main', ?1, ?2, ?3, ?4, ?5)" : "SELECT zumero_sync('main', ?1, ?2)");
  sync.bind(1, url).bind(2, dbfile);
  if (credentials) sync.bind(3, credentials->scheme).bind(4, credentials->user).bind(5, credentials->password);
  if (!sync.step()) throw Error(SQLITE_ERROR, "zumero:http_other");
  return sync.column_text(0);
}

SyncResult parse_sync_result(const std::string &text) {
  std::vector<std::int64_t> fields;
  std::stringstream stream(text);
  std::string field;
  while (std::getline(stream, field, ';')) fields.push_back(std::stoll(field));
  fields.resize(8, 0);
  return SyncResult{fields[0], fields[1], fields[2], fields[3], fields[4], fields[5], fields[6], fields[7]};
}

std::string display_value(sqlite3_stmt *statement, int column) {
  switch (sqlite3_column_type(statement, column)) {
    case SQLITE_NULL: return "NULL";
    case SQLITE_BLOB: {
      return "x'" + hex_bytes(sqlite3_column_blob(statement, column), sqlite3_column_bytes(statement, column)) + "'";
    }
    default: {
      const unsigned char *text = sqlite3_column_text(statement, column);
      return text ? std::string(reinterpret_cast<const char *>(text), sqlite3_column_bytes(statement, column)) : "";
    }
  }
}

}  // namespace zumero::cli
