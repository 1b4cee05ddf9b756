// The sync routes: /push applies a package as one new version of a dbfile (or
// nothing), /pull returns what changed since the client's base version, and
// /storage_usage lists dbfile sizes. Every request is written to the server log.
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <thread>

#include "conflict/push_apply.h"
#include "server/dbfile_store.h"
#include "server/logging.h"
#include "server/request.h"
#include "server/server_log.h"
#include "sync/client.h"
#include "sync/package.h"
#include "sync/pull.h"
#include "sync/row_store.h"
#include "base/catalog.h"
#include "base/sql.h"

namespace zumero::server {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Call {
  json header;
  sync::Package package;
  std::size_t full_request = 0;
  LogEntry log;
};

Response envelope_response(const json &header, const std::string &package, LogEntry &log) {
  std::size_t full = 0;
  Response response;
  response.body = sync::seal_envelope({header.dump(), package}, &full);
  response.content_type = "application/x-zumero";
  log.full_response_size = static_cast<std::int64_t>(full);
  return response;
}

class SyncService final : public Service {
public:
  explicit SyncService(const ServerConfig &config) : config_(config), store_(config.data_dir), log_(store_) {}

  void start() override {
    std::filesystem::create_directories(config_.data_dir);
    LogEntry entry;
    entry.url = "SERVER_STARTUP";
    entry.unix_time = std::time(nullptr);
    entry.status = 200;
    log_.append(entry);
  }

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
      log_.append(log);
    } catch (const std::exception &failure) {
      log_error("cannot write the server log: ", failure.what());
    }
    return response;
  }

private:
  Response dispatch(const Request &request, LogEntry &log) {
    Call call;
    try {
      std::size_t full = 0;
      sync::Envelope envelope = sync::open_envelope(request.body, &full);
      log.full_request_size = static_cast<std::int64_t>(full);
      call.header = json::parse(envelope.header_json);
      if (!call.header.is_object()) return json_error(400, "http_400", "the request header is not a JSON object");
      call.package = sync::decode_package(envelope.package_bytes);
      if (call.header.contains("auth") && call.header["auth"].is_object()) {
        log.scheme = call.header["auth"].value("scheme", "");
        log.username = call.header["auth"].value("user", "");
      }
    } catch (const std::exception &failure) {
      return json_error(400, "http_400", std::string("malformed request: ") + failure.what());
    }
    try {
      if (request.path == "/storage_usage") return storage_usage(log);
      std::string dbfile = call.header.value("dbfile", "");
      log.dbfile = dbfile;
      bool push = request.path == "/push";
      if (!sync::valid_dbfile_name(dbfile, push)) return json_error(400, "invalid_dbfile_name", "invalid dbfile name");
      if (push) return handle_push(dbfile, call, log);
      if (request.path == "/pull") return handle_pull(dbfile, call, log);
      return json_error(404, "http_other", "no such route");
    } catch (const conflict::Rejection &rejection) {
      log.constraint_details = rejection.details();
      json body = {{"error", rejection.identifier()}, {"message", rejection.what()},
                   {"details", json::parse(rejection.details(), nullptr, false)}};
      return Response{406, body.dump(), "application/json"};
    } catch (const json::exception &failure) {
      return json_error(400, "http_400", failure.what());
    } catch (const Error &failure) {
      // A zumero error caused by what the client sent (an unknown table, a table
      // definition that cannot be created, ...): the client's fault, nothing applied.
      std::string message = failure.what();
      if (message.rfind("zumero:", 0) != 0) throw;
      return json_error(400, message.substr(7), message);
    }
  }

  Response handle_push(const std::string &dbfile, Call &call, LogEntry &log) {
    std::string client = call.header.value("client", "");
    std::int64_t number = call.header.value("pkg", std::int64_t{0});
    if (client.empty() || number <= 0) return json_error(400, "http_400", "push without client identity");
    std::lock_guard<std::mutex> writer(store_.writer_lock(dbfile));
    bool created = !store_.exists(dbfile);
    if (created && call.package.empty()) return json_error(400, "http_400", "nothing to push");
    if (!created) return apply_push(dbfile, call, log, false);
    // A dbfile is created only by a push that succeeds.
    try {
      return apply_push(dbfile, call, log, true);
    } catch (...) {
      store_.discard(dbfile);
      throw;
    }
  }

  // Runs under the dbfile's writer lock.
  Response apply_push(const std::string &dbfile, Call &call, LogEntry &log, bool created) {
    std::int64_t base = call.header.value("base", std::int64_t{0});
    std::string client = call.header.value("client", "");
    std::int64_t number = call.header.value("pkg", std::int64_t{0});
    PooledConnection connection = store_.acquire(dbfile, true);
    sqlite3 *db = connection.get();
    Transaction transaction(db, "BEGIN IMMEDIATE");
    ensure_server_tables(db);
    std::int64_t version = current_version(db);
    Statement previous(db, "SELECT pkg, version, reply FROM \"t$clients\" WHERE client = ?1");
    previous.bind(1, client);
    if (previous.step() && previous.column_int(0) >= number) {
      // Applied before and the reply was lost: the same answer, nothing applied twice.
      const void *data = sqlite3_column_blob(previous.get(), 2);
      std::string reply(static_cast<const char *>(data ? data : ""), sqlite3_column_bytes(previous.get(), 2));
      return envelope_response({{"version", previous.column_int(1)}}, reply, log);
    }
    previous.reset();
    if (base > version) return json_error(400, "http_400", "the client is ahead of the server");
    std::string reply = sync::encode_package(conflict::apply_push(db, std::move(call.package), base, version + 1));
    for (const std::string &table : zumero_table_names(db, "main")) sync::RowStore(db, "main", table).ensure_server_indexes();
    set_current_version(db, version + 1);
    Statement remember(db, "INSERT OR REPLACE INTO \"t$clients\" (client, pkg, version, reply) VALUES (?1, ?2, ?3, ?4)");
    remember.bind(1, client).bind(2, number).bind(3, version + 1).bind_blob(4, reply.data(), static_cast<int>(reply.size())).run();
    stall_for_tests();
    transaction.commit();
    if (created) {
      LogEntry entry;
      entry.dbfile = dbfile;
      entry.url = "CREATE_DBFILE";
      entry.ip_address = log.ip_address;
      entry.unix_time = log.unix_time;
      entry.scheme = log.scheme;
      entry.username = log.username;
      entry.status = 200;
      log_.append(entry);
    }
    log.txid_max = version + 1;
    return envelope_response({{"version", version + 1}}, reply, log);
  }

  // With ZUMERO_TEST_HOOKS=1, ZUMERO_TEST_PUSH_STALL_MS holds a push inside its write
  // transaction, so tests can kill the server mid-push or change the client meanwhile.
  void stall_for_tests() {
    if (!config_.test_hooks) return;
    const char *stall = std::getenv("ZUMERO_TEST_PUSH_STALL_MS");
    if (stall) std::this_thread::sleep_for(std::chrono::milliseconds(std::atoll(stall)));
  }

  Response handle_pull(const std::string &dbfile, Call &call, LogEntry &log) {
    if (!store_.exists(dbfile)) return json_error(404, "http_other", "no such dbfile");
    sync::PullRequest pull;
    pull.base = call.header.value("base", std::int64_t{0});
    pull.target = call.header.value("target", std::int64_t{0});
    pull.exclude = call.header.value("exclude", std::int64_t{0});
    pull.history = call.header.value("history", true);
    pull.chunk_bytes = config_.pull_chunk_bytes;
    if (call.header.contains("cursor") && call.header["cursor"].is_object()) {
      const json &cursor = call.header["cursor"];
      pull.cursor = {cursor.value("phase", 0), cursor.value("table", ""), cursor.value("after", std::int64_t{0})};
    }
    PooledConnection connection = store_.acquire(dbfile, false);
    sqlite3 *db = connection.get();
    Transaction read(db, "BEGIN");
    std::int64_t version = current_version(db);
    if (pull.base > version) return json_error(400, "http_400", "the client is ahead of the server");
    if (pull.base == version && pull.cursor.phase == 0) {
      log.full_response_size = 0;
      return Response{304, std::string(), "application/x-zumero"};
    }
    sync::PullResult result = sync::build_pull(db, pull, version);
    read.commit();
    json header = {{"target", result.target}, {"partial", result.partial}};
    if (result.partial)
      header["cursor"] = {{"phase", result.next.phase}, {"table", result.next.table}, {"after", result.next.after}};
    return envelope_response(header, sync::encode_package(result.package), log);
  }

  Response storage_usage(LogEntry &log) {
    json dbfiles = json::array();
    for (const auto &entry : std::filesystem::directory_iterator(store_.data_dir())) {
      if (entry.path().extension() != ".db") continue;
      dbfiles.push_back({{"dbfile", entry.path().stem().string()},
                         {"size", static_cast<std::int64_t>(std::filesystem::file_size(entry.path()))}});
    }
    return envelope_response({{"dbfiles", dbfiles}}, std::string(), log);
  }

  const ServerConfig &config_;
  DbfileStore store_;
  ServerLog log_;
};

}  // namespace

std::unique_ptr<Service> make_sync_service(const ServerConfig &config) { return std::make_unique<SyncService>(config); }

}  // namespace zumero::server
