// Regression tests, one TEST_CASE per defect: copied client files and a server restored
// from a backup, the first sync after a failed one, quarantine after a history purge, a
// UNIQUE clash between parts of a pull, the host connection's recursive_triggers, pushes
// over --max-body-bytes, error identifiers, and races inside the server.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <fstream>
#include <memory>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "server/tests/server_process.h"
#include "server_requests.h"
#include "sync/http_client.h"
#include "sync/package.h"
#include "sync_support.h"

namespace fs = std::filesystem;
namespace zs = zumero::sync;
using zumero::synctest::Client;
using zumero::synctest::Rows;
using zumero::synctest::SqlError;
using zumero::synctest::sql_quote;
using zumero::test::ServerProcess;
using zumero::test::TempDir;

namespace {

// A plain SQLite connection: the extension only when load_zumero() is called.
class PlainDatabase {
public:
  explicit PlainDatabase(const fs::path &file, int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) {
    if (sqlite3_open_v2(file.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
      std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      throw std::runtime_error("open " + file.string() + ": " + message);
    }
    sqlite3_busy_timeout(db_, 10000);
  }
  ~PlainDatabase() { sqlite3_close_v2(db_); }
  PlainDatabase(const PlainDatabase &) = delete;
  PlainDatabase &operator=(const PlainDatabase &) = delete;

  void exec(const std::string &sql) {
    char *error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      std::string message = error ? error : sqlite3_errmsg(db_);
      sqlite3_free(error);
      throw std::runtime_error(sql + ": " + message);
    }
  }

  std::int64_t integer(const std::string &sql) {
    sqlite3_stmt *statement = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK)
      throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
    int rc = sqlite3_step(statement);
    std::int64_t value = rc == SQLITE_ROW ? sqlite3_column_int64(statement, 0) : 0;
    std::string message = sqlite3_errmsg(db_);
    sqlite3_finalize(statement);
    if (rc != SQLITE_ROW) throw std::runtime_error(sql + ": no row (" + message + ")");
    return value;
  }

  // Loads the extension as an application does; the error, "" on success.
  std::string load_zumero() {
    sqlite3_enable_load_extension(db_, 1);
    char *error = nullptr;
    int rc = sqlite3_load_extension(db_, zumero::synctest::extension_path().c_str(), nullptr, &error);
    std::string message = rc == SQLITE_OK ? "" : error ? error : "load_extension failed";
    sqlite3_free(error);
    return message;
  }

private:
  sqlite3 *db_ = nullptr;
};

// The error of the first failing zumero_sync call until partial is 0; "" when none failed.
std::string sync_complete_error(Client &client, const std::string &url, const std::string &dbfile) {
  try {
    client.sync_complete(url, dbfile);
    return "";
  } catch (const SqlError &error) {
    return error.what();
  }
}

// The rows of a query, or one row holding its error (a missing table, say).
Rows rows_or_error(Client &client, const std::string &sql) {
  try {
    return client.rows(sql);
  } catch (const SqlError &error) {
    return Rows{{std::string("error: ") + error.what()}};
  }
}

// A new, empty client database that pulled all of dbfile.
std::unique_ptr<Client> fresh_client(const TempDir &dir, const std::string &name, const std::string &url,
                                     const std::string &dbfile) {
  auto client = std::make_unique<Client>(dir.path() / (name + ".db"));
  client->sync_complete(url, dbfile);
  return client;
}

// The dbfile's version, as the server tells it.
std::int64_t server_version(const ServerProcess &server, const std::string &dbfile) {
  std::optional<std::int64_t> version = zumero::synctest::current_version(server.url(), dbfile);
  if (!version) throw std::runtime_error("the server has no dbfile " + dbfile);
  return *version;
}

// Copies a client database whose connections are closed or idle.
void copy_database(const fs::path &from, const fs::path &to) {
  fs::copy_file(from, to);
  if (fs::exists(from.string() + "-wal")) fs::copy_file(from.string() + "-wal", to.string() + "-wal");
}

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

bool contains_ignoring_case(const std::string &text, const std::string &part) {
  return lowercase(text).find(lowercase(part)) != std::string::npos;
}

// A web server that is not zumero: every request is answered 404 with an HTML page.
class NotFoundServer {
public:
  NotFoundServer() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr *>(&address), size) != 0 ||
        ::listen(listen_fd_, 16) != 0 || ::getsockname(listen_fd_, reinterpret_cast<sockaddr *>(&address), &size) != 0)
      throw std::runtime_error("NotFoundServer: cannot listen on 127.0.0.1");
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { accept_loop(); });
  }
  ~NotFoundServer() {
    stopping_ = true;
    thread_.join();
    ::close(listen_fd_);
  }
  NotFoundServer(const NotFoundServer &) = delete;
  NotFoundServer &operator=(const NotFoundServer &) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }
  int answered() const { return answered_; }

private:
  void accept_loop() {
    while (!stopping_) {
      pollfd ready{listen_fd_, POLLIN, 0};
      if (::poll(&ready, 1, 50) <= 0) continue;
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      timeval timeout{5, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
      if (read_request(fd)) answer(fd);
      ::close(fd);
    }
  }

  // Reads the head and the body it announces.
  static bool read_request(int fd) {
    std::string request;
    char chunk[4096];
    std::size_t head_end;
    while ((head_end = request.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) return false;
      request.append(chunk, static_cast<std::size_t>(n));
    }
    std::string head = lowercase(request.substr(0, head_end));
    std::size_t length_at = head.find("content-length:");
    std::size_t length = length_at == std::string::npos ? 0 : std::stoul(head.substr(length_at + 15));
    while (request.size() < head_end + 4 + length) {
      ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) return false;
      request.append(chunk, static_cast<std::size_t>(n));
    }
    return true;
  }

  void answer(int fd) {
    const std::string page = "<html><head><title>404 Not Found</title></head><body>Not Found</body></html>";
    const std::string reply = "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: " +
                              std::to_string(page.size()) + "\r\nConnection: close\r\n\r\n" + page;
    // Counted before sending: the client may act on the answer before send() returns here.
    ++answered_;
    ::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> answered_{0};
  std::thread thread_;
};

// Raw requests, for what a client built from this extension never sends.
std::string raw_body(const nlohmann::json &header, const zs::Package &package = {}) {
  return zs::seal_envelope({header.dump(), zs::encode_package(package)});
}

std::string raw_pull(const std::string &dbfile) {
  return raw_body({{"op", "pull"}, {"dbfile", dbfile}, {"auth", nullptr}, {"client", "steady_puller"}, {"base", 0},
                   {"target", 0}, {"exclude", 0}, {"history", true}, {"cursor", nullptr}});
}

const char *const kCheckedTable = "CREATE VIRTUAL TABLE t USING zumero (k TEXT PRIMARY KEY, v INTEGER CHECK (v > 0))";

// The first push of dbfile: creates t as kCheckedTable does, then breaks its CHECK with
// the last of many rows.
std::string failing_creation(const std::string &dbfile) {
  zs::Package package;
  package.schema.push_back({0, 0, "create_table", "t", R"json(["k TEXT PRIMARY KEY","v INTEGER CHECK (v > 0)"])json"});
  zs::TableSection section{"t", {"k", "v"}, {}};
  for (int i = 1; i <= 500; ++i) {
    zs::RowState row;
    row.recid = i;
    row.values = {zs::Value{zs::Value::Text, 0, 0, "key" + std::to_string(i)},
                  zs::Value{zs::Value::Integer, i == 500 ? -1 : i, 0, {}}};
    section.rows.push_back(std::move(row));
  }
  package.tables.push_back(std::move(section));
  return raw_body({{"op", "push"}, {"dbfile", dbfile}, {"auth", nullptr}, {"client", "failing_creator"}, {"pkg", 1},
                   {"base", 0}},
                  package);
}

// Threads that keep pulling one dbfile name, from construction to destruction.
class SteadyPullers {
public:
  SteadyPullers(const std::string &url, const std::string &dbfile, int count) {
    for (int i = 0; i < count; ++i) {
      threads_.emplace_back([this, url, body = raw_pull(dbfile)] {
        while (!stop_) {
          try {
            zumero::http_post(url, "/pull", body, "application/x-zumero", 30);
          } catch (...) {
            // A refused connection is one more attempt; only the server's state matters.
          }
        }
      });
    }
  }
  ~SteadyPullers() {
    stop_ = true;
    for (std::thread &thread : threads_) thread.join();
  }
  SteadyPullers(const SteadyPullers &) = delete;
  SteadyPullers &operator=(const SteadyPullers &) = delete;

private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

// Makes every write to the server log fail, for connections the server already has open
// as well as new ones (a read-only file or a directory in its place would only stop new
// ones).
void block_server_log(const ServerProcess &server, bool blocked) {
  PlainDatabase log(server.data_dir() / "zumero_log.db");
  if (blocked)
    log.exec("CREATE TRIGGER test_blocks_log BEFORE INSERT ON \"z$log\" "
             "BEGIN SELECT RAISE(ABORT, 'the test blocks the server log'); END");
  else
    log.exec("DROP TRIGGER test_blocks_log");
}

const char *const kLabelTable = "CREATE VIRTUAL TABLE t USING zumero (label TEXT, v TEXT)";
const char *const kLabels = "SELECT label, v FROM t ORDER BY label, v";

}  // namespace

TEST_CASE("A copied client file loses and duplicates nothing", "[sync][trust]") {
  ServerProcess server;
  TempDir dir;
  const std::string dbfile = "copied";
  Client a(dir.path() / "a.db");
  a.exec(std::string(kLabelTable) + "; INSERT INTO t VALUES ('r1', 'base'), ('r2', 'base'), ('r3', 'base')");
  a.sync_complete(server.url(), dbfile);

  SECTION("a copy of an idle synced file") {
    copy_database(a.file(), dir.path() / "a2.db");
    Client a2(dir.path() / "a2.db");
    a.exec("INSERT INTO t VALUES ('from a', 'a'), ('also from a', 'a'); UPDATE t SET v = 'by a' WHERE label = 'r1'");
    a2.exec("INSERT INTO t VALUES ('from a2', 'a2'); UPDATE t SET v = 'by a2' WHERE label = 'r2'");
    for (Client *client : {&a, &a2, &a, &a2}) REQUIRE(sync_complete_error(*client, server.url(), dbfile) == "");

    auto fresh = fresh_client(dir, "fresh", server.url(), dbfile);
    CHECK(fresh->rows(kLabels) == Rows{{"also from a", "a"}, {"from a", "a"}, {"from a2", "a2"},
                                       {"r1", "by a"}, {"r2", "by a2"}, {"r3", "base"}});
  }

  SECTION("a copy made while a failed sync was pending") {
    a.exec("INSERT INTO t VALUES ('pending', 'a'); UPDATE t SET v = 'pending' WHERE label = 'r1'");
    server.stop();
    REQUIRE(a.sync_error(server.url(), dbfile) == "zumero:network_connection_failed");
    copy_database(a.file(), dir.path() / "a2.db");
    Client a2(dir.path() / "a2.db");
    server.restart();
    a.exec("INSERT INTO t VALUES ('from a', 'a'); UPDATE t SET v = 'by a' WHERE label = 'r2'");
    a2.exec("INSERT INTO t VALUES ('from a2', 'a2'); UPDATE t SET v = 'by a2' WHERE label = 'r3'");
    for (Client *client : {&a, &a2, &a, &a2}) REQUIRE(sync_complete_error(*client, server.url(), dbfile) == "");

    auto fresh = fresh_client(dir, "fresh", server.url(), dbfile);
    CHECK(fresh->rows(kLabels) == Rows{{"from a", "a"}, {"from a2", "a2"}, {"pending", "a"},
                                       {"r1", "pending"}, {"r2", "by a"}, {"r3", "by a2"}});
  }
}

// A server restored by copying its data directory back: the SQLite files only.
TEST_CASE("A server restored from an older backup of its files loses and duplicates nothing",
          "[sync][trust][sqlite-files]") {
  ServerProcess server;
  TempDir dir;
  const std::string dbfile = "copied";
  Client a(dir.path() / "a.db");
  a.exec(std::string(kLabelTable) + "; INSERT INTO t VALUES ('r1', 'base'), ('r2', 'base'), ('r3', 'base')");
  a.sync_complete(server.url(), dbfile);

  Client b(dir.path() / "b.db");
  b.sync_complete(server.url(), dbfile);
  b.exec("INSERT INTO t VALUES ('b before', 'b')");
  b.sync_complete(server.url(), dbfile);
  a.sync_complete(server.url(), dbfile);

  server.stop();
  const fs::path backup = dir.path() / "backup";
  fs::copy(server.data_dir(), backup, fs::copy_options::recursive);
  server.restart();
  a.exec("INSERT INTO t VALUES ('a after', 'a'); UPDATE t SET v = 'by a' WHERE label = 'r1'");
  b.exec("INSERT INTO t VALUES ('b after', 'b'); UPDATE t SET v = 'b updated' WHERE label = 'b before'");
  for (Client *client : {&a, &b, &a}) REQUIRE(sync_complete_error(*client, server.url(), dbfile) == "");

  server.stop();
  fs::remove_all(server.data_dir());
  fs::copy(backup, server.data_dir(), fs::copy_options::recursive);
  server.restart();
  a.exec("UPDATE t SET v = 'a last' WHERE label = 'a after'");
  b.exec("INSERT INTO t VALUES ('b last', 'b')");
  for (int round = 0; round < 3; ++round) {
    INFO("round " << round);
    CHECK(sync_complete_error(a, server.url(), dbfile) == "");
    CHECK(sync_complete_error(b, server.url(), dbfile) == "");
  }

  auto fresh = fresh_client(dir, "fresh", server.url(), dbfile);
  CHECK(fresh->rows(kLabels) == Rows{{"a after", "a last"}, {"b after", "b"}, {"b before", "b updated"},
                                     {"b last", "b"}, {"r1", "by a"}, {"r2", "base"}, {"r3", "base"}});
  CHECK(a.dump("t") == fresh->dump("t"));
  CHECK(b.dump("t") == fresh->dump("t"));
}

TEST_CASE("The first sync after a failed one pushes every change committed before it", "[sync][trust]") {
  ServerProcess server;
  TempDir dir;
  const std::string dbfile = "after_failure";
  Client a(dir.path() / "a.db");
  a.exec(std::string(kLabelTable) + "; INSERT INTO t VALUES ('kept', '0'), ('doomed', '0')");
  a.sync_complete(server.url(), dbfile);

  a.exec("INSERT INTO t VALUES ('first', '1')");
  server.stop();
  REQUIRE(a.sync_error(server.url(), dbfile) == "zumero:network_connection_failed");
  a.exec("INSERT INTO t VALUES ('second', '2')");
  a.exec("UPDATE t SET v = '1 changed' WHERE label = 'first'");
  a.exec("UPDATE t SET v = 'changed' WHERE label = 'kept'; DELETE FROM t WHERE label = 'doomed'");
  a.exec("INSERT INTO t VALUES ('third', '3')");
  server.restart();

  CHECK(a.sync(server.url(), dbfile).partial == 0);
  auto fresh = fresh_client(dir, "fresh", server.url(), dbfile);
  CHECK(fresh->rows(kLabels) == Rows{{"first", "1 changed"}, {"kept", "changed"}, {"second", "2"}, {"third", "3"}});
}

TEST_CASE("zumero_quarantine_since_last_sync after zumero_purge_history sets every change aside", "[sync][trust]") {
  ServerProcess server;
  TempDir dir;
  Client a(dir.path() / "a.db");
  a.exec("CREATE VIRTUAL TABLE t USING zumero (k TEXT PRIMARY KEY, v TEXT);"
         "INSERT INTO t VALUES ('r1', 'base'), ('r2', 'base'), ('r3', 'base');");
  a.sync_complete(server.url(), "purged");
  const Rows synced = a.dump("t");

  a.exec("UPDATE t SET v = 'changed' WHERE k = 'r1'; DELETE FROM t WHERE k = 'r2';"
         "INSERT INTO t VALUES ('n1', 'new'), ('n2', 'new');");
  const Rows changed = a.rows("SELECT k, v FROM t ORDER BY k");
  a.exec("SELECT zumero_purge_history('main')");
  const std::int64_t qid = a.integer("SELECT zumero_quarantine_since_last_sync('main')");
  CHECK(qid != 0);
  CHECK(a.dump("t") == synced);

  REQUIRE(a.error_of("SELECT zumero_restore_quarantine('main', " + std::to_string(qid) + ")") == "");
  CHECK(a.rows("SELECT k, v FROM t ORDER BY k") == changed);
  a.sync_complete(server.url(), "purged");
  auto fresh = fresh_client(dir, "fresh", server.url(), "purged");
  CHECK(fresh->rows("SELECT k, v FROM t ORDER BY k") == changed);
}

TEST_CASE("A local row that clashes on UNIQUE with a pulled one between partial calls is quarantined",
          "[sync][trust]") {
  ServerProcess server({"--pull-chunk-bytes", "300"});
  TempDir dir;
  const std::string dbfile = "clash";
  Client b(dir.path() / "b.db");
  b.exec("CREATE VIRTUAL TABLE t USING zumero (id INTEGER PRIMARY KEY, name TEXT UNIQUE, payload TEXT)");
  b.sync_complete(server.url(), dbfile);
  Client a(dir.path() / "a.db");
  a.sync_complete(server.url(), dbfile);
  b.exec("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 200) "
         "INSERT INTO t (name, payload) SELECT 'name ' || i, 'payload from b ' || i FROM s;"
         "INSERT INTO t (name, payload) VALUES ('dup', 'from b');");
  b.sync_complete(server.url(), dbfile);

  std::string local_insert;
  SECTION("with an id of its own (guide 5.2.5.5) that no pulled row has") {
    local_insert = "INSERT INTO t VALUES (987654321, 'dup', 'from a')";
  }
  SECTION("with the next id, which a pulled row has too") {
    local_insert = "INSERT INTO t (name, payload) VALUES ('dup', 'from a')";
  }
  REQUIRE(a.sync(server.url(), dbfile).partial > 0);
  a.exec(local_insert);
  std::int64_t quarantine = 0;
  for (int call = 0;; ++call) {
    REQUIRE(call < 1000);
    zumero::synctest::SyncStats stats;
    REQUIRE_NOTHROW(stats = a.sync(server.url(), dbfile));
    if (stats.quarantine != 0) quarantine = stats.quarantine;
    if (stats.partial == 0) break;
  }
  CHECK(quarantine != 0);
  auto fresh = fresh_client(dir, "fresh", server.url(), dbfile);
  CHECK(a.dump("t") == fresh->dump("t"));
  CHECK(a.text("SELECT payload FROM t WHERE name = 'dup'") == "from b");

  // A's row waits in t$q: restoring it clashes again.
  std::string restore = a.error_of("SELECT zumero_restore_quarantine('main', " + std::to_string(quarantine) + ")");
  INFO("restore: " << restore);
  CHECK(contains_ignoring_case(restore, "unique"));
  CHECK(a.dump("t") == fresh->dump("t"));

  a.exec("INSERT INTO t (name, payload) VALUES ('later', 'from a')");
  CHECK(sync_complete_error(a, server.url(), dbfile) == "");
  b.sync_complete(server.url(), dbfile);
  CHECK(b.text("SELECT payload FROM t WHERE name = 'later'") == "from a");
}

TEST_CASE("Loading the extension leaves the connection's recursive_triggers alone", "[sync][trust]") {
  TempDir dir;
  SECTION("the setting survives loading") {
    for (int value : {0, 1}) {
      INFO("recursive_triggers = " << value);
      PlainDatabase db(dir.path() / ("setting" + std::to_string(value) + ".db"));
      db.exec("PRAGMA recursive_triggers = " + std::to_string(value));
      REQUIRE(db.load_zumero() == "");
      CHECK(db.integer("PRAGMA recursive_triggers") == value);
    }
  }

  SECTION("an application's DELETE trigger does not fire on INSERT OR REPLACE") {
    PlainDatabase db(dir.path() / "app.db");
    db.exec("PRAGMA recursive_triggers = 0");
    REQUIRE(db.load_zumero() == "");
    db.exec("CREATE TABLE app (k TEXT PRIMARY KEY, v TEXT); CREATE TABLE removed (k TEXT);"
            "CREATE TRIGGER app_removed AFTER DELETE ON app BEGIN INSERT INTO removed VALUES (old.k); END;"
            "INSERT INTO app VALUES ('x', 'old'); INSERT OR REPLACE INTO app VALUES ('x', 'new');");
    CHECK(db.integer("SELECT count(*) FROM removed") == 0);
  }

  SECTION("INSERT OR REPLACE into a zumero table syncs the row it removed") {
    ServerProcess server;
    Client a(dir.path() / "a.db");
    a.exec("PRAGMA recursive_triggers = 0");
    a.exec("CREATE VIRTUAL TABLE t USING zumero (name TEXT UNIQUE, v TEXT);"
           "INSERT INTO t VALUES ('x', 'old'), ('y', 'kept');");
    a.sync_complete(server.url(), "replaced");
    a.exec("INSERT OR REPLACE INTO t VALUES ('x', 'new')");
    REQUIRE(sync_complete_error(a, server.url(), "replaced") == "");
    auto fresh = fresh_client(dir, "fresh", server.url(), "replaced");
    CHECK(fresh->rows("SELECT name, v FROM t ORDER BY name") == Rows{{"x", "new"}, {"y", "kept"}});
  }
}

TEST_CASE("Local changes larger than --max-body-bytes arrive as one version", "[sync][trust]") {
  ServerProcess server({"--max-body-bytes", "65536"});
  TempDir dir;
  const std::string dbfile = "large";
  Client a(dir.path() / "a.db");
  a.exec("CREATE VIRTUAL TABLE t USING zumero (id INTEGER PRIMARY KEY, payload TEXT);"
         "INSERT INTO t VALUES (1, 'small')");
  a.sync_complete(server.url(), dbfile);
  const std::int64_t before = server_version(server, dbfile);

  // About 4 MB of hex digits from random bytes: zlib halves it at best.
  a.exec("WITH RECURSIVE s(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM s WHERE i < 401) "
         "INSERT INTO t SELECT i, hex(randomblob(5000)) FROM s");
  REQUIRE(sync_complete_error(a, server.url(), dbfile) == "");
  CHECK(server_version(server, dbfile) == before + 1);
  auto fresh = fresh_client(dir, "fresh", server.url(), dbfile);
  CHECK(fresh->integer("SELECT count(*) FROM t") == 401);
  CHECK(fresh->dump("t") == a.dump("t"));
}

TEST_CASE("Wrong requests and refused operations report the right error", "[sync][trust]") {
  TempDir dir;
  Client a(dir.path() / "a.db");

  SECTION("a pull answered 404 by a web server that is not zumero") {
    NotFoundServer other;
    CHECK(a.sync_error(other.url(), "d") == "zumero:http_other");
    CHECK(other.answered() > 0);
  }

  SECTION("partial credentials") {
    ServerProcess server;
    CHECK(a.error_of("SELECT zumero_sync('main', " + sql_quote(server.url()) +
                     R"(, 'd', '{"scheme_type":"internal","dbfile":"x"}', NULL, NULL))") == "zumero:invalid_argument");
  }

  SECTION("a server_url that is not an http or https URL") {
    CHECK(a.sync_error("not a url", "d") == "zumero:invalid_argument");
    CHECK(a.sync_error("ftp://127.0.0.1/", "d") == "zumero:invalid_argument");
  }

  SECTION("a database bound to one dbfile synced against another") {
    ServerProcess server;
    a.exec("CREATE VIRTUAL TABLE t USING zumero (k TEXT); INSERT INTO t VALUES ('one')");
    a.sync_complete(server.url(), "d1");
    CHECK(a.sync_error(server.url(), "d2") == "zumero:invalid_argument");
  }

  SECTION("zumero_pull_without_history with 2, 4 or 8 arguments") {
    const std::string url = sql_quote("http://127.0.0.1:9/");
    CHECK(a.error_of("SELECT zumero_pull_without_history('main', " + url + ")") == "zumero:invalid_argument");
    CHECK(a.error_of("SELECT zumero_pull_without_history('main', " + url + ", 'd', NULL)") ==
          "zumero:invalid_argument");
    CHECK(a.error_of("SELECT zumero_pull_without_history('main', " + url + ", 'd', NULL, NULL, NULL, NULL, NULL)") ==
          "zumero:invalid_argument");
  }

  SECTION("z_audit and z_acl with other columns") {
    CHECK(a.error_of("CREATE VIRTUAL TABLE z_audit USING zumero (tbl TEXT, note TEXT)") == "zumero:invalid_argument");
    CHECK(a.error_of("CREATE VIRTUAL TABLE z_acl USING zumero (who TEXT, allowed INTEGER)") ==
          "zumero:invalid_argument");
    // The guide's own definition (5.1.6) and the convenience functions work.
    CHECK(a.error_of("CREATE VIRTUAL TABLE z_audit USING zumero(tbl TEXT NOT NULL, ancestor TEXT NOT NULL, "
                     "already TEXT, incoming TEXT, result TEXT)") == "");
    Client b(dir.path() / "b.db");
    CHECK(b.error_of("SELECT zumero_define_acl_table('main')") == "");
    CHECK(b.error_of("SELECT zumero_define_audit_table('main')") == "");
  }

  SECTION("the same table declared in lower and upper case on two clients") {
    ServerProcess server;
    Client b(dir.path() / "b.db");
    a.exec("CREATE VIRTUAL TABLE t USING zumero (id integer primary key, x text); INSERT INTO t (x) VALUES ('a')");
    b.exec("CREATE VIRTUAL TABLE t USING zumero (id INTEGER PRIMARY KEY, x TEXT); INSERT INTO t (x) VALUES ('b')");
    CHECK(sync_complete_error(a, server.url(), "cased") == "");
    CHECK(sync_complete_error(b, server.url(), "cased") == "");
    CHECK(sync_complete_error(a, server.url(), "cased") == "");
  }

  SECTION("DROP TABLE of a zumero table") {
    a.exec("CREATE VIRTUAL TABLE t USING zumero (k TEXT); INSERT INTO t VALUES ('before');"
           "CREATE TABLE other (x INTEGER)");
    CHECK(a.error_of("DROP TABLE t") == "zumero:table_drop_unsupported");
    a.exec("BEGIN; INSERT INTO other VALUES (1); INSERT INTO t VALUES ('in the transaction')");
    CHECK(a.error_of("DROP TABLE t") != "");
    CHECK(a.error_of("COMMIT") == "");
    CHECK(a.integer("SELECT count(*) FROM other") == 1);
    CHECK(a.rows("SELECT k FROM t ORDER BY k") == Rows{{"before"}, {"in the transaction"}});
  }

  SECTION("adopting a table whose column REFERENCES a zumero table") {
    ServerProcess server;
    a.exec("CREATE VIRTUAL TABLE p USING zumero (id INTEGER PRIMARY KEY, name TEXT);"
           "INSERT INTO p VALUES (1, 'parent');"
           "CREATE TABLE c (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p, note TEXT);"
           "INSERT INTO c VALUES (1, 1, 'child');");
    REQUIRE(a.error_of("SELECT zumero_adopt_existing_table('main', 'c')") == "");
    a.exec("BEGIN; INSERT INTO c VALUES (2, 99, 'orphan')");
    CHECK(a.error_of("COMMIT") != "");
    a.error_of("ROLLBACK");
    CHECK(a.rows("SELECT id, pid, note FROM c") == Rows{{"1", "1", "child"}});
    REQUIRE(sync_complete_error(a, server.url(), "adopted") == "");
    auto fresh = fresh_client(dir, "fresh", server.url(), "adopted");
    CHECK(fresh->rows("SELECT id, pid, note FROM c") == Rows{{"1", "1", "child"}});
  }
}

TEST_CASE("The server keeps a dbfile whose failed creating push raced with pulls", "[sync][trust]") {
  ServerProcess server;
  TempDir dir;
  // The window is a pull still holding a connection to the half-created file when the
  // failed push removes it. About one round in five hits it (one in twelve at worst
  // seen), so a hundred rounds, each with a dbfile of its own.
  std::vector<std::string> names;
  for (int round = 0; round < 100; ++round) names.push_back("race_" + std::to_string(round));
  for (const std::string &name : names) {
    long refused = 0;
    {
      SteadyPullers pullers(server.url(), name, 2);
      refused = zumero::http_post(server.url(), "/push", failing_creation(name), "application/x-zumero").status;
    }
    INFO(name << ": the failing push got " << refused);
    CHECK((refused >= 400 && refused < 500));
    Client creator(dir.path() / (name + ".db"));
    creator.exec(std::string(kCheckedTable) + "; INSERT INTO t VALUES ('good', 1)");
    CHECK(creator.sync_error(server.url(), name) == "");
  }
  server.restart();
  std::vector<std::string> lost;
  for (const std::string &name : names) {
    Client fresh(dir.path() / ("fresh_" + name + ".db"));
    fresh.sync_error(server.url(), name);
    if (rows_or_error(fresh, "SELECT k, v FROM t") != Rows{{"good", "1"}}) lost.push_back(name);
  }
  CHECK(lost == std::vector<std::string>{});
}

// These write into the server's files behind its back: the SQLite files only.
TEST_CASE("The server keeps dbfiles it acknowledged and survives a corrupt one", "[sync][trust][sqlite-files]") {
  ServerProcess server;
  TempDir dir;

  SECTION("the server log cannot be written after a creating push") {
    block_server_log(server, true);
    Client creator(dir.path() / "creator.db");
    creator.exec("CREATE VIRTUAL TABLE t USING zumero (k TEXT); INSERT INTO t VALUES ('kept')");
    CHECK(creator.sync_error(server.url(), "unlogged") == "");
    server.stop();
    CHECK(fs::exists(server.data_dir() / "unlogged.db"));
    block_server_log(server, false);
    server.restart();
    Client fresh(dir.path() / "fresh.db");
    CHECK(sync_complete_error(fresh, server.url(), "unlogged") == "");
    CHECK(rows_or_error(fresh, "SELECT k FROM t") == Rows{{"kept"}});
  }

  SECTION("a dbfile that is not a database") {
    {
      std::ofstream junk(server.data_dir() / "junk.db", std::ios::binary);
      std::mt19937 noise(20240607);
      for (int i = 0; i < 65536; ++i) junk.put(static_cast<char>(noise() & 0xff));
    }
    for (int attempt = 0; attempt < 3; ++attempt) {
      Client puller(dir.path() / ("junk" + std::to_string(attempt) + ".db"));
      std::string error = puller.sync_error(server.url(), "junk");
      INFO("attempt " << attempt << ": " << error);
      CHECK(error.rfind("zumero:", 0) == 0);
      CHECK(error != "zumero:network_connection_failed");  // an answer, not a lost connection
    }
    CHECK(zumero::test::http_get(server.url() + "/health").status == 200);
    Client healthy(dir.path() / "healthy.db");
    healthy.exec("CREATE VIRTUAL TABLE t USING zumero (k TEXT); INSERT INTO t VALUES ('fine')");
    CHECK(sync_complete_error(healthy, server.url(), "healthy") == "");
    // A clean exit: the sanitizer build makes a leak fail it.
    CHECK(server.stop() == 0);
  }
}
