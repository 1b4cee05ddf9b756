#include "server/dbfile_store.h"

#include <zumero_register.h>

#include "base/catalog.h"
#include "base/sql.h"

namespace zumero::server {

Connection::Connection(const std::filesystem::path &path, bool create) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : "cannot open dbfile";
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error(rc, message);
  }
  sqlite3_busy_timeout(db_, 30000);
  zumero_register(db_);
  exec(db_, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;");
}

Connection::~Connection() { sqlite3_close_v2(db_); }

std::mutex &DbfileStore::writer_lock(const std::string &dbfile) {
  std::lock_guard<std::mutex> guard(locks_mutex_);
  auto &lock = locks_[dbfile];
  if (!lock) lock = std::make_unique<std::mutex>();
  return *lock;
}

PooledConnection::~PooledConnection() {
  // A connection left inside a transaction (an exception on the way) is not reused.
  if (connection_ && sqlite3_get_autocommit(connection_->get())) store_.give_back(dbfile_, std::move(connection_));
}

PooledConnection DbfileStore::acquire(const std::string &dbfile, bool create) {
  {
    std::lock_guard<std::mutex> guard(pool_mutex_);
    auto &idle = idle_[dbfile];
    if (!idle.empty()) {
      std::unique_ptr<Connection> connection = std::move(idle.back());
      idle.pop_back();
      return PooledConnection(*this, dbfile, std::move(connection));
    }
  }
  return PooledConnection(*this, dbfile, std::make_unique<Connection>(path_of(dbfile), create));
}

void DbfileStore::give_back(const std::string &dbfile, std::unique_ptr<Connection> connection) {
  std::lock_guard<std::mutex> guard(pool_mutex_);
  auto &idle = idle_[dbfile];
  if (idle.size() < 8) idle.push_back(std::move(connection));
}

void DbfileStore::discard(const std::string &dbfile) {
  {
    std::lock_guard<std::mutex> guard(pool_mutex_);
    idle_.erase(dbfile);
  }
  std::error_code ignored;
  for (const char *suffix : {"", "-wal", "-shm", "-journal"})
    std::filesystem::remove(path_of(dbfile).string() + suffix, ignored);
}

void ensure_server_tables(sqlite3 *db) {
  ensure_housekeeping(db, "main");
  exec(db, "CREATE TABLE IF NOT EXISTS \"t$clients\" (client TEXT PRIMARY KEY, pkg INTEGER NOT NULL, "
           "version INTEGER NOT NULL, reply BLOB NOT NULL)");
}

std::int64_t current_version(sqlite3 *db) {
  if (!has_housekeeping(db, "main")) return 0;
  return query_int(db, "SELECT value FROM \"t$sync\" WHERE key = 'version'", 0);
}

void set_current_version(sqlite3 *db, std::int64_t version) {
  Statement update(db, "INSERT OR REPLACE INTO \"t$sync\" (key, value) VALUES ('version', ?1)");
  update.bind(1, version).run();
}

}  // namespace zumero::server
