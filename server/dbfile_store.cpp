#include "server/dbfile_store.h"

#include <zumero_register.h>

#include "base/catalog.h"
#include "base/sql.h"
#include "sync/protocol.h"

#include <algorithm>
#include <atomic>
#include <climits>

namespace zumero::server {
namespace {

std::string random_token() {
  unsigned char bytes[8];
  sqlite3_randomness(sizeof bytes, bytes);
  return hex_bytes(bytes, sizeof bytes);
}

std::atomic<int> value_limit{16 * 1024 * 1024};

void remove_files(const std::filesystem::path &file) {
  std::error_code ignored;
  for (const char *suffix : {"", "-wal", "-shm", "-journal"}) std::filesystem::remove(file.string() + suffix, ignored);
}

}  // namespace

void set_value_limit(std::size_t bytes) { value_limit = static_cast<int>(std::min<std::size_t>(bytes, INT_MAX)); }

Connection::Connection(const std::filesystem::path &path, bool create, bool wal) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  try {
    if (rc != SQLITE_OK) {
      if (rc == SQLITE_CANTOPEN && !create) fail("no_such_dbfile", rc);
      throw Error(rc, db_ ? sqlite3_errmsg(db_) : "cannot open dbfile");
    }
    sqlite3_busy_timeout(db_, 30000);
    sqlite3_limit(db_, SQLITE_LIMIT_LENGTH, value_limit.load());
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

std::vector<std::string> DbfileStore::list() const {
  std::vector<std::string> names;
  for (const auto &entry : std::filesystem::directory_iterator(data_dir_)) {
    std::string name = entry.path().stem().string();
    if (entry.path().extension() == ".db" && sync::valid_dbfile_name(name, false)) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
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

void DbfileStore::discard(const std::string &dbfile) {
  {
    std::lock_guard<std::mutex> guard(pool_mutex_);
    Pool &pool = pools_[dbfile];
    pool.idle.clear();
    ++pool.generation;
  }
  remove_files(path_of(dbfile));
}

std::filesystem::path DbfileStore::draft_path(const std::string &dbfile) const {
  return data_dir_ / (".draft-" + dbfile + ".db");
}

std::unique_ptr<Connection> DbfileStore::open_draft(const std::string &dbfile) {
  remove_files(draft_path(dbfile));
  return std::make_unique<Connection>(draft_path(dbfile), true, false);
}

void DbfileStore::publish_draft(const std::string &dbfile) {
  {
    std::lock_guard<std::mutex> guard(pool_mutex_);
    Pool &pool = pools_[dbfile];
    pool.idle.clear();
    ++pool.generation;
  }
  std::filesystem::rename(draft_path(dbfile), path_of(dbfile));
  remove_files(draft_path(dbfile));
}

void DbfileStore::drop_draft(const std::string &dbfile) { remove_files(draft_path(dbfile)); }

bool DbfileStore::create(const std::string &dbfile, const std::function<bool(sqlite3 *)> &build) {
  try {
    bool keep = false;
    {
      std::unique_ptr<Connection> draft = open_draft(dbfile);
      keep = build(draft->get());
    }
    if (keep) publish_draft(dbfile);
    else drop_draft(dbfile);
    return keep;
  } catch (...) {
    drop_draft(dbfile);
    throw;
  }
}

void copy_database_file(const std::filesystem::path &source, const std::filesystem::path &target) {
  sqlite3 *from = nullptr;
  sqlite3 *to = nullptr;
  struct Close {
    sqlite3 *&a, *&b;
    ~Close() {
      sqlite3_close_v2(a);
      sqlite3_close_v2(b);
    }
  } close{from, to};
  if (sqlite3_open_v2(source.c_str(), &from, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
    throw std::runtime_error("cannot open " + source.filename().string());
  sqlite3_busy_timeout(from, 10000);
  if (sqlite3_open_v2(target.c_str(), &to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK)
    throw std::runtime_error("cannot create " + target.string());
  sqlite3_backup *backup = sqlite3_backup_init(to, "main", from, "main");
  if (!backup) throw std::runtime_error(sqlite3_errmsg(to));
  // All pages in one step: one read transaction, so the copy is one version.
  int rc = sqlite3_backup_step(backup, -1);
  sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) throw std::runtime_error(std::string("backup failed: ") + sqlite3_errstr(rc));
  exec(to, "PRAGMA journal_mode = DELETE");
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

std::int64_t next_version(sqlite3 *db, const std::function<void(std::int64_t)> &change) {
  ensure_server_tables(db);
  std::int64_t version = current_version(db);
  if (version == INT64_MAX) fail("invalid_argument");
  change(version + 1);
  advance_version(db, version + 1);
  return version + 1;
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
