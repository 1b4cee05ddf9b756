#include "base/json_text.h"
#include "ext/sync_client.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <set>

#include "base/catalog.h"
#include "base/sql.h"
#include "base/table_definition.h"
#include "ext/functions.h"
#include "ext/sync_progress.h"
#include "quarantine/quarantine.h"
#include "sync/client_state.h"
#include "sync/file_lock.h"
#include "sync/http_client.h"
#include "sync/package.h"
#include "sync/protocol.h"
#include "sync/push_builder.h"
#include "sync/state_apply.h"

namespace zumero {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxReplyPayload = std::size_t(256) << 20;
constexpr std::size_t kDefaultPartBytes = std::size_t(4) << 20;
constexpr std::size_t kSmallestPartBytes = 4096;
constexpr int kMaxRounds = 4;

std::int64_t elapsed_ms(Clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count();
}

// What the sync of one schema keeps with the application's connection between calls:
// its own connection to the database file (opened once, with zumero registered; SQLite
// parses the schema once, not per sync), the lock file, and the HTTP handle whose
// connection to the server stays open. Kept while the schema names the same file.
class SyncSession final : public ConnectionExtra {
public:
  SyncSession(std::string path, std::string vfs) : path_(std::move(path)), vfs_(std::move(vfs)), lock_(path_) {}
  ~SyncSession() override { close_own(); }

  const std::string &path() const { return path_; }
  const std::string &vfs() const { return vfs_; }
  sync::FileLock &lock() { return lock_; }
  HttpSession &http() { return http_; }

  // The session's own connection, opened at the first call.
  sqlite3 *own(ConnectionState *&state) {
    // A file replaced under its name (a copy or a backup put in its place) is another
    // database: the connection kept would still write to the old one.
    std::string identity = sync::file_identity(path_);
    if (own_ && identity != identity_) close_own();
    if (!own_) {
      identity_ = identity;
      int rc = sqlite3_open_v2(path_.c_str(), &own_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                               vfs_.empty() ? nullptr : vfs_.c_str());
      if (rc != SQLITE_OK || register_zumero(own_) != SQLITE_OK) {
        close_own();
        fail("invalid_argument", rc != SQLITE_OK ? rc : SQLITE_ERROR);
      }
      sqlite3_busy_timeout(own_, 60000);
      own_state_ = ConnectionState::find(own_);
      keep_statements(own_);
    }
    state = own_state_.get();
    return own_;
  }
  // A connection left inside a transaction (a failure on the way out) is not reused.
  void drop_unless_idle() {
    if (own_ && !sqlite3_get_autocommit(own_)) close_own();
  }

  // Whether the sync tables were made on the own connection: once is enough.
  bool tables_ready = false;

private:
  void close_own() {
    tables_ready = false;
    own_state_.reset();
    if (own_) {
      drop_kept_statements(own_);  // sqlite3_close needs them finalized
      sqlite3_close_v2(own_);
    }
    own_ = nullptr;
  }
  std::string path_;
  std::string vfs_;
  std::string identity_;  // device and inode of the file the connection has open
  sync::FileLock lock_;
  HttpSession http_;
  sqlite3 *own_ = nullptr;
  std::shared_ptr<ConnectionState> own_state_;
};

// The session of schema on the application's connection: the one kept, unless the
// schema now names another file (or VFS), then a new one.
SyncSession &session_of(sqlite3 *app, ConnectionState &app_state, const std::string &schema) {
  const char *file = sqlite3_db_filename(app, schema.c_str());
  std::string path = file ? file : "";
  std::string vfs;
  if (!path.empty()) {
    sqlite3_vfs *pointer = nullptr;
    sqlite3_file_control(app, schema.c_str(), SQLITE_FCNTL_VFS_POINTER, &pointer);
    if (pointer && pointer->zName) vfs = pointer->zName;
  }
  std::unique_ptr<ConnectionExtra> &slot = app_state.sync_sessions[schema];
  auto *session = dynamic_cast<SyncSession *>(slot.get());
  if (!session || session->path() != path || session->vfs() != vfs) {
    slot.reset();
    slot = std::make_unique<SyncSession>(path, vfs);
    session = static_cast<SyncSession *>(slot.get());
  }
  return *session;
}

// The sync's own connection commits as durably as the application asked for its own
// writes to that file (PRAGMA synchronous is a setting of each connection). When the
// application's setting cannot be read (its authorizer refuses PRAGMA), SQLite's
// default stays.
void follow_durability(sqlite3 *app, const std::string &schema, sqlite3 *own) {
  sqlite3_stmt *read = nullptr;
  std::string pragma = "PRAGMA " + quote_identifier(schema) + ".synchronous";
  if (sqlite3_prepare_v2(app, pragma.c_str(), -1, &read, nullptr) != SQLITE_OK) {
    sqlite3_finalize(read);
    return;
  }
  int level = sqlite3_step(read) == SQLITE_ROW ? sqlite3_column_int(read, 0) : -1;
  sqlite3_finalize(read);
  if (level < 0 || level > 3) return;
  if (query_int(own, "PRAGMA main.synchronous", -1) == level) return;
  exec(own, "PRAGMA main.synchronous = " + std::to_string(level));
}

// The connection a sync works on: the session's own connection to the database file
// when it has one, so the application's connection keeps its settings and its
// authorizer, and nothing the sync runs can be confused with the application's
// statements. A database without a file (":memory:") is synced on the application's
// connection, and so is one the caller holds a read transaction on (it would block
// our commit).
class SyncConnection {
public:
  SyncConnection(sqlite3 *app, ConnectionState &app_state, const std::string &schema, SyncSession &session)
      : db_(app), state_(&app_state), schema_(schema), path_(session.path()), session_(session) {
    if (path_.empty() || sqlite3_txn_state(app, schema.c_str()) != SQLITE_TXN_NONE) return;
    db_ = session.own(state_);
    follow_durability(app, schema, db_);
    schema_ = "main";
    own_ = true;
  }
  ~SyncConnection() { session_.drop_unless_idle(); }
  SyncConnection(const SyncConnection &) = delete;
  SyncConnection &operator=(const SyncConnection &) = delete;

  sqlite3 *db() const { return db_; }
  ConnectionState &state() const { return *state_; }
  const std::string &schema() const { return schema_; }
  const std::string &path() const { return path_; }
  HttpSession &http() const { return session_.http(); }
  // Makes the sync tables, once per session on the session's own connection (made
  // means committed: tables_committed() is called after the commit).
  void ensure_sync_tables() {
    if (!(own_ && session_.tables_ready)) sync::ensure_sync_tables(db_, schema_);
  }
  void tables_committed() {
    if (own_) session_.tables_ready = true;
  }

private:
  bool own_ = false;
  sqlite3 *db_;
  ConnectionState *state_;
  std::string schema_;
  std::string path_;
  SyncSession &session_;
};

// Thrown inside a round when the server says the client's history is not its own.
struct HistoryDiverged {};

class SyncRun {
public:
  SyncRun(SyncConnection &connection, ConnectionState &app, const SyncOptions &options)
      : target_(connection), db_(connection.db()), connection_(connection.state()), app_(app),
        schema_(connection.schema()), path_(connection.path()), http_(connection.http()), options_(options),
        state_(db_, schema_), progress_(app.sync_progress) {}

  SyncStats run();

private:
  enum class RoundEnd { Complete, Partial, Again };
  // resumed: the round finished work an earlier call started.
  RoundEnd round(bool &resumed);
  void prepare();
  json header();
  HttpResponse post(const std::string &path, const json &header, const std::string &package, bool push);
  std::optional<json> push_pending();
  bool send_parts(json &pending, std::vector<std::string> &parts, std::string &reply_header, std::string &reply);
  RoundEnd pull(const json &pulling);
  void stage_reply(const json &pull);
  void keep_reply(const json &pull);
  void apply(const json &pulling, std::optional<sync::Envelope> last_part);
  void recover();
  [[noreturn]] void refused(const HttpResponse &response);

  SyncConnection &target_;
  sqlite3 *db_;
  ConnectionState &connection_;
  ConnectionState &app_;
  std::string schema_;
  std::string path_;
  HttpSession &http_;
  const SyncOptions &options_;
  sync::ClientState state_;
  SyncStats stats_;
  SyncProgressReporter progress_;
  std::size_t part_bytes_ = kDefaultPartBytes;
  std::optional<std::string> unstaged_reply_;  // the push's reply, until staged or applied
  int recoveries_ = 0;
};

json SyncRun::header() {
  json header;
  header["dbfile"] = options_.dbfile;
  if (options_.credentials) {
    header["auth"] = {{"scheme", options_.credentials->scheme},
                      {"user", options_.credentials->user},
                      {"password", options_.credentials->password}};
  } else {
    header["auth"] = nullptr;
  }
  header["client"] = state_.client_id();
  header["base"] = state_.base();
  std::optional<std::string> token = state_.base_token();
  header["base_token"] = token ? json(*token) : json(nullptr);
  return header;
}

HttpResponse SyncRun::post(const std::string &path, const json &header, const std::string &package, bool push) {
  std::size_t full = 0;
  std::string body = sync::seal_envelope({header.dump(), package}, &full);
  if (push) {  // the figures count packages pushed, not pull requests
    stats_.up_full += full;
    stats_.up_compressed += body.size();
  }
  bool pull = path == "/pull";
  TransferProgress observe = push ? progress_.push_part(package.size()) : pull ? progress_.pull_transfer() : TransferProgress();
  Clock::time_point start = Clock::now();
  HttpResponse response = http_.post(options_.url, path, body, "application/x-zumero", 300, observe);
  stats_.net_ms += elapsed_ms(start);
  stats_.down_compressed += response.body.size();
  if (push && (response.status == 200 || response.status == 202)) progress_.part_sent(package.size());
  if (pull) progress_.pull_received(response.body.size());
  return response;
}

[[noreturn]] void SyncRun::refused(const HttpResponse &response) {
  throw_http_error(app_, response.status, response.body);
}

// Sets up the housekeeping tables, and a new identity when the file is not the one
// the identity was made for (a copy, or a file restored from a backup).
void SyncRun::prepare() {
  Transaction setup(db_, "BEGIN IMMEDIATE");
  target_.ensure_sync_tables();
  std::optional<std::string> bound = state_.get("dbfile");
  if (bound && *bound != options_.dbfile) fail("invalid_argument");
  std::string identity = sync::file_identity(path_);
  std::optional<std::string> known = state_.get("file");
  bool in_flight = state_.get("pending") || state_.get("pull");
  if (!state_.get("client")) state_.new_client_id();
  if (!identity.empty() && known != identity && !in_flight) {
    if (known) state_.new_client_id();
    state_.set("file", identity);
  }
  setup.commit();
  target_.tables_committed();
}

// Builds the push if none is in flight, then sends it. Returns the pull to do next.
std::optional<json> SyncRun::push_pending() {
  std::optional<json> pending = state_.get_json("pending");
  if (!pending) {
    Transaction write(db_, "BEGIN IMMEDIATE");  // no one changes t$dirty between read and record
    std::optional<sync::PushPackage> built =
        sync::build_push(db_, schema_, part_bytes_, state_.base(), state_.get_int("restoring"));
    json pull = {{"L", built ? built->last_txid : query_int(db_, "SELECT coalesce(max(txid), 0) FROM " +
                                                                     qualified(schema_, "t$tx"))},
                 {"S", built ? built->last_seq : 0}};
    if (!built) {
      write.commit();
      return pull;
    }
    state_.clear_stage("push");
    for (const std::string &part : built->parts) state_.stage("push", part);
    pending = json{{"pkg", state_.take_package_number()}, {"parts", built->parts.size()}, {"digest", built->digest},
                   {"L", built->last_txid}, {"S", built->last_seq}};
    state_.set_json("pending", *pending);
    write.commit();
  }
  std::vector<std::string> parts = state_.staged("push");
  std::string reply_header, reply;
  if (!send_parts(*pending, parts, reply_header, reply)) return std::nullopt;
  json answer = parse_json(reply_header);
  if (!answer.is_object() || !answer.contains("version")) fail("http_other");
  json pull = {{"L", pending->value("L", 0)}, {"S", pending->value("S", 0)},
               {"exclude", answer.at("version").get<std::int64_t>()},
               {"exclude_token", answer.value("token", "")}, {"replied", true}};
  // The reply waits in memory for the pull, and the apply stores it with everything
  // else in one transaction. A pull that does not complete stages it first (keep_reply),
  // so the next call finds it; lost in a crash, it comes back from the server, which
  // answers the same package sent again with the stored reply.
  unstaged_reply_ = std::move(reply);
  return pull;
}

// Inside a write transaction: the reply in memory goes to t$stage, as the push's answer.
void SyncRun::stage_reply(const json &pull) {
  if (!unstaged_reply_) return;
  state_.clear_stage("reply");
  state_.stage("reply", *unstaged_reply_);
  state_.erase("pending");
  state_.set_json("pull", pull);
}

void SyncRun::keep_reply(const json &pull) {
  if (!unstaged_reply_) return;
  Transaction write(db_, "BEGIN IMMEDIATE");
  stage_reply(pull);
  write.commit();
  unstaged_reply_.reset();
}

// Sends every part; false when the server said the client's history is not its own.
bool SyncRun::send_parts(json &pending, std::vector<std::string> &parts, std::string &reply_header,
                         std::string &reply) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    progress_.begin_push(parts);
    json request = header();
    request["pkg"] = pending["pkg"];
    request["parts"] = parts.size();
    request["digest"] = pending["digest"];
    bool retry = false;
    for (size_t i = 0; i < parts.size() && !retry; ++i) {
      request["part"] = i + 1;
      HttpResponse response = post("/push", request, parts[i], true);
      json error = parse_json(response.body);
      std::string identifier = error.is_object() ? error.value("error", "") : "";
      if (response.status == 409 && identifier == "history_diverged") throw HistoryDiverged{};
      if (response.status == 409 && identifier == "client_identity_reused") {
        // Another copy of this file pushed under the identity: take a new one and send
        // the same package again under it.
        Transaction write(db_, "BEGIN IMMEDIATE");
        state_.new_client_id();
        pending["pkg"] = state_.take_package_number();
        state_.set_json("pending", pending);
        write.commit();
        retry = true;
        break;
      }
      if (response.status == 413 && parts.size() < 100000) {
        std::size_t limit = 0;
        if (error.is_object() && error.contains("details") && error["details"].is_object())
          limit = error["details"].value("max_payload_bytes", std::size_t{0});
        std::size_t largest = 0;
        for (const std::string &part : parts) largest = std::max(largest, part.size());
        std::size_t next = std::max(kSmallestPartBytes, std::min(largest / 2, limit ? limit / 2 : largest / 2));
        if (next >= part_bytes_ && largest <= next) refused(response);
        part_bytes_ = next;
        parts = sync::split_parts(parts, part_bytes_);
        Transaction write(db_, "BEGIN IMMEDIATE");
        state_.clear_stage("push");
        for (const std::string &part : parts) state_.stage("push", part);
        pending["parts"] = parts.size();
        state_.set_json("pending", pending);
        write.commit();
        retry = true;
        break;
      }
      bool last = i + 1 == parts.size();
      if ((!last && response.status == 202) || (last && response.status == 200)) {
        if (!last) continue;
        std::size_t full = 0;
        sync::Envelope envelope = sync::open_envelope(response.body, kMaxReplyPayload, &full);
        stats_.down_full += full;
        reply_header = std::move(envelope.header_json);
        reply = std::move(envelope.package_bytes);
        return true;
      }
      if (response.status >= 400 && response.status < 500) {
        // Refused for good: the next sync builds the push anew (or the app quarantines).
        Transaction clear(db_, "BEGIN IMMEDIATE");
        state_.erase("pending");
        state_.clear_stage("push");
        clear.commit();
      }
      refused(response);
    }
    if (!retry) break;
  }
  fail("http_other");
}

SyncRun::RoundEnd SyncRun::pull(const json &pulling) {
  json request = header();
  request["target"] = pulling.value("target", 0);
  request["exclude"] = pulling.value("exclude", 0);
  request["cursor"] = pulling.contains("cursor") ? pulling["cursor"] : json(nullptr);
  request["history"] = !options_.without_history;
  HttpResponse response = post("/pull", request, std::string(), false);
  json error = parse_json(response.body);
  if (response.status == 409 && error.is_object() && error.value("error", "") == "history_diverged")
    throw HistoryDiverged{};
  if (response.status == 304) {
    if (!pulling.value("replied", false) && !state_.get("pull")) return RoundEnd::Complete;  // nothing at all
    apply(pulling, std::nullopt);
    return RoundEnd::Complete;
  }
  // A client may be allowed to push what it may not pull (7.4 secures zumero_config
  // so). When its own push was the only version since its base, the reply alone
  // holds the new state.
  bool own_version_only = pulling.value("replied", false) &&
                          pulling.value("exclude", std::int64_t{0}) == state_.base() + 1 && !pulling.contains("cursor");
  if (response.status == 403 && own_version_only) {
    json own = pulling;
    own["target"] = pulling.value("exclude", std::int64_t{0});
    own["token"] = pulling.value("exclude_token", "");
    apply(own, std::nullopt);
    return RoundEnd::Complete;
  }
  if (response.status != 200) refused(response);
  std::size_t full = 0;
  sync::Envelope part = sync::open_envelope(response.body, kMaxReplyPayload, &full);
  stats_.down_full += full;
  json answer = parse_json(part.header_json);
  if (!answer.is_object()) fail("http_other");
  if (answer.value("missing", false)) {
    // No such dbfile: fine for a client that never synced; the history is gone otherwise.
    if (state_.base() > 0) throw HistoryDiverged{};
    if (pulling.value("replied", false)) fail("http_other");
    return RoundEnd::Complete;
  }
  json next = pulling;
  next["target"] = answer.at("target").get<std::int64_t>();
  next["token"] = answer.value("token", "");
  if (answer.value("partial", false)) {
    next["cursor"] = answer.at("cursor");
    Transaction write(db_, "BEGIN IMMEDIATE");
    stage_reply(next);
    state_.stage("pull", part.package_bytes);
    state_.set_json("pull", next);
    write.commit();
    unstaged_reply_.reset();
    return RoundEnd::Partial;
  }
  apply(next, std::move(part));
  return RoundEnd::Complete;
}

// One write transaction: set the late local changes aside, apply everything the server
// sent, move the base, then restore the late changes through the rules.
void SyncRun::apply(const json &pulling, std::optional<sync::Envelope> last_part) {
  Transaction write(db_, "BEGIN IMMEDIATE");
  ApplyProgressScope observed(connection_, progress_);  // a cancel rolls the transaction back
  std::int64_t last_txid = pulling.value("L", 0);
  std::int64_t last_seq = pulling.value("S", 0);
  std::string late = quarantine::set_aside(db_, schema_, last_txid, state_.staged("push"));
  Statement pushed_schema(db_, "DELETE FROM " + qualified(schema_, "t$schema") + " WHERE rv IS NULL AND seq <= ?1");
  pushed_schema.bind(1, last_seq).run();
  std::vector<std::string> packages;
  bool replied = pulling.value("replied", false);
  if (replied && unstaged_reply_) {
    packages.push_back(*unstaged_reply_);
    state_.erase("pending");
  } else if (replied) {
    std::vector<std::string> reply = state_.staged("reply");
    packages.push_back(reply.empty() ? std::string() : reply.front());
  }
  for (std::string &staged : state_.staged("pull")) packages.push_back(std::move(staged));
  if (last_part) packages.push_back(std::move(last_part->package_bytes));
  sync::Renumbered renumbered =
      sync::apply_server_changes(db_, connection_, schema_, packages, replied, pulling.value("exclude", 0));
  Statement pushed(db_, "DELETE FROM " + qualified(schema_, "t$dirty") + " WHERE txid <= ?1");
  pushed.bind(1, last_txid).run();
  for (const char *kind : {"push", "reply", "pull"}) state_.clear_stage(kind);
  state_.erase("pull");
  state_.erase("restoring");
  state_.erase("purged_base");
  state_.set_int("synced_txid", last_txid);
  if (pulling.contains("target") && pulling["target"].get<std::int64_t>() > 0) {
    state_.set_base(pulling["target"].get<std::int64_t>(), pulling.value("token", ""));
  } else if (replied) {
    state_.set_base(pulling.value("exclude", 0), pulling.value("exclude_token", ""));
  }
  if (!state_.get("dbfile")) state_.set("dbfile", options_.dbfile);
  quarantine::RestoreOutcome outcome = quarantine::restore(db_, connection_, schema_, late, renumbered);
  if (!outcome.restored) stats_.quarantine = quarantine::keep(db_, schema_, late);
  ChangeLedger &ledger = connection_.ledger(schema_);
  ledger.flush(db_, schema_);
  progress_.apply_finished();
  write.commit();
  ledger.end();
  unstaged_reply_.reset();
}

// The server's history is not the one the client synced with (it was restored from an
// older backup, or the dbfile was made anew): find the newest version both still
// share, and offer the server again every row the client holds from later versions.
void SyncRun::recover() {
  if (++recoveries_ > 2) fail("http_other");
  json request = header();
  json versions = json::array();
  for (const auto &base : state_.recent_bases(64)) versions.push_back(json::array({base.first, base.second}));
  request["versions"] = versions;
  HttpResponse response = post("/versions", request, std::string(), false);
  if (response.status != 200) refused(response);
  json answer = parse_json(sync::open_envelope(response.body, kMaxReplyPayload).header_json);
  if (!answer.is_object()) fail("http_other");
  std::int64_t common = answer.value("missing", false) ? 0 : answer.value("common", std::int64_t{0});
  std::string token = answer.value("missing", false) ? std::string() : answer.value("token", "");
  if (common > state_.base()) common = state_.base();

  Transaction write(db_, "BEGIN IMMEDIATE");
  ChangeLedger &ledger = connection_.ledger(schema_);
  std::int64_t restoring_txid = ledger.txid(db_, schema_);
  for (const std::string &table : zumero_table_names(db_, schema_)) {
    Statement rows(db_, "SELECT z_recid FROM " + qualified(schema_, version_table_name(table)) +
                            " WHERE z_rv > ?1 ORDER BY z_recid");
    rows.bind(1, common);
    while (rows.step()) ledger.note(table, rows.column_int(0));
  }
  ledger.flush(db_, schema_);
  Statement entries(db_, "UPDATE " + qualified(schema_, "t$schema") + " SET rv = NULL, origin = NULL WHERE rv > ?1");
  entries.bind(1, common).run();
  state_.forget_bases_after(common);
  state_.set_base(common, token);
  state_.erase("pending");
  state_.erase("pull");
  for (const char *kind : {"push", "reply", "pull"}) state_.clear_stage(kind);
  state_.set_int("restoring", restoring_txid);
  state_.new_client_id();
  write.commit();
  ledger.end();
}

SyncRun::RoundEnd SyncRun::round(bool &used_old_push) {  // used_old_push: resumed
  try {
    std::optional<json> pulling = state_.get_json("pull");
    used_old_push = pulling || state_.get("pending");
    if (!pulling) {
      pulling = push_pending();
      if (!pulling) fail("http_other");
    }
    try {
      return pull(*pulling);
    } catch (...) {
      try {
        keep_reply(*pulling);
      } catch (...) {
        // Not staged: the push stays pending and is sent again, which brings it back.
      }
      throw;
    }
  } catch (const HistoryDiverged &) {
    recover();
    return RoundEnd::Again;
  }
}

SyncStats SyncRun::run() {
  Clock::time_point start = Clock::now();
  prepare();
  for (int rounds = 0; rounds < kMaxRounds; ++rounds) {
    bool used_old_push = false;
    RoundEnd end = round(used_old_push);
    if (end == RoundEnd::Partial) {
      stats_.partial = 1;
      break;
    }
    // A push left over from an earlier call does not hold what was committed since:
    // one more round sends it, so a complete sync has pushed everything before it.
    if (end == RoundEnd::Complete && !used_old_push) break;
  }
  stats_.total_ms = elapsed_ms(start);
  return stats_;
}

}  // namespace

std::string SyncStats::text() const {
  return std::to_string(partial) + ";" + std::to_string(quarantine) + ";" + std::to_string(up_full) + ";" +
         std::to_string(down_full) + ";" + std::to_string(up_compressed) + ";" + std::to_string(down_compressed) +
         ";" + std::to_string(net_ms) + ";" + std::to_string(total_ms);
}

void check_server_url(const std::string &url) {
  std::string lower = lower_ascii(url);
  std::string rest;
  if (lower.rfind("http://", 0) == 0) rest = url.substr(7);
  else if (lower.rfind("https://", 0) == 0) rest = url.substr(8);
  else fail("invalid_argument");
  if (rest.empty() || rest[0] == '/' || rest.find_first_of(" \t\r\n") != std::string::npos) fail("invalid_argument");
}

void throw_http_error(ConnectionState &connection, long status, const std::string &body) {
  json error = parse_json(body);
  std::string identifier = error.is_object() ? error.value("error", "") : "";
  connection.last_error_details =
      error.is_object() && error.contains("details") ? error["details"].dump() : std::string();
  static const std::set<std::string> known = {
      "authentication_failed", "permission_denied", "package_rejected", "column_definition_mismatch",
      "unique_constraint_violation", "foreign_key_constraint_violation", "check_constraint_violation",
      "invalid_argument", "invalid_dbfile_name", "invalid_auth_scheme_string", "syntax_error",
      "conflict_clauses_unsupported", "no_dollar_sign_in_table_name"};
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
  check_server_url(options.url);
  if (!sync::valid_dbfile_name(options.dbfile, true) && !sync::valid_dbfile_name(options.dbfile, false))
    fail("invalid_dbfile_name");
  require_attached(db, options.schema);
  connection.last_error_details.clear();
  SyncSession &session = session_of(db, connection, options.schema);
  // Taken before the connection is used: syncs of one file never overlap.
  sync::FileLockHolder lock(session.lock());
  SyncConnection target(db, connection, options.schema, session);
  try {
    return SyncRun(target, connection, options).run();
  } catch (const sync::DecodeError &) {
    fail("http_other");
  } catch (const json::exception &) {
    fail("http_other");
  }
}

}  // namespace zumero
