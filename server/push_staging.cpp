#include "server/push_staging.h"

#include <ctime>
#include <utility>

#include "base/sql.h"
#include "server/logging.h"
#include "server/pg_client.h"
#include "server/request_header.h"
#include "server/storage.h"

namespace zumero::server {
namespace {
constexpr std::int64_t kExpirySeconds = 3600;

using pg::Param;

// Runs `work` on a pooled connection; a PostgreSQL failure is a 503 for the client.
template <typename Work>
auto with_postgresql(pg::PgPool &pool, Work &&work) -> decltype(work(std::declval<pg::PgConnection &>())) {
  try {
    pg::PgPool::Lease connection = pool.lease();
    return work(*connection);
  } catch (const pg::PgError &failure) {
    throw StorageUnavailable(std::string("staging a push part: ") + failure.what());
  }
}

}  // namespace

PushStaging::PushStaging(std::filesystem::path file, std::size_t max_bytes_per_push, const std::string &pg_conninfo)
    : max_bytes_(max_bytes_per_push) {
  if (!pg_conninfo.empty()) {
    pool_ = std::make_unique<pg::PgPool>(pg_conninfo, 2);
    return;
  }
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

PushStaging::~PushStaging() {
  if (db_) sqlite3_close_v2(db_);
}

void PushStaging::expire() {
  Statement remove(db_, "DELETE FROM parts WHERE unix_time < ?1");
  remove.bind(1, static_cast<std::int64_t>(std::time(nullptr)) - kExpirySeconds).run();
}

// `staged`: what this push has staged besides the part; `all`: every staged part.
void PushStaging::check_limits(std::int64_t staged, std::int64_t all, std::size_t part_bytes) const {
  if (static_cast<std::size_t>(staged) + part_bytes > max_bytes_)
    throw Refusal(413, "payload_too_large", "the push is larger than the server accepts",
                  {{"max_push_bytes", max_bytes_}});
  if (static_cast<std::size_t>(all) + part_bytes > kStagedPushesFactor * max_bytes_)
    throw Refusal(503, "server_busy", "too many unfinished pushes are waiting for their last part; try again later");
}

void PushStaging::put(const PartKey &key, std::int64_t part, const std::string &package) {
  if (pool_) return put_in_postgresql(key, part, package);
  std::lock_guard<std::mutex> lock(mutex_);
  Transaction transaction(db_, "BEGIN IMMEDIATE");
  expire();
  Statement stale(db_, "DELETE FROM parts WHERE dbfile = ?1 AND client = ?2 AND pkg = ?3 AND (parts <> ?4 OR digest <> ?5)");
  stale.bind(1, key.dbfile).bind(2, key.client).bind(3, key.pkg).bind(4, key.parts).bind(5, key.digest).run();
  Statement size(db_, "SELECT coalesce(sum(length(body)), 0) FROM parts WHERE dbfile = ?1 AND client = ?2 AND pkg = ?3 "
                      "AND part <> ?4");
  size.bind(1, key.dbfile).bind(2, key.client).bind(3, key.pkg).bind(4, part);
  std::int64_t staged = size.step() ? size.column_int(0) : 0;
  // All unfinished pushes together are bounded too, so clients that never send their
  // last part cannot fill the disk.
  Statement total(db_, "SELECT coalesce(sum(length(body)), 0) FROM parts");
  std::int64_t all = total.step() ? total.column_int(0) : 0;
  check_limits(staged, all, package.size());
  Statement insert(db_, "INSERT OR REPLACE INTO parts (dbfile, client, pkg, part, parts, digest, body, unix_time) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  insert.bind(1, key.dbfile).bind(2, key.client).bind(3, key.pkg).bind(4, part).bind(5, key.parts).bind(6, key.digest);
  insert.bind_blob(7, package.data(), package.size()).bind(8, static_cast<std::int64_t>(std::time(nullptr))).run();
  transaction.commit();
}

std::optional<std::string> PushStaging::get(const PartKey &key, std::int64_t part) {
  if (pool_) return get_from_postgresql(key, part);
  std::lock_guard<std::mutex> lock(mutex_);
  Statement select(db_, "SELECT body FROM parts WHERE dbfile = ?1 AND client = ?2 AND pkg = ?3 AND part = ?4 "
                        "AND parts = ?5 AND digest = ?6");
  select.bind(1, key.dbfile).bind(2, key.client).bind(3, key.pkg).bind(4, part).bind(5, key.parts).bind(6, key.digest);
  if (!select.step()) return std::nullopt;
  const void *data = sqlite3_column_blob(select.get(), 0);
  return std::string(static_cast<const char *>(data ? data : ""), sqlite3_column_bytes(select.get(), 0));
}

void PushStaging::forget(const PartKey &key) {
  if (pool_) return forget_in_postgresql(key);
  std::lock_guard<std::mutex> lock(mutex_);
  Statement remove(db_, "DELETE FROM parts WHERE dbfile = ?1 AND client = ?2 AND pkg = ?3");
  remove.bind(1, key.dbfile).bind(2, key.client).bind(3, key.pkg).run();
}

// The same statements in PostgreSQL, where the parts of one push may come from
// different nodes.
void PushStaging::put_in_postgresql(const PartKey &key, std::int64_t part, const std::string &package) {
  with_postgresql(*pool_, [&](pg::PgConnection &db) {
    pg::PgConnection::Transaction transaction(db);
    // Nodes stage one part at a time, so the total bound holds across all of them.
    db.exec("SELECT pg_advisory_xact_lock(7342010002)");
    db.exec("DELETE FROM zumero_push_parts WHERE received < now() - make_interval(secs => $1)",
            {Param::integer(kExpirySeconds)});
    const std::vector<Param> push = {Param::text(key.dbfile), Param::text(key.client), Param::integer(key.pkg)};
    db.exec("DELETE FROM zumero_push_parts WHERE dbfile = $1 AND client = $2 AND pkg = $3 AND "
            "(parts <> $4 OR digest <> $5)",
            {push[0], push[1], push[2], Param::integer(key.parts), Param::text(key.digest)});
    pg::PgResult sizes = db.exec("SELECT coalesce(sum(length(body)) FILTER (WHERE dbfile = $1 AND client = $2 "
                                 "AND pkg = $3 AND part <> $4), 0)::bigint, "
                                 "coalesce(sum(length(body)) FILTER (WHERE NOT (dbfile = $1 AND client = $2 "
                                 "AND pkg = $3 AND part = $4)), 0)::bigint FROM zumero_push_parts",
                                 {push[0], push[1], push[2], Param::integer(part)});
    check_limits(sizes.integer(0, 0), sizes.integer(0, 1), package.size());
    db.exec("INSERT INTO zumero_push_parts (dbfile, client, pkg, part, parts, digest, body, received) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, now()) ON CONFLICT (dbfile, client, pkg, part) DO UPDATE SET "
            "parts = excluded.parts, digest = excluded.digest, body = excluded.body, received = excluded.received",
            {push[0], push[1], push[2], Param::integer(part), Param::integer(key.parts), Param::text(key.digest),
             Param::bytes(package)});
    transaction.commit();
  });
}

std::optional<std::string> PushStaging::get_from_postgresql(const PartKey &key, std::int64_t part) {
  return with_postgresql(*pool_, [&](pg::PgConnection &db) -> std::optional<std::string> {
    pg::PgResult result = db.exec("SELECT body FROM zumero_push_parts WHERE dbfile = $1 AND client = $2 AND pkg = $3 "
                                  "AND part = $4 AND parts = $5 AND digest = $6",
                                  {Param::text(key.dbfile), Param::text(key.client), Param::integer(key.pkg),
                                   Param::integer(part), Param::integer(key.parts), Param::text(key.digest)});
    if (result.rows() == 0) return std::nullopt;
    return result.bytes(0, 0);
  });
}

// The push has been applied by then, so a failure here must not fail it: the parts
// expire like those of a push nobody finished.
void PushStaging::forget_in_postgresql(const PartKey &key) {
  try {
    with_postgresql(*pool_, [&](pg::PgConnection &db) {
      db.exec("DELETE FROM zumero_push_parts WHERE dbfile = $1 AND client = $2 AND pkg = $3",
              {Param::text(key.dbfile), Param::text(key.client), Param::integer(key.pkg)});
    });
  } catch (const StorageUnavailable &failure) {
    log_warn("the parts of an applied push stay until they expire: ", failure.what());
  }
}

}  // namespace zumero::server
