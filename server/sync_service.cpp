// The sync routes: /push applies a package as one new version of a dbfile (or
// nothing), /pull returns what changed since the client's base version, /versions
// tells a client where its history and the server's part, and /storage_usage lists
// dbfile sizes. Every request is written to the server log.
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <thread>

#include "base/catalog.h"
#include "base/sql.h"
#include "server/apply_authorizer.h"
#include "server/dbfile_store.h"
#include "server/logging.h"
#include "server/pull_builder.h"
#include "server/push_apply.h"
#include "server/push_staging.h"
#include "server/request.h"
#include "server/request_header.h"
#include "server/server_log.h"
#include "sync/package.h"
#include "sync/protocol.h"
#include "sync/row_store.h"

namespace zumero::server {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

using sync::kMaxClientId;
using sync::kMaxDbfileName;
using sync::kMaxToken;
using sync::valid_dbfile_name;
constexpr std::int64_t kMaxParts = 100000;
constexpr int kKeptPackagesPerClient = 8;

bool valid_client_id(const std::string &client) {
  if (client.empty()) return false;
  for (char c : client)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  return true;
}

// What every route receives: the parsed request and the log entry it fills in.
struct RequestContext {
  const Request &request;
  RequestHeader header;
  std::string package;
  LogEntry &log;
  std::string dbfile;
};

Response envelope_response(int status, const json &header, const std::string &package, LogEntry &log) {
  std::size_t full = 0;
  Response response;
  response.status = status;
  response.body = sync::seal_envelope({header.dump(), package}, &full);
  response.content_type = "application/x-zumero";
  log.full_response_size = static_cast<std::int64_t>(full);
  return response;
}

Response refusal_response(const Refusal &refusal) {
  json body = {{"error", refusal.identifier()}, {"message", refusal.what()}, {"details", refusal.details()}};
  return Response{refusal.status(), body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json"};
}

// "zumero:unique_constraint_violation (...)" -> "unique_constraint_violation".
std::string identifier_of(const std::string &message) {
  std::string rest = message.substr(7);
  size_t end = rest.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_");
  return end == std::string::npos ? rest : rest.substr(0, end);
}

[[noreturn]] void history_diverged(std::int64_t current) {
  throw Refusal(409, "history_diverged", "the client's base version is not part of this dbfile's history",
                {{"version", current}});
}

// The client's base must be a version this dbfile had, with the token it had.
void check_base(sqlite3 *db, std::int64_t base, const std::optional<std::string> &token, std::int64_t current) {
  if (base > current) history_diverged(current);
  if (base == 0) return;
  std::string known = version_token(db, base);
  if (known.empty() || !token || *token != known) history_diverged(current);
}

class SyncService final : public Service {
public:
  explicit SyncService(const ServerConfig &config)
      : config_(config), store_(config.data_dir), log_(store_),
        staging_(config.data_dir / ".zumero-push-parts", config.max_push_bytes) {}

  void start() override {
    std::filesystem::create_directories(config_.data_dir);
    LogEntry entry;
    entry.url = "SERVER_STARTUP";
    entry.unix_time = std::time(nullptr);
    entry.status = 200;
    log_.append(entry);
    log_.flush();  // the log exists before the first request is served
  }

  // Every entry of an answered request is written before the server exits.
  void stop() override { log_.stop(); }

  Response handle(const Request &request) override {
    Clock::time_point start = Clock::now();
    LogEntry log;
    log.url = request.path;
    log.ip_address = request.remote_address;
    log.unix_time = std::time(nullptr);
    log.request_size = static_cast<std::int64_t>(request.body.size());
    Response response = dispatch(request, log);
    log.status = response.status;
    log.response_size = static_cast<std::int64_t>(response.body.size());
    log.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
    try {
      log_.append(std::move(log));
    } catch (const std::exception &failure) {
      log_error("cannot write the server log: ", failure.what());
    }
    return response;
  }

private:
  Response dispatch(const Request &request, LogEntry &log) {
    try {
      sync::Envelope envelope = open(request, log);
      RequestContext context{request, RequestHeader(envelope.header_json), std::move(envelope.package_bytes), log, {}};
      note_credentials(context);
      return route(context);
    } catch (const Refusal &refusal) {
      return refusal_response(refusal);
    } catch (const Rejection &rejection) {
      log.constraint_details = rejection.details();
      json body = {{"error", rejection.identifier()}, {"message", rejection.what()},
                   {"details", json::parse(rejection.details(), nullptr, false)}};
      return Response{406, body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json"};
    } catch (const sync::DecodeError &failure) {
      return refusal_response(Refusal(400, "http_400", std::string("malformed package: ") + failure.what()));
    } catch (const Error &failure) {
      std::string message = failure.what();
      // A zumero error caused by what the client sent (an unknown table, a definition
      // that is refused, ...): the client's mistake, nothing applied.
      if (message.rfind("zumero:", 0) == 0) return refusal_response(Refusal(400, identifier_of(message), message));
      if ((failure.code() & 0xff) == SQLITE_TOOBIG)
        return refusal_response(Refusal(413, "payload_too_large", "a value is larger than the server accepts"));
      log_error(request.path, " failed: ", message);
      return refusal_response(Refusal(500, "http_500", "internal error"));
    }
  }

  sync::Envelope open(const Request &request, LogEntry &log) {
    std::size_t full = 0;
    try {
      sync::Envelope envelope = sync::open_envelope(request.body, config_.max_payload_bytes, &full);
      log.full_request_size = static_cast<std::int64_t>(full);
      return envelope;
    } catch (const sync::PayloadTooLarge &) {
      throw Refusal(413, "payload_too_large", "the payload is larger than the server accepts",
                    {{"max_payload_bytes", config_.max_payload_bytes}, {"max_body_bytes", config_.max_body_bytes}});
    } catch (const sync::DecodeError &failure) {
      throw Refusal(400, "http_400", std::string("malformed request: ") + failure.what());
    }
  }

  static void note_credentials(RequestContext &context) {
    const json &auth = context.header.value("auth");
    if (auth.is_null()) return;
    if (!auth.is_object()) refuse("'auth' must be an object or null");
    for (const char *field : {"scheme", "user", "password"})
      if (!auth.contains(field) || !auth[field].is_string()) refuse("'auth' needs scheme, user and password");
    context.log.scheme = auth["scheme"].get<std::string>();
    context.log.username = auth["user"].get<std::string>();
  }

  Response route(RequestContext &context) {
    const std::string &path = context.request.path;
    if (path == "/storage_usage") return storage_usage(context);
    bool push = path == "/push";
    context.dbfile = context.header.text("dbfile", 4 * kMaxDbfileName);
    context.log.dbfile = context.dbfile;
    if (!valid_dbfile_name(context.dbfile, push))
      throw Refusal(400, "invalid_dbfile_name", "invalid dbfile name");
    // The log is written behind the answers: a request on it sees every one before it.
    if (context.dbfile == kLogDbfile) log_.flush();
    if (push) return handle_push(context);
    if (!push && !context.package.empty()) refuse("only a push carries a package");
    if (path == "/pull") return handle_pull(context);
    if (path == "/versions") return handle_versions(context);
    throw Refusal(404, "http_404", "no such route");
  }

  // ---- push ----------------------------------------------------------------------

  Response handle_push(RequestContext &context) {
    const RequestHeader &header = context.header;
    PartKey key;
    key.dbfile = context.dbfile;
    key.client = header.text("client", kMaxClientId);
    if (!valid_client_id(key.client)) refuse("'client' must be letters, digits, '_' or '-'");
    key.pkg = header.integer("pkg", 1, INT64_MAX);
    key.parts = header.integer_or("parts", 1, 1, kMaxParts);
    key.digest = header.optional_text("digest", kMaxToken).value_or(sync::digest_hex(context.package));
    std::int64_t part = header.integer_or("part", 1, 1, key.parts);
    if (part < key.parts) {
      sync::PackageReader check(context.package);  // a broken part is refused now, not at the end
      while (check.next() != sync::PackageReader::Section::End) {
      }
      staging_.put(key, part, context.package);
      return envelope_response(202, {{"received", part}}, std::string(), context.log);
    }
    std::lock_guard<std::mutex> writer(store_.writer_lock(context.dbfile));
    Response response = store_.exists(context.dbfile) ? push_to_existing(context, key) : push_creating(context, key);
    if (key.parts > 1) staging_.forget(key);
    return response;
  }

  Response push_to_existing(RequestContext &context, const PartKey &key) {
    PooledConnection connection = store_.acquire(context.dbfile, false);
    return apply_push(connection.get(), context, key);
  }

  // A dbfile is created only by a push that succeeds, and appears whole: the push is
  // applied to a file of its own, which takes the dbfile's name once committed, so no
  // pull ever sees a dbfile being created.
  Response push_creating(RequestContext &context, const PartKey &key) {
    if (context.package.empty() && key.parts == 1) refuse("nothing to push");
    std::filesystem::path draft = store_.draft_path(context.dbfile);
    store_.remove_files(draft);
    try {
      Response response;
      {
        Connection connection(draft, true, false);
        response = apply_push(connection.get(), context, key);
      }
      if (response.status == 200) store_.install(draft, context.dbfile);
      store_.remove_files(draft);
      if (response.status == 200) log_creation(context);
      return response;
    } catch (...) {
      store_.remove_files(draft);
      throw;
    }
  }

  PartSource part_source(const RequestContext &context, const PartKey &key) {
    PartSource parts;
    parts.count = static_cast<std::size_t>(key.parts);
    parts.load = [this, &context, key](std::size_t index) -> std::string {
      if (static_cast<std::int64_t>(index) + 1 == key.parts) return context.package;
      std::optional<std::string> part = staging_.get(key, static_cast<std::int64_t>(index) + 1);
      if (!part) throw Refusal(400, "missing_part", "a part of this push is missing", {{"part", index + 1}});
      return *part;
    };
    return parts;
  }

  // The stored answer for a package applied before, when the retry is the same package.
  std::optional<Response> earlier_answer(sqlite3 *db, RequestContext &context, const PartKey &key) {
    Statement previous(db, "SELECT digest, version, reply FROM \"t$clients\" WHERE client = ?1 AND pkg = ?2");
    previous.bind(1, key.client).bind(2, key.pkg);
    if (previous.step()) {
      // The same number with other content: a copied or restored database file.
      if (previous.column_text(0) != key.digest) reused_identity();
      std::int64_t version = previous.column_int(1);
      const void *data = sqlite3_column_blob(previous.get(), 2);
      std::string reply(static_cast<const char *>(data ? data : ""), sqlite3_column_bytes(previous.get(), 2));
      return envelope_response(200, {{"version", version}, {"token", version_token(db, version)}}, reply, context.log);
    }
    Statement latest(db, "SELECT max(pkg) FROM \"t$clients\" WHERE client = ?1");
    latest.bind(1, key.client);
    if (latest.step() && !latest.is_null(0) && latest.column_int(0) >= key.pkg) reused_identity();
    return std::nullopt;
  }

  [[noreturn]] static void reused_identity() {
    throw Refusal(409, "client_identity_reused", "another database already used this client identity");
  }

  // Runs under the dbfile's writer lock.
  Response apply_push(sqlite3 *db, RequestContext &context, const PartKey &key) {
    const RequestHeader &header = context.header;
    std::int64_t base = header.integer("base", 0, INT64_MAX);
    std::optional<std::string> base_token = header.optional_text("base_token", kMaxToken);
    Transaction transaction(db, "BEGIN IMMEDIATE");
    ensure_server_tables(db);
    if (std::optional<Response> answer = earlier_answer(db, context, key)) return *answer;
    std::int64_t version = current_version(db);
    check_base(db, base, base_token, version);
    if (version == INT64_MAX) refuse("the dbfile has no versions left");
    std::string reply;
    {
      ApplyAuthorizer authorizer(db);
      reply = server::apply_push(db, part_source(context, key), base, version + 1);
    }
    std::string token = advance_version(db, version + 1);
    remember(db, key, version + 1, reply);
    stall_for_tests();
    transaction.commit();
    store_.note_committed_version(context.dbfile, version + 1, token);
    context.log.txid_max = version + 1;
    return envelope_response(200, {{"version", version + 1}, {"token", token}}, reply, context.log);
  }

  static void remember(sqlite3 *db, const PartKey &key, std::int64_t version, const std::string &reply) {
    Statement insert(db, "INSERT INTO \"t$clients\" (client, pkg, digest, version, reply) VALUES (?1, ?2, ?3, ?4, ?5)");
    insert.bind(1, key.client).bind(2, key.pkg).bind(3, key.digest).bind(4, version);
    insert.bind_blob(5, reply.data(), reply.size()).run();
    Statement prune(db, "DELETE FROM \"t$clients\" WHERE client = ?1 AND pkg <= ?2");
    prune.bind(1, key.client).bind(2, key.pkg - kKeptPackagesPerClient).run();
  }

  void log_creation(const RequestContext &context) {
    LogEntry entry;
    entry.dbfile = context.dbfile;
    entry.url = "CREATE_DBFILE";
    entry.ip_address = context.log.ip_address;
    entry.unix_time = context.log.unix_time;
    entry.scheme = context.log.scheme;
    entry.username = context.log.username;
    entry.status = 200;
    try {
      log_.append(std::move(entry));
    } catch (const std::exception &failure) {
      log_error("cannot write the server log: ", failure.what());
    }
  }

  // With ZUMERO_TEST_HOOKS=1, ZUMERO_TEST_PUSH_STALL_MS holds a push inside its write
  // transaction, so tests can kill the server mid-push or change the client meanwhile.
  void stall_for_tests() {
    if (!config_.test_hooks) return;
    const char *stall = std::getenv("ZUMERO_TEST_PUSH_STALL_MS");
    if (stall) std::this_thread::sleep_for(std::chrono::milliseconds(std::atoll(stall)));
  }

  // ---- pull ----------------------------------------------------------------------

  Response handle_pull(RequestContext &context) {
    const RequestHeader &header = context.header;
    PullRequest pull;
    pull.base = header.integer("base", 0, INT64_MAX);
    std::optional<std::string> base_token = header.optional_text("base_token", kMaxToken);
    pull.target = header.integer_or("target", 0, 0, INT64_MAX);
    pull.exclude = header.integer_or("exclude", 0, 0, INT64_MAX);
    pull.history = header.boolean_or("history", true);
    pull.cursor = parse_cursor(header.value("cursor"));
    pull.chunk_bytes = config_.pull_chunk_bytes;
    if (!store_.exists(context.dbfile)) return envelope_response(200, {{"missing", true}}, std::string(), context.log);
    // Nothing new, as the version the store knows says: no SQL at all.
    DbfileStore::VersionSnapshot known = store_.known_version(context.dbfile);
    if (known.known && pull.cursor.phase == 0 && pull.base == known.known->version && pull.base > 0 && base_token &&
        *base_token == known.known->token)
      return not_modified(context);
    PooledConnection connection = store_.acquire(context.dbfile, false);
    sqlite3 *db = connection.get();
    Transaction read(db, "BEGIN");
    std::int64_t version = current_version(db);
    store_.note_read_version(context.dbfile, known.epoch, version, version_token(db, version));
    check_base(db, pull.base, base_token, version);
    if (pull.base == version && pull.cursor.phase == 0) return not_modified(context);
    if (pull.target > version || (pull.target && pull.target < pull.base)) refuse("'target' is out of range");
    PullResult result = build_pull(db, pull, version);
    std::string token = version_token(db, result.target);
    read.commit();
    json reply = {{"target", result.target}, {"token", token}, {"partial", result.partial}};
    if (result.partial) reply["cursor"] = cursor_json(result.next);
    return envelope_response(200, reply, result.package, context.log);
  }

  static Response not_modified(RequestContext &context) {
    context.log.full_response_size = 0;
    return Response{304, std::string(), "application/x-zumero"};
  }

  // ---- versions ------------------------------------------------------------------

  // The newest of the client's (version, token) pairs this dbfile agrees with.
  Response handle_versions(RequestContext &context) {
    const json &versions = context.header.value("versions");
    if (!versions.is_array() || versions.size() > 256) refuse("'versions' must be a list of at most 256 pairs");
    if (!store_.exists(context.dbfile)) return envelope_response(200, {{"missing", true}}, std::string(), context.log);
    PooledConnection connection = store_.acquire(context.dbfile, false);
    sqlite3 *db = connection.get();
    Transaction read(db, "BEGIN");
    std::int64_t current = current_version(db);
    std::int64_t common = 0;
    for (const json &pair : versions) {
      if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number_integer() || !pair[1].is_string())
        refuse("'versions' must hold [version, token] pairs");
      std::int64_t version = pair[0].get<std::int64_t>();
      if (version <= common || version > current) continue;
      if (version_token(db, version) == pair[1].get<std::string>()) common = version;
    }
    json reply = {{"common", common}, {"token", version_token(db, common)}, {"current", current}};
    read.commit();
    return envelope_response(200, reply, std::string(), context.log);
  }

  // ---- storage usage -------------------------------------------------------------

  Response storage_usage(RequestContext &context) {
    json dbfiles = json::array();
    for (const auto &entry : std::filesystem::directory_iterator(store_.data_dir())) {
      std::string name = entry.path().stem().string();
      if (entry.path().extension() != ".db" || !valid_dbfile_name(name, false)) continue;
      std::error_code error;
      auto size = std::filesystem::file_size(entry.path(), error);
      if (error) continue;
      dbfiles.push_back({{"dbfile", name}, {"size", static_cast<std::int64_t>(size)}});
    }
    return envelope_response(200, {{"dbfiles", dbfiles}}, std::string(), context.log);
  }

  const ServerConfig &config_;
  DbfileStore store_;
  ServerLog log_;
  PushStaging staging_;
};

}  // namespace

std::unique_ptr<Service> make_sync_service(const ServerConfig &config) { return std::make_unique<SyncService>(config); }

}  // namespace zumero::server
