#include "server/dbfile_store.h"

#include <zumero_register.h>

#include "base/catalog.h"
#include "base/sql.h"

namespace zumero::server {
namespace {

std::string random_token() {
  unsigned char bytes[8];
  sqlite3_randomness(sizeof bytes, bytes);
  static const char digits[] = "0123456789abcdef";
  std::string token;
  for (unsigned char b : bytes) {
    token += digits[b >> 4];
    token += digits[b & 15];
  }
  return token;
}

}  // namespace

Connection::Connection(const std::filesystem::path &path, bool create, bool wal) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  try {
    if (rc != SQLITE_OK) {
      if (rc == SQLITE_CANTOPEN && !create) fail("no_such_dbfile", rc);
      throw Error(rc, db_ ? sqlite3_errmsg(db_) : "cannot open dbfile");
    }
    sqlite3_busy_timeout(db_, 30000);
    rc = zumero_register(db_);
    if (rc != SQLITE_OK) throw Error(rc, "cannot register zumero on a dbfile");
    exec(db_, wal ? "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;"
                  : "PRAGMA journal_mode = DELETE; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;");
    keep_statements(db_);  // every request runs much the same statements
  } catch (...) {
    drop_kept_statements(db_);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw;
  }
}

Connection::~Connection() {
  drop_kept_statements(db_);
  sqlite3_close_v2(db_);
}

std::mutex &DbfileStore::writer_lock(const std::string &dbfile) {
  std::lock_guard<std::mutex> guard(locks_mutex_);
  auto &lock = locks_[dbfile];
  if (!lock) lock = std::make_unique<std::mutex>();
  return *lock;
}

PooledConnection::~PooledConnection() {
  // A connection left inside a transaction (an exception on the way) is not reused.
  if (connection_ && sqlite3_get_autocommit(connection_->get()))
    store_.give_back(dbfile_, generation_, std::move(connection_));
}

PooledConnection DbfileStore::acquire(const std::string &dbfile, bool create) {
  std::uint64_t generation = 0;
  {
    std::lock_guard<std::mutex> guard(pool_mutex_);
    Pool &pool = pools_[dbfile];
    generation = pool.generation;
    if (!pool.idle.empty()) {
      std::unique_ptr<Connection> connection = std::move(pool.idle.back());
      pool.idle.pop_back();
      return PooledConnection(*this, dbfile, generation, std::move(connection));
    }
  }
  return PooledConnection(*this, dbfile, generation, std::make_unique<Connection>(path_of(dbfile), create));
}

void DbfileStore::give_back(const std::string &dbfile, std::uint64_t generation,
                            std::unique_ptr<Connection> connection) {
  std::lock_guard<std::mutex> guard(pool_mutex_);
  Pool &pool = pools_[dbfile];
  // A connection to a discarded file would write into a file nobody can see.
  if (pool.generation != generation) return;
  if (pool.idle.size() < 8) pool.idle.push_back(std::move(connection));
}

DbfileStore::VersionSnapshot DbfileStore::known_version(const std::string &dbfile) {
  std::lock_guard<std::mutex> guard(versions_mutex_);
  auto found = versions_.find(dbfile);
  return found == versions_.end() ? VersionSnapshot{} : found->second;
}

void DbfileStore::note_committed_version(const std::string &dbfile, std::int64_t version, const std::string &token) {
  std::lock_guard<std::mutex> guard(versions_mutex_);
  VersionSnapshot &snapshot = versions_[dbfile];
  ++snapshot.epoch;
  snapshot.known = KnownVersion{version, token};
}

void DbfileStore::note_read_version(const std::string &dbfile, std::uint64_t epoch, std::int64_t version,
                                    const std::string &token) {
  std::lock_guard<std::mutex> guard(versions_mutex_);
  VersionSnapshot &snapshot = versions_[dbfile];
  if (snapshot.epoch == epoch) snapshot.known = KnownVersion{version, token};
}

// The file is replaced or gone: what was known about it no longer holds.
void DbfileStore::forget_version(const std::string &dbfile) {
  std::lock_guard<std::mutex> guard(versions_mutex_);
  VersionSnapshot &snapshot = versions_[dbfile];
  ++snapshot.epoch;
  snapshot.known.reset();
}

void DbfileStore::discard(const std::string &dbfile) {
  forget_version(dbfile);
  {
    std::lock_guard<std::mutex> guard(pool_mutex_);
    Pool &pool = pools_[dbfile];
    pool.idle.clear();
    ++pool.generation;
  }
  remove_files(path_of(dbfile));
}

void DbfileStore::remove_files(const std::filesystem::path &file) {
  std::error_code ignored;
  for (const char *suffix : {"", "-wal", "-shm", "-journal"}) std::filesystem::remove(file.string() + suffix, ignored);
}

void DbfileStore::install(const std::filesystem::path &draft, const std::string &dbfile) {
  forget_version(dbfile);
  {
    std::lock_guard<std::mutex> guard(pool_mutex_);
    Pool &pool = pools_[dbfile];
    pool.idle.clear();
    ++pool.generation;
  }
  std::filesystem::rename(draft, path_of(dbfile));
}

void ensure_server_tables(sqlite3 *db) {
  ensure_housekeeping(db, "main");
  // One statement per exec: on a connection that keeps its statements, each is
  // prepared once.
  exec(db, "CREATE TABLE IF NOT EXISTS \"t$clients\" (client TEXT NOT NULL, pkg INTEGER NOT NULL, "
           "digest TEXT NOT NULL, version INTEGER NOT NULL, reply BLOB NOT NULL, PRIMARY KEY (client, pkg))");
  exec(db, "CREATE TABLE IF NOT EXISTS \"t$versions\" (version INTEGER PRIMARY KEY, token TEXT NOT NULL)");
  exec(db, "CREATE TABLE IF NOT EXISTS \"t$restored\" (tbl TEXT NOT NULL COLLATE NOCASE, recid INTEGER NOT NULL, "
           "origin INTEGER NOT NULL, PRIMARY KEY (tbl, recid))");
}

std::int64_t current_version(sqlite3 *db) {
  if (!has_housekeeping(db, "main")) return 0;
  return query_int(db, "SELECT value FROM \"t$sync\" WHERE key = 'version'", 0);
}

std::string version_token(sqlite3 *db, std::int64_t version) {
  if (version <= 0) return std::string();
  Statement exists(db, "SELECT 1 FROM sqlite_master WHERE name = 't$versions'");
  if (!exists.step()) return std::string();
  Statement select(db, "SELECT token FROM \"t$versions\" WHERE version = ?1");
  select.bind(1, version);
  return select.step() ? select.column_text(0) : std::string();
}

std::string advance_version(sqlite3 *db, std::int64_t version) {
  std::string token = random_token();
  Statement record(db, "INSERT OR REPLACE INTO \"t$versions\" (version, token) VALUES (?1, ?2)");
  record.bind(1, version).bind(2, token).run();
  Statement update(db, "INSERT OR REPLACE INTO \"t$sync\" (key, value) VALUES ('version', ?1)");
  update.bind(1, version).run();
  return token;
}

}  // namespace zumero::server
