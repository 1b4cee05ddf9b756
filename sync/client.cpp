#include "sync/client.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <set>

#include "sync/http_client.h"
#include "sync/package.h"
#include "sync/row_store.h"
#include "base/catalog.h"
#include "base/sql.h"
#include "base/table_definition.h"

namespace zumero::sync {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

std::int64_t elapsed_ms(Clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count();
}

// Key/value sync state in t$sync.
class SyncState {
public:
  SyncState(sqlite3 *db, const std::string &schema) : db_(db), table_(qualified(schema, "t$sync")) {}
  std::optional<std::string> get(const std::string &key) {
    Statement select(db_, "SELECT value FROM " + table_ + " WHERE key = ?1");
    select.bind(1, key);
    if (!select.step() || select.is_null(0)) return std::nullopt;
    return select.column_text(0);
  }
  std::int64_t get_int(const std::string &key, std::int64_t fallback = 0) {
    auto value = get(key);
    return value ? std::stoll(*value) : fallback;
  }
  void set(const std::string &key, const std::string &value) {
    Statement insert(db_, "INSERT OR REPLACE INTO " + table_ + " (key, value) VALUES (?1, ?2)");
    insert.bind(1, key).bind(2, value).run();
  }
  void set_blob(const std::string &key, const std::string &value) {
    Statement insert(db_, "INSERT OR REPLACE INTO " + table_ + " (key, value) VALUES (?1, ?2)");
    insert.bind(1, key).bind_blob(2, value.data(), static_cast<int>(value.size())).run();
  }
  void erase(const std::string &key) {
    Statement remove(db_, "DELETE FROM " + table_ + " WHERE key = ?1");
    remove.bind(1, key).run();
  }

private:
  sqlite3 *db_;
  std::string table_;
};

std::string random_client_id() {
  std::random_device device;
  std::string id;
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < 32; ++i) id += digits[device() % 16];
  return id;
}

// Sorted, with overlapping and adjacent ranges joined.
std::vector<std::pair<std::int64_t, std::int64_t>> merge_ranges(std::vector<std::pair<std::int64_t, std::int64_t>> ranges) {
  std::sort(ranges.begin(), ranges.end());
  std::vector<std::pair<std::int64_t, std::int64_t>> merged;
  for (const auto &range : ranges) {
    if (!merged.empty() && range.first <= merged.back().second + 1)
      merged.back().second = std::max(merged.back().second, range.second);
    else
      merged.push_back(range);
  }
  return merged;
}

// A local change committed while a sync was on the network (txid newer than L).
struct NewerChange {
  std::optional<Row> now;     // the row now, or deleted
  std::optional<Row> before;  // from local history: the row before the newer changes
  bool known = false;         // synced before, or pushed by this sync: not a new local row
};

class SyncRun {
public:
  SyncRun(sqlite3 *db, ConnectionState &connection, const SyncOptions &options)
      : db_(db), connection_(connection), options_(options), state_(db, options.schema) {}

  SyncStats run();

private:
  json request_header(const std::string &op);
  std::optional<std::string> build_push(std::int64_t &last_txid, std::int64_t &last_seq);
  HttpResponse post(const std::string &path, const json &header, const std::string &package);
  void stage(const std::string &kind, const std::string &package);
  void apply_staged(const json &pull, std::vector<Package> fresh);
  bool pushed_in(const std::string &table, std::int64_t recid, std::int64_t last_txid);
  template <typename StoreFor>
  void rebase_newer_changes(std::map<std::string, std::map<std::int64_t, NewerChange>> &newer,
                            const std::map<std::string, std::map<std::int64_t, RowState>> &written,
                            StoreFor &store_for, std::int64_t last_txid);
  std::string stage_table() const { return qualified(options_.schema, "t$stage"); }

  sqlite3 *db_;
  ConnectionState &connection_;
  const SyncOptions &options_;
  SyncState state_;
  SyncStats stats_;
};

json SyncRun::request_header(const std::string &op) {
  json header;
  header["op"] = op;
  header["dbfile"] = options_.dbfile;
  if (options_.credentials) {
    header["auth"] = {{"scheme", options_.credentials->scheme},
                      {"user", options_.credentials->user},
                      {"password", options_.credentials->password}};
  } else {
    header["auth"] = nullptr;
  }
  header["client"] = *state_.get("client");
  return header;
}

// Collects rows changed up to the newest committed local transaction, and schema
// entries not yet on the server. Runs in one short read transaction.
std::optional<std::string> SyncRun::build_push(std::int64_t &last_txid, std::int64_t &last_seq) {
  Transaction read(db_);
  std::string prefix = quote_identifier(options_.schema) + ".";
  last_txid = query_int(db_, "SELECT coalesce(max(txid), 0) FROM " + prefix + "\"t$tx\"");
  last_seq = query_int(db_, "SELECT coalesce(max(seq), 0) FROM " + prefix + "\"t$schema\" WHERE rv IS NULL");
  Package package;
  Statement schema(db_, "SELECT kind, coalesce(tbl, ''), detail FROM " + prefix +
                            "\"t$schema\" WHERE rv IS NULL AND seq <= ?1 ORDER BY seq");
  schema.bind(1, last_seq);
  while (schema.step()) package.schema.push_back({0, schema.column_text(0), schema.column_text(1), schema.column_text(2)});
  std::map<std::string, std::vector<std::pair<std::int64_t, std::int64_t>>> dirty;
  Statement ranges(db_, "SELECT tbl, first, last FROM " + prefix + "\"t$dirty\" WHERE txid <= ?1");
  ranges.bind(1, last_txid);
  while (ranges.step()) dirty[ranges.column_text(0)].emplace_back(ranges.column_int(1), ranges.column_int(2));
  for (auto &entry : dirty) {
    if (!load_table_definition(db_, options_.schema, entry.first)) continue;
    RowStore store(db_, options_.schema, entry.first);
    TableSection section{entry.first, store.column_names(), {}};
    for (const auto &range : merge_ranges(entry.second)) store.read_range(range.first, range.second, section.rows);
    package.tables.push_back(std::move(section));
  }
  read.commit();
  if (package.empty()) return std::nullopt;
  return encode_package(package);
}

HttpResponse SyncRun::post(const std::string &path, const json &header, const std::string &package) {
  std::size_t full = 0;
  std::string body = seal_envelope({header.dump(), package}, &full);
  if (path == "/push") {  // the figures count packages pushed, not pull requests
    stats_.up_full += full;
    stats_.up_compressed += body.size();
  }
  Clock::time_point start = Clock::now();
  HttpResponse response = http_post(options_.url, path, body, "application/x-zumero");
  stats_.net_ms += elapsed_ms(start);
  stats_.down_compressed += response.body.size();
  return response;
}

void SyncRun::stage(const std::string &kind, const std::string &package) {
  Statement insert(db_, "INSERT INTO " + stage_table() + " (kind, body) VALUES (?1, ?2)");
  insert.bind(1, kind).bind_blob(2, package.data(), static_cast<int>(package.size())).run();
}

SyncStats SyncRun::run() {
  Clock::time_point start = Clock::now();
  if (!state_.get("client")) {
    Transaction setup(db_, "BEGIN IMMEDIATE");
    state_.set("client", random_client_id());
    setup.commit();
  }
  std::optional<std::string> pull_state = state_.get("pull");
  json pull = pull_state ? json::parse(*pull_state) : json();
  // The push reply stays in memory unless the pull needs more than one call: a push
  // whose reply is lost is sent again, and the server answers it again.
  std::optional<std::string> push_reply;
  bool pushed = false;
  if (!pull_state) {
    std::optional<std::string> pending = state_.get("pending_push");
    json meta = pending ? json::parse(*state_.get("pending_meta")) : json();
    if (!pending) {
      std::int64_t last_txid = 0;
      std::int64_t last_seq = 0;
      std::optional<std::string> package = build_push(last_txid, last_seq);
      meta = {{"L", last_txid}, {"S", last_seq}};
      if (package) {
        // Kept before it is sent, so a retry sends the same package number and bytes.
        Transaction write(db_, "BEGIN IMMEDIATE");
        std::int64_t number = state_.get_int("next_pkg", 1);
        meta["pkg"] = number;
        state_.set("next_pkg", std::to_string(number + 1));
        state_.set_blob("pending_push", *package);
        state_.set("pending_meta", meta.dump());
        write.commit();
        pending = package;
      }
    }
    pull = {{"L", meta.value("L", 0)}, {"S", meta.value("S", 0)}, {"exclude", 0}, {"target", 0},
            {"cursor", nullptr}, {"history", !options_.without_history}};
    if (pending) {
      json header = request_header("push");
      header["base"] = state_.get_int("base");
      header["pkg"] = meta["pkg"];
      HttpResponse response = post("/push", header, *pending);
      if (response.status != 200) {
        if (response.status >= 400 && response.status < 500) {
          Transaction clear(db_, "BEGIN IMMEDIATE");  // refused for good: build anew next time
          state_.erase("pending_push");
          state_.erase("pending_meta");
          clear.commit();
        }
        throw_http_error(connection_, response.status, response.body);
      }
      std::size_t full = 0;
      Envelope reply = open_envelope(response.body, &full);
      stats_.down_full += full;
      pull["exclude"] = json::parse(reply.header_json).value("version", 0);
      push_reply = std::move(reply.package_bytes);
      pushed = true;
    }
  }

  json header = request_header("pull");
  header["base"] = state_.get_int("base");
  header["target"] = pull["target"];
  header["exclude"] = pull["exclude"];
  header["cursor"] = pull["cursor"];
  header["history"] = pull["history"];
  HttpResponse response = post("/pull", header, std::string());
  bool nothing_new = response.status == 304 || response.status == 404;
  if (!nothing_new && response.status != 200) throw_http_error(connection_, response.status, response.body);
  if (nothing_new && !pushed && !pull_state) {
    stats_.total_ms = elapsed_ms(start);
    return stats_;  // nothing sent, nothing new
  }
  std::vector<Package> fresh;
  if (push_reply) fresh.push_back(decode_package(*push_reply));
  Transaction write(db_, "BEGIN IMMEDIATE");
  if (pushed) {
    state_.erase("pending_push");
    state_.erase("pending_meta");
  }
  if (!nothing_new) {
    std::size_t full = 0;
    Envelope reply = open_envelope(response.body, &full);
    stats_.down_full += full;
    json reply_header = json::parse(reply.header_json);
    pull["target"] = reply_header.value("target", 0);
    if (reply_header.value("partial", false)) {
      if (push_reply) stage("push_reply", *push_reply);
      stage("pull", reply.package_bytes);
      pull["cursor"] = reply_header["cursor"];
      state_.set("pull", pull.dump());
      write.commit();
      stats_.partial = 1;
      stats_.total_ms = elapsed_ms(start);
      return stats_;
    }
    fresh.push_back(decode_package(reply.package_bytes));
  } else {
    std::int64_t own = pull["exclude"].get<std::int64_t>();
    pull["target"] = own ? own : state_.get_int("base");
  }
  apply_staged(pull, std::move(fresh));
  if (!state_.get("dbfile")) state_.set("dbfile", options_.dbfile);
  write.commit();
  stats_.total_ms = elapsed_ms(start);
  return stats_;
}

bool SyncRun::pushed_in(const std::string &table, std::int64_t recid, std::int64_t last_txid) {
  Statement select(db_, "SELECT 1 FROM " + qualified(options_.schema, "t$dirty") +
                            " WHERE tbl = ?1 AND ?2 BETWEEN first AND last AND txid <= ?3");
  select.bind(1, table).bind(2, recid).bind(3, last_txid);
  return select.step();
}

// Re-applies local changes newer than L to rows the server just wrote: the columns
// they changed win over the server's; a local insert whose identity the server gave
// to another row gets a fresh identity; a change that no longer fits the table's
// constraints is kept in t$q, and its quarantine id is returned by zumero_sync.
template <typename StoreFor>
void SyncRun::rebase_newer_changes(std::map<std::string, std::map<std::int64_t, NewerChange>> &newer,
                                   const std::map<std::string, std::map<std::int64_t, RowState>> &written,
                                   StoreFor &store_for, std::int64_t last_txid) {
  Package quarantined;
  for (auto &table : newer) {
    auto server_rows = written.find(table.first);
    if (server_rows == written.end()) continue;
    RowStore &store = store_for(table.first);
    TableSection rejected{table.first, store.column_names(), {}};
    for (auto &entry : table.second) {
      auto server = server_rows->second.find(entry.first);
      if (server == server_rows->second.end()) continue;
      const NewerChange &change = entry.second;
      std::int64_t recid = entry.first;
      std::optional<Row> result = change.now;
      if (change.now && !change.known) {
        recid = store.max_recid() + 1;  // our new row, the server's id: keep both rows
        int ipk = store.definition().integer_primary_key;
        if (ipk >= 0) (*result)[ipk] = Value{Value::Integer, recid, 0, {}};
      } else if (change.now && change.before && server->second.kind == RowState::Live) {
        result = server->second.values;  // start from the server's row, redo our columns
        for (size_t i = 0; i < result->size() && i < change.now->size() && i < change.before->size(); ++i)
          if (!(*change.now)[i].same_as((*change.before)[i]) || (*change.now)[i].type != (*change.before)[i].type)
            (*result)[i] = (*change.now)[i];
      }
      try {
        Savepoint savepoint(db_, "zumero_rebase");
        if (recid == entry.first) store.delete_live(recid);
        if (result) store.insert_live(recid, *result);
        if (recid != entry.first) {
          Statement dirty(db_, "INSERT INTO " + qualified(options_.schema, "t$dirty") +
                                   " (tbl, first, last, txid) VALUES (?1, ?2, ?2, ?3)");
          dirty.bind(1, table.first).bind(2, recid).bind(3, last_txid + 1).run();
        }
        savepoint.release();
      } catch (const Error &) {
        RowState row;
        row.recid = entry.first;
        row.rv = change.known ? 1 : 0;  // quarantine packages mark rows created locally with 0
        row.kind = change.now ? RowState::Live : RowState::Deleted;
        if (change.now) row.values = *change.now;
        rejected.rows.push_back(std::move(row));
      }
    }
    if (!rejected.rows.empty()) quarantined.tables.push_back(std::move(rejected));
  }
  if (quarantined.empty()) return;
  std::string bytes = encode_package(quarantined);
  Statement insert(db_, "INSERT INTO " + qualified(options_.schema, "t$q") +
                            " (unix_time, package) VALUES (strftime('%s', 'now'), ?1)");
  insert.bind_blob(1, bytes.data(), static_cast<int>(bytes.size())).run();
  stats_.quarantine = sqlite3_last_insert_rowid(db_);
}

// Applies what the server decided and sent, then puts back local changes made while
// the sync was on the network (transactions newer than L). Runs inside the caller's
// write transaction.
void SyncRun::apply_staged(const json &pull, std::vector<Package> fresh) {
  const std::string &schema = options_.schema;
  std::string prefix = quote_identifier(schema) + ".";
  std::int64_t last_txid = pull.value("L", 0);
  std::int64_t last_seq = pull.value("S", 0);
  std::int64_t exclude = pull.value("exclude", 0);
  std::int64_t target = pull.value("target", 0);

  std::vector<Package> packages;
  Statement staged(db_, "SELECT body FROM " + stage_table() + " ORDER BY part");
  while (staged.step()) {
    const void *data = sqlite3_column_blob(staged.get(), 0);
    packages.push_back(decode_package(std::string_view(static_cast<const char *>(data ? data : ""),
                                                       sqlite3_column_bytes(staged.get(), 0))));
  }
  for (Package &package : fresh) packages.push_back(std::move(package));

  // Local changes committed while the sync was on the network.
  std::map<std::string, std::map<std::int64_t, NewerChange>> newer;
  Statement ranges(db_, "SELECT tbl, first, last FROM " + prefix + "\"t$dirty\" WHERE txid > ?1");
  ranges.bind(1, last_txid);
  while (ranges.step()) {
    std::string table = ranges.column_text(0);
    if (!load_table_definition(db_, schema, table)) continue;
    RowStore store(db_, schema, table);
    for (std::int64_t id = ranges.column_int(1); id <= ranges.column_int(2); ++id) {
      NewerChange &change = newer[table][id];
      change.now = store.live_row(id);
      change.before = store.local_version_before(id, last_txid);
      change.known = store.version(id).has_value() || pushed_in(table, id, last_txid);
    }
  }

  connection_.applying_remote = true;
  struct Reset {
    ConnectionState &connection;
    ~Reset() { connection.applying_remote = false; }
  } reset{connection_};

  exec(db_, "DELETE FROM " + prefix + "\"t$schema\" WHERE rv IS NULL AND seq <= " + std::to_string(last_seq));
  for (const Package &package : packages) {
    for (const SchemaEntry &entry : package.schema) {
      Statement known(db_, "SELECT 1 FROM " + prefix + "\"t$schema\" WHERE rv = ?1 AND kind = ?2 AND detail = ?3");
      known.bind(1, entry.rv).bind(2, entry.kind).bind(3, entry.detail);
      if (known.step()) continue;
      if (entry.kind == "create_table" && !load_table_definition(db_, schema, entry.table)) {
        exec(db_, create_virtual_table_sql(schema, entry.table, parse_table_definition(arguments_from_json(entry.detail))));
      } else if (entry.kind == "add_column") {
        std::string definition = json::parse(entry.detail).value("definition", "");
        auto table = load_table_definition(db_, schema, entry.table);
        if (table && table->column_index(parse_column_definition(definition).name) < 0) {
          Statement add(db_, "SELECT zumero_alter_table_add_column(?1, ?2, ?3)");
          add.bind(1, schema).bind(2, entry.table).bind(3, definition).run();
        }
      }
      record_schema_change(db_, schema, entry.kind,
                           entry.table.empty() ? std::nullopt : std::optional<std::string>(entry.table), entry.detail,
                           entry.rv);
    }
  }

  // Final state per row: later parts describe newer versions than the push reply.
  std::map<std::string, std::map<std::int64_t, RowState>> states;
  std::map<std::string, std::vector<RowState>> history;
  for (const Package &package : packages) {
    for (const TableSection &section : package.tables) {
      for (const RowState &row : section.rows) {
        if (row.kind == RowState::History) history[section.name].push_back(row);
        else states[section.name][row.recid] = row;
      }
    }
  }
  std::map<std::string, std::unique_ptr<RowStore>> stores;
  auto store_for = [&](const std::string &table) -> RowStore & {
    auto &slot = stores[table];
    if (!slot) slot = std::make_unique<RowStore>(db_, schema, table);
    return *slot;
  };
  for (auto &table : states)
    for (auto &row : table.second) store_for(table.first).delete_live(row.first);
  for (auto &table : states) {
    RowStore &store = store_for(table.first);
    for (auto &row : table.second) {
      if (row.second.kind == RowState::Live) store.insert_live(row.first, row.second.values);
      store.set_version(row.first, row.second.rv, row.second.kind == RowState::Deleted);
    }
  }
  for (const Package &package : packages) {
    for (const EchoedRanges &echo : package.echoed) {
      RowStore &store = store_for(echo.table);
      for (const auto &range : echo.ranges) store.set_version_range(range.first, range.second, exclude);
    }
  }
  for (auto &table : history)
    for (const RowState &entry : table.second) store_for(table.first).insert_history(entry);

  rebase_newer_changes(newer, states, store_for, last_txid);
  exec(db_, "DELETE FROM " + prefix + "\"t$dirty\" WHERE txid <= " + std::to_string(last_txid));
  exec(db_, "DELETE FROM " + stage_table());
  state_.erase("pull");
  if (target) state_.set("base", std::to_string(target));
}

}  // namespace

std::string SyncStats::text() const {
  return std::to_string(partial) + ";" + std::to_string(quarantine) + ";" + std::to_string(up_full) + ";" +
         std::to_string(down_full) + ";" + std::to_string(up_compressed) + ";" + std::to_string(down_compressed) +
         ";" + std::to_string(net_ms) + ";" + std::to_string(total_ms);
}

bool valid_dbfile_name(const std::string &name, bool for_push) {
  if (name.empty() || name[0] < 'a' || name[0] > 'z') return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  if (name.rfind("zumero_", 0) == 0) {
    static const std::set<std::string> internal = {"zumero_config", "zumero_log", "zumero_users_admin",
                                                   "zumero_users_log"};
    if (!internal.count(name)) return false;
    if (for_push && name == "zumero_log") return false;
  }
  return true;
}

void throw_http_error(ConnectionState &connection, long status, const std::string &body) {
  json error = json::parse(body, nullptr, false);
  std::string identifier = error.is_object() ? error.value("error", "") : "";
  connection.last_error_details =
      error.is_object() && error.contains("details") ? error["details"].dump() : std::string();
  static const std::set<std::string> known = {
      "authentication_failed", "permission_denied", "package_rejected", "column_definition_mismatch",
      "unique_constraint_violation", "foreign_key_constraint_violation", "check_constraint_violation",
      "invalid_argument", "invalid_dbfile_name", "invalid_auth_scheme_string"};
  if (known.count(identifier)) fail(identifier);
  if (status == 400) fail("http_400");
  if (status == 401) fail("authentication_failed");
  if (status == 403) fail("permission_denied");
  if (status == 406) fail("http_406");
  if (status == 500) fail("http_500");
  fail("http_other");
}

SyncStats run_sync(sqlite3 *db, ConnectionState &connection, const SyncOptions &options) {
  if (!sqlite3_get_autocommit(db)) fail("invalid_argument");
  if (!valid_dbfile_name(options.dbfile, true) && !valid_dbfile_name(options.dbfile, false))
    fail("invalid_dbfile_name");
  require_attached(db, options.schema);
  bool prepared = query_int(db, "SELECT count(*) FROM " + quote_identifier(options.schema) +
                                    ".sqlite_master WHERE name IN ('t$schema', 't$stage')") == 2;
  if (!prepared) {
    Transaction setup(db, "BEGIN IMMEDIATE");
    ensure_housekeeping(db, options.schema);
    exec(db, "CREATE TABLE IF NOT EXISTS " + qualified(options.schema, "t$stage") +
                 " (part INTEGER PRIMARY KEY, kind TEXT NOT NULL, body BLOB NOT NULL)");
    setup.commit();
  }
  SyncState state(db, options.schema);
  std::optional<std::string> bound = state.get("dbfile");
  if (bound && *bound != options.dbfile) fail("invalid_dbfile_name");
  connection.last_error_details.clear();
  try {
    return SyncRun(db, connection, options).run();
  } catch (const DecodeError &) {
    fail("http_other");
  } catch (const json::exception &) {
    fail("http_other");
  }
}

}  // namespace zumero::sync
