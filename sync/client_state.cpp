#include "base/json_text.h"
#include "sync/client_state.h"

#include "base/catalog.h"
#include "base/sql.h"
#include "base/table_definition.h"

namespace zumero::sync {

std::string random_hex(int bytes) {
  std::string random(static_cast<std::size_t>(bytes), '\0');
  sqlite3_randomness(bytes, random.data());
  return hex_bytes(random.data(), random.size());
}

void ensure_sync_tables(sqlite3 *db, const std::string &schema) {
  ensure_housekeeping(db, schema);
  std::string s = quote_identifier(schema) + ".";
  exec(db, "CREATE TABLE IF NOT EXISTS " + s + "\"t$stage\" (part INTEGER PRIMARY KEY, kind TEXT NOT NULL, body BLOB NOT NULL);"
           "CREATE TABLE IF NOT EXISTS " + s + "\"t$bases\" (version INTEGER PRIMARY KEY, token TEXT NOT NULL);");
}

ClientState::ClientState(sqlite3 *db, std::string schema) : db_(db), schema_(std::move(schema)) {}

std::optional<std::string> ClientState::get(const std::string &key) {
  Statement select(db_, "SELECT value FROM " + qualified(schema_, "t$sync") + " WHERE key = ?1");
  select.bind(1, key);
  if (!select.step() || select.is_null(0)) return std::nullopt;
  return select.column_text(0);
}

std::int64_t ClientState::get_int(const std::string &key, std::int64_t fallback) {
  Statement select(db_, "SELECT value FROM " + qualified(schema_, "t$sync") + " WHERE key = ?1");
  select.bind(1, key);
  if (!select.step() || select.column_type(0) != SQLITE_INTEGER) return fallback;
  return select.column_int(0);
}

void ClientState::set(const std::string &key, const std::string &value) {
  Statement insert(db_, "INSERT OR REPLACE INTO " + qualified(schema_, "t$sync") + " (key, value) VALUES (?1, ?2)");
  insert.bind(1, key).bind(2, value).run();
}

void ClientState::set_int(const std::string &key, std::int64_t value) {
  Statement insert(db_, "INSERT OR REPLACE INTO " + qualified(schema_, "t$sync") + " (key, value) VALUES (?1, ?2)");
  insert.bind(1, key).bind(2, value).run();
}

void ClientState::erase(const std::string &key) {
  Statement remove(db_, "DELETE FROM " + qualified(schema_, "t$sync") + " WHERE key = ?1");
  remove.bind(1, key).run();
}

std::optional<nlohmann::json> ClientState::get_json(const std::string &key) {
  std::optional<std::string> text = get(key);
  if (!text) return std::nullopt;
  nlohmann::json value = parse_json(*text);
  if (value.is_discarded()) return std::nullopt;
  return value;
}

void ClientState::set_json(const std::string &key, const nlohmann::json &value) { set(key, value.dump()); }

void ClientState::set_base(std::int64_t version, const std::string &token) {
  set_int("base", version);
  if (token.empty()) erase("base_token");
  else set("base_token", token);
  if (version <= 0 || token.empty()) return;
  Statement record(db_, "INSERT OR REPLACE INTO " + qualified(schema_, "t$bases") + " (version, token) VALUES (?1, ?2)");
  record.bind(1, version).bind(2, token).run();
  // Keep the newest 32, and older ones only where the version is a multiple of a
  // power of two that grows with age: enough to find a common version quickly.
  exec(db_, "DELETE FROM " + qualified(schema_, "t$bases") + " WHERE version NOT IN (SELECT version FROM " +
                qualified(schema_, "t$bases") + " ORDER BY version DESC LIMIT 32) AND (version % 1024) <> 0 AND "
                "version < " + std::to_string(version) + " - 1024");
}

std::string ClientState::client_id() {
  if (std::optional<std::string> id = get("client")) return *id;
  return new_client_id();
}

std::string ClientState::new_client_id() {
  std::string id = random_hex(16);
  set("client", id);
  set_int("next_pkg", 1);
  return id;
}

std::int64_t ClientState::take_package_number() {
  std::int64_t number = get_int("next_pkg", 1);
  set_int("next_pkg", number + 1);
  return number;
}

std::vector<std::string> ClientState::staged(const std::string &kind) {
  std::vector<std::string> parts;
  Statement select(db_, "SELECT body FROM " + qualified(schema_, "t$stage") + " WHERE kind = ?1 ORDER BY part");
  select.bind(1, kind);
  while (select.step()) {
    const void *data = sqlite3_column_blob(select.get(), 0);
    parts.emplace_back(static_cast<const char *>(data ? data : ""), sqlite3_column_bytes(select.get(), 0));
  }
  return parts;
}

void ClientState::stage(const std::string &kind, const std::string &bytes) {
  Statement insert(db_, "INSERT INTO " + qualified(schema_, "t$stage") + " (kind, body) VALUES (?1, ?2)");
  insert.bind(1, kind).bind_blob(2, bytes.data(), bytes.size()).run();
}

void ClientState::clear_stage(const std::string &kind) {
  Statement remove(db_, "DELETE FROM " + qualified(schema_, "t$stage") + " WHERE kind = ?1");
  remove.bind(1, kind).run();
}

std::vector<std::pair<std::int64_t, std::string>> ClientState::recent_bases(std::size_t limit) {
  std::vector<std::pair<std::int64_t, std::string>> bases;
  Statement select(db_, "SELECT version, token FROM " + qualified(schema_, "t$bases") + " ORDER BY version DESC LIMIT ?1");
  select.bind(1, static_cast<std::int64_t>(limit));
  while (select.step()) bases.emplace_back(select.column_int(0), select.column_text(1));
  return bases;
}

void ClientState::forget_bases_after(std::int64_t version) {
  Statement remove(db_, "DELETE FROM " + qualified(schema_, "t$bases") + " WHERE version > ?1");
  remove.bind(1, version).run();
}

}  // namespace zumero::sync
