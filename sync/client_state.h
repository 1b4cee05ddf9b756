// What a client database remembers between syncs, in its housekeeping tables:
//   t$sync   key/value pairs: dbfile, client (identity), next_pkg, base, base_token,
//            file (device and inode the identity belongs to), pending (the push in
//            flight), pull (the pull in progress)
//   t$stage  parts waiting: the pending push, its reply, pull parts
//   t$bases  recent (version, token) pairs the client was at, to find where its
//            history and the server's part after a server was restored from backup
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/sqlite_api.h"

namespace zumero::sync {

void ensure_sync_tables(sqlite3 *db, const std::string &schema);

class ClientState {
public:
  ClientState(sqlite3 *db, std::string schema);

  std::optional<std::string> get(const std::string &key);
  std::int64_t get_int(const std::string &key, std::int64_t fallback = 0);
  void set(const std::string &key, const std::string &value);
  void set_int(const std::string &key, std::int64_t value);
  void erase(const std::string &key);
  std::optional<nlohmann::json> get_json(const std::string &key);
  void set_json(const std::string &key, const nlohmann::json &value);

  std::int64_t base() { return get_int("base"); }
  std::optional<std::string> base_token() { return get("base_token"); }
  // Moves the base to a version the client applied completely.
  void set_base(std::int64_t version, const std::string &token);
  std::string client_id();
  // A new identity for this database (a copy, or a restored file, took the old one).
  std::string new_client_id();
  std::int64_t take_package_number();

  // Parts in t$stage of one kind ("push", "reply", "pull"), in order.
  std::vector<std::string> staged(const std::string &kind);
  void stage(const std::string &kind, const std::string &bytes);
  void clear_stage(const std::string &kind);

  // Recent bases, newest first, thinned out with age (at most `limit`).
  std::vector<std::pair<std::int64_t, std::string>> recent_bases(std::size_t limit);
  void forget_bases_after(std::int64_t version);

private:
  sqlite3 *db_;
  std::string schema_;
};

std::string random_hex(int bytes);

}  // namespace zumero::sync
