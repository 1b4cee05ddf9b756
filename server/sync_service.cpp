// The sync routes: /push applies a package as one new version of a dbfile (or
// nothing), /pull returns what changed since the client's base version, /versions
// tells a client where its history and the server's part, and /storage_usage lists
// dbfile sizes. Every request is written to the server log.
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <thread>

#include <unistd.h>

#include "base/catalog.h"
#include "base/sql.h"
#include "server/apply_authorizer.h"
#include "server/auth_routes.h"
#include "server/backup.h"
#include "server/permissions.h"
#include "server/request_context.h"
#include "server/storage.h"
#include "server/logging.h"
#include "server/metrics.h"
#include "server/ops_routes.h"
#include "server/pull_builder.h"
#include "server/push_apply.h"
#include "server/push_meter.h"
#include "server/push_staging.h"
#include "server/query_route.h"
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

std::unique_ptr<Storage> make_storage(const ServerConfig &config) {
  if (!config.store.empty()) return make_postgresql_storage(config.store, config.data_dir, config.store_connections);
  return make_sqlite_file_storage(config.data_dir);
}

// This server among several: its host name and port.
std::string node_name(const ServerConfig &config) {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "%s", config.listen_host.c_str());
  return std::string(host) + ":" + std::to_string(config.listen_port);
}

class SyncService final : public Service {
public:
  SyncService(const ServerConfig &config, Metrics &metrics)
      : config_(config), metrics_(metrics), store_(make_storage(config)), log_(*store_),
        staging_(config.data_dir / ".zumero-push-parts", config.max_push_bytes, config.store),
        authenticator_(*store_, AuthLimits{config.auth_throttle_after, config.auth_throttle_max_ms}),
        permissions_(*store_, authenticator_), auth_routes_(*store_, authenticator_, permissions_),
        backups_(*store_, BackupSettings{config.backup_dir, std::chrono::seconds(config.backup_interval),
                                        config.backup_keep, [&metrics](std::int64_t when) {
                                          metrics.set_last_backup(Metrics::SystemClock::from_time_t(when));
                                        }}),
        ops_(*store_, authenticator_, permissions_, metrics, [&config] { return node_name(config); }) {}

  void start() override {
    // One value may be as large as a whole payload, and no larger.
    set_value_limit(std::max<std::size_t>(config_.max_payload_bytes, 1024 * 1024));
    std::filesystem::create_directories(config_.data_dir);
    store_->open();
    LogEntry entry;
    entry.url = "SERVER_STARTUP";
    entry.unix_time = std::time(nullptr);
    entry.status = 200;
    log_.append(entry);
    log_.flush();  // the log exists before the first request is served
    create_admin();
    backups_.start();
  }

  // Every entry of an answered request is written before the server exits.
  void stop() override {
    backups_.stop();
    log_.stop();
  }

  Response handle(const Request &request) override {
    Clock::time_point start = Clock::now();
    LogEntry log;
    log.url = request.path;
    log.ip_address = request.remote_address;
    log.unix_time = std::time(nullptr);
    log.request_size = static_cast<std::int64_t>(request.body.size());
    Response response = dispatch(request, log);
    response.dbfile = log.dbfile;
    response.user = log.username;
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

  Response handle_get(const Request &request) override { return ops_.handle(request); }

private:
  Response dispatch(const Request &request, LogEntry &log) {
    try {
      sync::Envelope envelope = open(request, log);
      RequestContext context{request, RequestHeader(envelope.header_json), std::move(envelope.package_bytes), log, {},
                             {}};
      note_credentials(context);
      note_dbfile(context);
      context.identity = authenticator_.authenticate(context.header.value("auth"), request.remote_address);
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
    } catch (const StorageUnavailable &failure) {
      log_warn(request.path, ": storage unavailable: ", failure.what());
      return refusal_response(
          Refusal(503, "server_unavailable", "the server's storage is unavailable; nothing was changed, try again"));
    } catch (const Error &failure) {
      std::string message = failure.what();
      // A zumero error caused by what the client sent (an unknown table, a definition
      // that is refused, ...): the client's mistake, nothing applied.
      if (message.rfind("zumero:", 0) == 0) {
        std::string identifier = identifier_of(message);
        bool constraint = identifier.size() > 21 && identifier.rfind("_constraint_violation") == identifier.size() - 21;
        return refusal_response(Refusal(constraint ? 406 : 400, identifier, message));
      }
      int primary = failure.code() & 0xff;
      if (primary == SQLITE_TOOBIG)
        return refusal_response(Refusal(413, "payload_too_large", "a value is larger than the server accepts"));
      // SQLite refusing what a request asked for (a definition it cannot run, a value a
      // CHECK cannot evaluate): the client's mistake, and nothing was kept.
      if (primary == SQLITE_ERROR || primary == SQLITE_MISMATCH || primary == SQLITE_RANGE ||
          primary == SQLITE_CONSTRAINT || primary == SQLITE_AUTH) {
        log_warn(request.path, " refused: ", message);
        return refusal_response(Refusal(400, "http_400", "the server cannot apply this request: " + message));
      }
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

  // The log names the dbfile a request names even when the request is refused
  // before it is routed (a failed authentication, guide 9.2).
  static void note_dbfile(RequestContext &context) {
    const json &dbfile = context.header.value("dbfile");
    if (dbfile.is_string()) context.log.dbfile = dbfile.get<std::string>().substr(0, 4 * kMaxDbfileName);
  }

  Response route(RequestContext &context) {
    const std::string &path = context.request.path;
    if (path == "/storage_usage") return storage_usage(context);
    bool push = path == "/push";
    // Any length is read (the header is bounded already) so a long name is refused
    // as a name; the log keeps a bounded prefix.
    context.dbfile = context.header.text("dbfile", std::string::npos);
    context.log.dbfile = context.dbfile.substr(0, 4 * kMaxDbfileName);
    if (!valid_dbfile_name(context.dbfile, push))
      throw Refusal(400, "invalid_dbfile_name", "invalid dbfile name");
    // The log is written behind the answers: a request on it sees every one before it.
    if (context.dbfile == kLogDbfile) log_.flush();
    if (push) return handle_push(context);
    if (auth_routes_.handles(path)) return auth_routes_.handle(context);
    if (!push && !context.package.empty()) refuse("only a push carries a package");
    if (path == "/pull") return handle_pull(context);
    if (path == "/versions") return handle_versions(context);
    if (path == "/query") return run_query(*store_, permissions_, context, QueryLimits{config_.query_max_rows, config_.query_timeout_ms});
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
    std::unique_ptr<WriteSession> session = store_->write(context.dbfile);
    Response response =
        session->creating() ? push_creating(*session, context, key) : apply_push(*session, context, key, false);
    if (key.parts > 1) staging_.forget(key);
    return response;
  }

  // A dbfile is created only by a push that succeeds, and appears whole: the push is
  // applied to a draft that takes the dbfile's name once committed, so no pull ever
  // sees a dbfile being created. Internal auth dbfiles are made by /auth_create only.
  Response push_creating(WriteSession &session, RequestContext &context, const PartKey &key) {
    if (context.package.empty() && key.parts == 1) refuse("nothing to push");
    if (context.dbfile == "zumero_users_admin" || context.dbfile == "zumero_users_log")
      throw Refusal(400, "invalid_dbfile_name", "internal auth dbfiles are created with zumero_internal_auth_create");
    permissions_.require_create_dbfile(context.identity);
    Response response = apply_push(session, context, key, true);
    if (response.status == 200) log_creation(context);
    return response;
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

  // Commits the session when the push is applied; an earlier answer commits nothing.
  Response apply_push(WriteSession &session, RequestContext &context, const PartKey &key, bool creating) {
    const RequestHeader &header = context.header;
    std::int64_t base = header.integer("base", 0, INT64_MAX);
    std::optional<std::string> base_token = header.optional_text("base_token", kMaxToken);
    sqlite3 *db = session.db();
    ensure_server_tables(db);
    if (std::optional<Response> answer = earlier_answer(db, context, key)) return *answer;
    std::int64_t version = current_version(db);
    check_base(db, base, base_token, version);
    if (version == INT64_MAX) refuse("the dbfile has no versions left");
    // The ACL as it was before this push decides all of it.
    PushGuard guard(permissions_, context.identity,
                    creating ? AccessList::for_new_dbfile(context.identity) : AccessList::load(db));
    PushMeter meter(guard, metrics_);
    if (creating) record_creator(db, context.identity);
    std::string reply;
    {
      ApplyAuthorizer authorizer(db);
      reply = server::apply_push(db, part_source(context, key), base, version + 1, &meter);
    }
    std::string token = advance_version(db, version + 1);
    remember(db, key, version + 1, reply);
    stall_for_tests();
    session.commit();
    meter.commit();
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
    std::optional<PooledConnection> connection = store_->try_read(context.dbfile);
    if (!connection) return envelope_response(200, {{"missing", true}}, std::string(), context.log);
    sqlite3 *db = connection->get();
    Transaction read(db, "BEGIN");
    permissions_.require_pull(context.identity, context.dbfile, db);
    std::int64_t version = current_version(db);
    check_base(db, pull.base, base_token, version);
    if (pull.base == version && pull.cursor.phase == 0) return not_modified(context);
    if (pull.target > version || (pull.target && pull.target < pull.base)) refuse("'target' is out of range");
    PullResult result = build_pull(db, pull, version);
    std::string token = version_token(db, result.target);
    read.commit();
    metrics_.record_pulled_rows(result.rows);
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
    std::optional<PooledConnection> connection = store_->try_read(context.dbfile);
    if (!connection) return envelope_response(200, {{"missing", true}}, std::string(), context.log);
    sqlite3 *db = connection->get();
    Transaction read(db, "BEGIN");
    permissions_.require_pull(context.identity, context.dbfile, db);
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
    permissions_.require_storage_usage(context.identity);
    json dbfiles = json::array();
    for (const std::string &name : store_->list()) {
      dbfiles.push_back({{"dbfile", name}, {"size", store_->size(name)}});
    }
    return envelope_response(200, {{"dbfiles", dbfiles}}, std::string(), context.log);
  }

  // A new server makes zumero_users_admin with the user admin, when it has a password.
  void create_admin() {
    if (config_.admin_password.empty()) {
      if (!store_->exists("zumero_users_admin"))
        log_warn("no admin password (--admin-password or ZUMERO_ADMIN_PASSWORD): zumero_users_admin is not created");
      return;
    }
    if (store_->exists("zumero_users_admin")) return;
    AuthRoutes::Creation creation;
    creation.first_user = "admin";
    creation.first_password = config_.admin_password;
    std::string admins = internal_scheme("zumero_users_admin");
    creation.may_add = std::make_pair(admins, std::string("any_authenticated_user"));
    creation.may_manage = std::make_pair(admins, std::string("any_authenticated_user"));
    try {
      auth_routes_.create("zumero_users_admin", creation);
    } catch (const Error &) {
      if (!store_->exists("zumero_users_admin")) throw;
      return;  // another node made it first
    }
    log_info("created zumero_users_admin with the user admin");
  }

  const ServerConfig &config_;
  Metrics &metrics_;
  std::unique_ptr<Storage> store_;
  ServerLog log_;
  PushStaging staging_;
  Authenticator authenticator_;
  Permissions permissions_;
  AuthRoutes auth_routes_;
  BackupScheduler backups_;
  OpsRoutes ops_;
};

}  // namespace

std::unique_ptr<Service> make_sync_service(const ServerConfig &config, Metrics &metrics) {
  return std::make_unique<SyncService>(config, metrics);
}

}  // namespace zumero::server
