// Parts of a push that arrives in several requests (each under the body limit), kept
// on disk in a private SQLite file until the last part comes and the whole package is
// applied as one version. Parts nobody completes expire.
#pragma once
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>

#include "base/sqlite_api.h"

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

  PushStaging(std::filesystem::path file, std::size_t max_bytes_per_push);
  ~PushStaging();
  PushStaging(const PushStaging &) = delete;
  PushStaging &operator=(const PushStaging &) = delete;

  // Keeps part `part` (1-based, not the last) of the push. Parts staged under another
  // part count or digest for the same package are dropped first. Throws Refusal (413)
  // when the push would grow beyond the limit.
  void put(const PartKey &key, std::int64_t part, const std::string &package);
  // Part `part` as staged; nullopt when it is missing.
  std::optional<std::string> get(const PartKey &key, std::int64_t part);
  void forget(const PartKey &key);

private:
  void expire();
  std::mutex mutex_;
  sqlite3 *db_ = nullptr;
  std::size_t max_bytes_;
};

}  // namespace zumero::server
