#include "server/push_staging.h"

#include <ctime>

#include "base/sql.h"
#include "server/request_header.h"

namespace zumero::server {
namespace {
constexpr std::int64_t kExpirySeconds = 3600;
}

PushStaging::PushStaging(std::filesystem::path file, std::size_t max_bytes_per_push) : max_bytes_(max_bytes_per_push) {
  int rc = sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                           nullptr);
  try {
    if (rc != SQLITE_OK) throw Error(rc, "cannot open the push staging file");
    sqlite3_busy_timeout(db_, 30000);
    exec(db_, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
              "CREATE TABLE IF NOT EXISTS parts (dbfile TEXT NOT NULL, client TEXT NOT NULL, pkg INTEGER NOT NULL, "
              "part INTEGER NOT NULL, parts INTEGER NOT NULL, digest TEXT NOT NULL, body BLOB NOT NULL, "
              "unix_time INTEGER NOT NULL, PRIMARY KEY (dbfile, client, pkg, part))");
  } catch (...) {
    sqlite3_close_v2(db_);
    throw;
  }
}

PushStaging::~PushStaging() { sqlite3_close_v2(db_); }

void PushStaging::expire() {
  Statement remove(db_, "DELETE FROM parts WHERE unix_time < ?1");
  remove.bind(1, static_cast<std::int64_t>(std::time(nullptr)) - kExpirySeconds).run();
}

void PushStaging::put(const PartKey &key, std::int64_t part, const std::string &package) {
  std::lock_guard<std::mutex> lock(mutex_);
  Transaction transaction(db_, "BEGIN IMMEDIATE");
  expire();
  Statement stale(db_, "DELETE FROM parts WHERE dbfile = ?1 AND client = ?2 AND pkg = ?3 AND (parts <> ?4 OR digest <> ?5)");
  stale.bind(1, key.dbfile).bind(2, key.client).bind(3, key.pkg).bind(4, key.parts).bind(5, key.digest).run();
  Statement size(db_, "SELECT coalesce(sum(length(body)), 0) FROM parts WHERE dbfile = ?1 AND client = ?2 AND pkg = ?3 "
                      "AND part <> ?4");
  size.bind(1, key.dbfile).bind(2, key.client).bind(3, key.pkg).bind(4, part);
  std::int64_t staged = size.step() ? size.column_int(0) : 0;
  if (static_cast<std::size_t>(staged) + package.size() > max_bytes_)
    throw Refusal(413, "payload_too_large", "the push is larger than the server accepts",
                  {{"max_push_bytes", max_bytes_}});
  // All unfinished pushes together are bounded too, so clients that never send their
  // last part cannot fill the disk.
  Statement total(db_, "SELECT coalesce(sum(length(body)), 0) FROM parts");
  std::int64_t all = total.step() ? total.column_int(0) : 0;
  if (static_cast<std::size_t>(all) + package.size() > kStagedPushesFactor * max_bytes_)
    throw Refusal(503, "server_busy", "too many unfinished pushes are waiting for their last part; try again later");
  Statement insert(db_, "INSERT OR REPLACE INTO parts (dbfile, client, pkg, part, parts, digest, body, unix_time) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  insert.bind(1, key.dbfile).bind(2, key.client).bind(3, key.pkg).bind(4, part).bind(5, key.parts).bind(6, key.digest);
  insert.bind_blob(7, package.data(), package.size()).bind(8, static_cast<std::int64_t>(std::time(nullptr))).run();
  transaction.commit();
}

std::optional<std::string> PushStaging::get(const PartKey &key, std::int64_t part) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement select(db_, "SELECT body FROM parts WHERE dbfile = ?1 AND client = ?2 AND pkg = ?3 AND part = ?4 "
                        "AND parts = ?5 AND digest = ?6");
  select.bind(1, key.dbfile).bind(2, key.client).bind(3, key.pkg).bind(4, part).bind(5, key.parts).bind(6, key.digest);
  if (!select.step()) return std::nullopt;
  const void *data = sqlite3_column_blob(select.get(), 0);
  return std::string(static_cast<const char *>(data ? data : ""), sqlite3_column_bytes(select.get(), 0));
}

void PushStaging::forget(const PartKey &key) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement remove(db_, "DELETE FROM parts WHERE dbfile = ?1 AND client = ?2 AND pkg = ?3");
  remove.bind(1, key.dbfile).bind(2, key.client).bind(3, key.pkg).run();
}

}  // namespace zumero::server
