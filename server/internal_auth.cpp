#include "server/internal_auth.h"

#include <sodium.h>

#include <condition_variable>
#include <thread>

#include "base/catalog.h"
#include "base/connection_state.h"
#include "base/sql.h"
#include "base/table_definition.h"
#include "server/request_header.h"
#include "sync/client_state.h"
#include "sync/protocol.h"
#include "sync/row_store.h"
#include "sync/schema_apply.h"

namespace zumero::server {
namespace {

using sync::Row;
using sync::Value;

// Moderate Argon2id costs: about 12 MiB and a few tens of milliseconds per hash, so a
// burst of attempts cannot take the server's memory.
constexpr unsigned long long kOpsLimit = 3;
constexpr std::size_t kMemLimit = std::size_t(12) << 20;
constexpr int kConcurrentHashes = 2;
constexpr std::size_t kMaxTrackedFailures = 10000;
constexpr auto kFailureMemory = std::chrono::minutes(15);
constexpr int kMaxAliasDepth = 4;

const std::vector<std::string> kUsersTable = {"username TEXT PRIMARY KEY", "password TEXT", "alias_dbfile TEXT",
                                              "alias_user TEXT"};
const std::vector<std::string> kGroupsTable = {"groupname TEXT NOT NULL", "username TEXT NOT NULL",
                                               "UNIQUE (groupname, username)"};

void initialize_sodium() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sodium_init() < 0) throw std::runtime_error("libsodium cannot be initialized");
  });
}

// At most kConcurrentHashes Argon2 computations at once.
class HashSlots {
public:
  void acquire() {
    std::unique_lock<std::mutex> lock(mutex_);
    free_.wait(lock, [&] { return used_ < kConcurrentHashes; });
    ++used_;
  }
  void release() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      --used_;
    }
    free_.notify_one();
  }

private:
  std::mutex mutex_;
  std::condition_variable free_;
  int used_ = 0;
};

HashSlots &hash_slots() {
  static HashSlots slots;
  return slots;
}

struct Slot {
  Slot() { hash_slots().acquire(); }
  ~Slot() { hash_slots().release(); }
};

bool verify_hash(const std::string &hash, const std::string &password) {
  initialize_sodium();
  if (hash.size() >= crypto_pwhash_STRBYTES) return false;
  Slot slot;
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

// A hash nobody's password matches, verified for unknown users so that an answer takes
// as long for a user that does not exist as for a wrong password.
const std::string &decoy_hash() {
  static const std::string decoy = hash_password(sync::random_hex(16));
  return decoy;
}

std::string digest_hex(const std::string &text) {
  initialize_sodium();
  unsigned char out[crypto_generichash_BYTES];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char *>(text.data()), text.size(), nullptr, 0);
  return hex_bytes(out, sizeof out);
}

struct UserRecord {
  std::string name;
  std::optional<std::string> password;
  std::optional<std::string> alias_dbfile;
  std::optional<std::string> alias_user;
};

std::optional<UserRecord> find_user(sqlite3 *db, const std::string &name) {
  if (!stored_table_name(db, "main", "users")) return std::nullopt;
  Statement select(db, "SELECT username, password, alias_dbfile, alias_user FROM \"z$users\" WHERE username = ?1");
  select.bind(1, name);
  if (!select.step()) return std::nullopt;
  UserRecord user;
  user.name = select.column_text(0);
  if (!select.is_null(1)) user.password = select.column_text(1);
  if (!select.is_null(2)) user.alias_dbfile = select.column_text(2);
  if (!select.is_null(3)) user.alias_user = select.column_text(3);
  return user;
}

void insert_row(sqlite3 *db, std::int64_t version, const std::string &table, const Row &values) {
  sync::RowStore rows(db, "main", table);
  std::int64_t highest = rows.max_recid();
  std::int64_t recid = highest < INT64_MAX ? highest + 1 : random_unused_recid(db, "main", rows.name());
  rows.insert_live(recid, values);
  rows.set_version(recid, version, false);
}

Value text_or_null(const std::string &text) { return text.empty() ? Value() : Value::of_text(text); }

void create_table(sqlite3 *db, ConnectionState &connection, std::int64_t version, const std::string &name,
                  const std::vector<std::string> &arguments) {
  sync::SchemaEntry entry{0, 0, "create_table", name, arguments_to_json(arguments)};
  sync::apply_schema_entry(db, connection, "main", entry, version, std::nullopt);
}

}  // namespace

bool is_internal_auth(sqlite3 *db) {
  return has_housekeeping(db, "main") && query_int(db, "SELECT value FROM \"t$sync\" WHERE key = 'internal_auth'") == 1;
}

void create_internal_auth_tables(sqlite3 *db, std::int64_t version) {
  std::shared_ptr<ConnectionState> connection = ConnectionState::find(db);
  if (!connection) throw Error(SQLITE_MISUSE, "zumero: the dbfile connection has no zumero state");
  bool saved = connection->applying_remote;
  connection->applying_remote = true;
  try {
    create_table(db, *connection, version, "users", kUsersTable);
    create_table(db, *connection, version, "groups", kGroupsTable);
    create_table(db, *connection, version, "z_acl", acl_table_arguments());
  } catch (...) {
    connection->applying_remote = saved;
    throw;
  }
  connection->applying_remote = saved;
  exec(db, "INSERT OR REPLACE INTO \"t$sync\" (key, value) VALUES ('internal_auth', 1)");
}

std::string hash_password(const std::string &password) {
  initialize_sodium();
  char hash[crypto_pwhash_STRBYTES];
  Slot slot;
  if (crypto_pwhash_str_alg(hash, password.data(), password.size(), kOpsLimit, kMemLimit,
                            crypto_pwhash_ALG_ARGON2ID13) != 0)
    throw std::bad_alloc();
  return hash;
}

void add_internal_user(sqlite3 *db, std::int64_t version, const std::string &name, const std::string &password) {
  if (name.empty()) fail("invalid_argument");
  if (find_user(db, name)) fail("unique_constraint_violation", SQLITE_CONSTRAINT);
  insert_row(db, version, "users", {Value::of_text(name), Value::of_text(hash_password(password)), Value(), Value()});
}

void add_internal_alias(sqlite3 *db, std::int64_t version, const std::string &name, const std::string &alias_dbfile,
                        const std::string &alias_user) {
  if (name.empty() || (alias_dbfile.empty() && alias_user.empty())) fail("invalid_argument");
  if (!alias_dbfile.empty() && !sync::valid_dbfile_name(alias_dbfile, false)) fail("invalid_dbfile_name");
  if (find_user(db, name)) fail("unique_constraint_violation", SQLITE_CONSTRAINT);
  insert_row(db, version, "users", {Value::of_text(name), Value(), text_or_null(alias_dbfile), text_or_null(alias_user)});
}

void set_internal_password(sqlite3 *db, std::int64_t version, const std::string &name, const std::string &password) {
  std::optional<UserRecord> user = find_user(db, name);
  if (!user) fail("invalid_argument");
  sync::RowStore rows(db, "main", "users");
  Statement select(db, "SELECT rowid FROM \"z$users\" WHERE username = ?1");
  select.bind(1, name);
  if (!select.step()) fail("invalid_argument");
  std::int64_t recid = select.column_int(0);
  select.reset();
  std::optional<sync::VersionInfo> current = rows.version(recid);
  rows.archive_live(recid, current ? current->rv : 0, version, false);
  rows.delete_live(recid);
  rows.insert_live(recid, {Value::of_text(user->name), Value::of_text(hash_password(password)), Value(), Value()});
  rows.set_version(recid, version, false);
}

bool internal_group_member(sqlite3 *db, const std::string &group, const std::string &user) {
  if (!stored_table_name(db, "main", "groups")) return false;
  Statement select(db, "SELECT 1 FROM \"z$groups\" WHERE groupname = ?1 AND username = ?2");
  select.bind(1, group).bind(2, user);
  return select.step();
}

// ---- authenticator -----------------------------------------------------------------

Identity Authenticator::authenticate(const nlohmann::json &auth, const std::string &address) {
  if (auth.is_null()) return Identity{};
  std::optional<std::string> scheme = canonical_scheme(auth.value("scheme", ""));
  if (!scheme) throw Refusal(400, "invalid_auth_scheme_string", "the auth scheme is not a JSON object with a scheme_type");
  std::string user = auth.value("user", "");
  std::string password = auth.value("password", "");
  std::optional<std::string> dbfile = internal_scheme_dbfile(*scheme);
  std::string user_key = (dbfile ? *dbfile : std::string("?")) + "/" + user;
  slow_down(user_key, address);
  std::optional<std::string> resolved;
  if (dbfile && sync::valid_dbfile_name(*dbfile, false)) resolved = verified_user(*dbfile, user, password);
  if (!resolved) {
    failed(user_key, address);
    throw Refusal(401, "authentication_failed", "authentication failed");
  }
  succeeded(user_key);
  return Identity{*scheme, *resolved};
}

// The user's name when the password is right. The guide passes a user as
// acl_who_specific_user || name (7.5): "user:NAME" is taken for NAME when no user has
// the longer name.
std::optional<std::string> Authenticator::verified_user(const std::string &dbfile, const std::string &user,
                                                        const std::string &password) {
  std::string name = user;
  bool known = false;
  if (std::optional<PooledConnection> connection = store_.try_read(dbfile)) {
    if (is_internal_auth(connection->get())) {
      if (find_user(connection->get(), name)) known = true;
      else if (name.rfind("user:", 0) == 0 && find_user(connection->get(), name.substr(5))) {
        name = name.substr(5);
        known = true;
      }
    }
  }
  if (!known) {
    verify_hash(decoy_hash(), password);
    return std::nullopt;
  }
  if (!check_password(dbfile, name, password, 0)) return std::nullopt;
  return name;
}

bool Authenticator::check_password(const std::string &dbfile, const std::string &user, const std::string &password,
                                   int depth) {
  if (depth > kMaxAliasDepth) return false;
  std::optional<UserRecord> record;
  {
    std::optional<PooledConnection> connection = store_.try_read(dbfile);
    if (!connection || !is_internal_auth(connection->get())) return false;
    record = find_user(connection->get(), user);
  }
  if (!record) return false;
  if (!record->password) {
    // An alias: the password of the user it points at decides.
    std::string other_dbfile = record->alias_dbfile.value_or(dbfile);
    std::string other_user = record->alias_user.value_or(user);
    if (other_dbfile == dbfile && other_user == user) return false;
    return check_password(other_dbfile, other_user, password, depth + 1);
  }
  std::string key = digest_hex(dbfile + '\0' + user + '\0' + password);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto cached = verified_.find(key);
    if (cached != verified_.end() && cached->second == *record->password) return true;
  }
  if (!verify_hash(*record->password, password)) return false;
  std::lock_guard<std::mutex> lock(mutex_);
  if (verified_.size() > kMaxTrackedFailures) verified_.clear();
  verified_[key] = *record->password;
  return true;
}

void Authenticator::forget(const std::string &, const std::string &) {
  std::lock_guard<std::mutex> lock(mutex_);
  verified_.clear();  // entries hold the hash they matched; clearing is only tidier
}

bool Authenticator::member_of_group(const std::string &scheme, const std::string &group, const std::string &user) {
  std::optional<std::string> dbfile = internal_scheme_dbfile(scheme);
  if (!dbfile || !sync::valid_dbfile_name(*dbfile, false)) return false;
  std::optional<PooledConnection> connection = store_.try_read(*dbfile);
  return connection && is_internal_auth(connection->get()) && internal_group_member(connection->get(), group, user);
}

// Once failures for a user or an address repeat, each further attempt waits: 100 ms,
// doubling, up to throttle_max_ms.
void Authenticator::slow_down(const std::string &user_key, const std::string &address) {
  int count = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto now = std::chrono::steady_clock::now();
    for (const std::string &key : {"user:" + user_key, "address:" + address}) {
      auto found = failures_.find(key);
      if (found == failures_.end()) continue;
      if (now - found->second.last > kFailureMemory) {
        failures_.erase(found);
        continue;
      }
      count = std::max(count, found->second.count);
    }
  }
  int over = count - limits_.throttle_after;
  if (over < 0) return;
  long delay = std::min<long>(limits_.throttle_max_ms, 100L << std::min(over, 20));
  std::this_thread::sleep_for(std::chrono::milliseconds(delay));
}

void Authenticator::failed(const std::string &user_key, const std::string &address) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (failures_.size() > kMaxTrackedFailures) failures_.clear();
  auto now = std::chrono::steady_clock::now();
  for (const std::string &key : {"user:" + user_key, "address:" + address}) {
    Failures &entry = failures_[key];
    ++entry.count;
    entry.last = now;
  }
}

void Authenticator::succeeded(const std::string &user_key) {
  std::lock_guard<std::mutex> lock(mutex_);
  failures_.erase("user:" + user_key);
}

}  // namespace zumero::server
