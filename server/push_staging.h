// Parts of a push that arrives in several requests (each under the body limit), kept
// until the last part comes and the whole package is applied as one version: on disk
// in a private SQLite file, or, with --store, in PostgreSQL (zumero_push_parts), where
// every node finds the parts other nodes received. Parts nobody completes expire.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "base/sqlite_api.h"

namespace zumero::server::pg {
class PgPool;
}

namespace zumero::server {

struct PartKey {
  std::string dbfile;
  std::string client;
  std::int64_t pkg = 0;
  std::int64_t parts = 0;
  std::string digest;
};

class PushStaging {
public:
  // The parts of all unfinished pushes together take at most this many times the
  // largest push; more get 503 until some complete or expire.
  static constexpr std::size_t kStagedPushesFactor = 4;

  // `pg_conninfo` not empty: the parts live in that PostgreSQL database (its table is
  // made by the PostgreSQL store), and `file` is not used.
  PushStaging(std::filesystem::path file, std::size_t max_bytes_per_push, const std::string &pg_conninfo = "");
  ~PushStaging();
  PushStaging(const PushStaging &) = delete;
  PushStaging &operator=(const PushStaging &) = delete;

  // Keeps part `part` (1-based, not the last) of the push. Parts staged under another
  // part count or digest for the same package are dropped first. Throws Refusal (413)
  // when the push would grow beyond the limit, Refusal (503 server_busy) when all
  // unfinished pushes together would, StorageUnavailable when PostgreSQL fails.
  void put(const PartKey &key, std::int64_t part, const std::string &package);
  // Part `part` as staged; nullopt when it is missing.
  std::optional<std::string> get(const PartKey &key, std::int64_t part);
  void forget(const PartKey &key);

private:
  void expire();
  void check_limits(std::int64_t staged, std::int64_t all, std::size_t part_bytes) const;
  void put_in_postgresql(const PartKey &key, std::int64_t part, const std::string &package);
  std::optional<std::string> get_from_postgresql(const PartKey &key, std::int64_t part);
  void forget_in_postgresql(const PartKey &key);

  std::mutex mutex_;
  sqlite3 *db_ = nullptr;
  std::unique_ptr<pg::PgPool> pool_;  // set when the parts live in PostgreSQL
  std::size_t max_bytes_;
};

}  // namespace zumero::server
