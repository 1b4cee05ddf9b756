// Internal auth (guide 7.3): a dbfile that holds users and their passwords, so the
// server can authenticate requests with the scheme {"scheme_type": "internal",
// "dbfile": name}. It is an ordinary zumero dbfile with three tables:
//   users   (username TEXT PRIMARY KEY, password TEXT, alias_dbfile TEXT, alias_user TEXT)
//           password: an Argon2id hash (libsodium crypto_pwhash_str), never the
//           password; an alias has none and points at another user instead
//   groups  (groupname TEXT NOT NULL, username TEXT NOT NULL, UNIQUE (groupname, username))
//           who acl_who_specific_group matches for this scheme
//   z_acl   who may add users, set passwords and ACL entries
// and it is marked so that nobody can ever pull it (t$sync key internal_auth).
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "base/sqlite_api.h"
#include "server/storage.h"
#include "server/identity.h"

namespace zumero::server {

bool is_internal_auth(sqlite3 *db);

// Creates the tables and the mark in an empty dbfile, inside the caller's transaction,
// as version `version`.
void create_internal_auth_tables(sqlite3 *db, std::int64_t version);

// Adds a user with a password, or an alias (alias_dbfile/alias_user; either may be
// empty for "the same"). Throws zumero:unique_constraint_violation for a name taken.
void add_internal_user(sqlite3 *db, std::int64_t version, const std::string &name, const std::string &password);
void add_internal_alias(sqlite3 *db, std::int64_t version, const std::string &name, const std::string &alias_dbfile,
                        const std::string &alias_user);
// Throws zumero:invalid_argument for an unknown user.
void set_internal_password(sqlite3 *db, std::int64_t version, const std::string &name, const std::string &password);
bool internal_group_member(sqlite3 *db, const std::string &group, const std::string &user);

// Argon2id (libsodium). Hashing costs about 12 MiB and tens of milliseconds.
std::string hash_password(const std::string &password);

struct AuthLimits {
  int throttle_after = 5;          // failures for one user or address before answers slow down
  int throttle_max_ms = 3000;      // the longest delay of a failed answer
};

// Authenticates requests against internal auth dbfiles. Thread-safe.
class Authenticator {
public:
  Authenticator(Storage &store, AuthLimits limits) : store_(store), limits_(limits) {}

  // The identity of a request's `auth` field. Throws Refusal: 400
  // invalid_auth_scheme_string for a scheme that is not a JSON object with a
  // scheme_type, 401 authentication_failed for an unknown scheme type, unknown user or
  // wrong password (after a delay once failures repeat).
  Identity authenticate(const nlohmann::json &auth, const std::string &address);
  // Forgets what was verified for a user whose password changed.
  void forget(const std::string &dbfile, const std::string &user);
  // Membership of group for identities of scheme (internal schemes only).
  bool member_of_group(const std::string &scheme, const std::string &group, const std::string &user);

private:
  struct Failures {
    int count = 0;
    std::chrono::steady_clock::time_point last;
  };
  std::optional<std::string> verified_user(const std::string &dbfile, const std::string &user,
                                           const std::string &password);
  bool check_password(const std::string &dbfile, const std::string &user, const std::string &password, int depth);
  void slow_down(const std::string &user_key, const std::string &address);
  void failed(const std::string &user_key, const std::string &address);
  void succeeded(const std::string &user_key);

  Storage &store_;
  AuthLimits limits_;
  std::mutex mutex_;
  std::map<std::string, Failures> failures_;
  std::map<std::string, std::string> verified_;  // digest of dbfile, user and password -> stored hash
};

}  // namespace zumero::server
