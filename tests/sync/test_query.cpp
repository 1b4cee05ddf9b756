// POST /query against a real server: one read-only SELECT on the server's copy of a
// dbfile answers columns and rows; everything else is refused with a 4xx and a zumero
// error identifier, and changes nothing on the server.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "server/pg_client.h"
#include "server/tests/server_process.h"
#include "sync/http_client.h"
#include "sync/package.h"
#include "sync_support.h"

using nlohmann::json;
using zumero::synctest::Client;
using zumero::synctest::Credentials;
using zumero::test::ServerProcess;
using zumero::test::TempDir;

namespace {

struct QueryReply {
  long status = 0;
  json body;
  std::string raw;
  std::string error() const { return body.is_object() ? body.value("error", "") : ""; }
};

json auth_of(const Credentials &credentials) {
  return {{"scheme", credentials.scheme}, {"user", credentials.user}, {"password", credentials.password}};
}

QueryReply post_query(const std::string &url, const std::string &dbfile, const std::string &sql,
                      const json &auth = nullptr, const json &extra = json::object()) {
  json header = {{"dbfile", dbfile}, {"auth", auth}, {"sql", sql}};
  for (auto &item : extra.items()) header[item.key()] = item.value();
  std::string body = zumero::sync::seal_envelope({header.dump(), std::string()});
  zumero::HttpResponse response = zumero::http_post(url, "/query", body, "application/x-zumero", 60);
  QueryReply reply;
  reply.status = response.status;
  reply.raw = response.body;
  reply.body = json::parse(response.body, nullptr, false);
  return reply;
}

// In PostgreSQL, what is authoritative: the dbfiles, the dbfile's row and its records.
std::string postgresql_state(const ServerProcess &server, const std::string &dbfile) {
  namespace pg = zumero::server::pg;
  std::string state;
  for (const std::string &name : server.dbfiles()) state += name + "\n";
  pg::PgConnection db(server.store_conninfo());
  for (const char *sql : {"SELECT incarnation, seq, image_seq, bytes_since_image FROM zumero_dbfiles WHERE name = $1",
                          "SELECT seq, whole, md5(data) FROM zumero_changes WHERE dbfile = $1 ORDER BY seq"}) {
    pg::PgResult result = db.exec(sql, {pg::Param::text(dbfile)});
    for (int row = 0; row < result.rows(); ++row) {
      for (int column = 0; column < result.columns(); ++column)
        state += (result.is_null(row, column) ? std::string("<null>") : result.text(row, column)) + "|";
      state += "\n";
    }
  }
  return state;
}

// Everything the server's copy of a dbfile holds, read directly from its file (read-only),
// and the names of the files in the data directory: a refusal must change neither.
std::string server_state(const ServerProcess &server, const std::string &dbfile) {
  if (server.uses_postgresql()) return postgresql_state(server, dbfile);
  std::string state;
  // Journals come and go with the server's connections; the databases stay.
  std::set<std::string> files;
  for (const auto &entry : std::filesystem::directory_iterator(server.data_dir())) {
    std::string name = entry.path().filename().string();
    bool journal = false;
    for (const char *suffix : {"-wal", "-shm", "-journal"})
      journal = journal || (name.size() > std::strlen(suffix) && name.compare(name.size() - std::strlen(suffix),
                                                                               std::string::npos, suffix) == 0);
    if (!journal) files.insert(name);
  }
  for (const std::string &name : files) state += name + "\n";
  sqlite3 *db = nullptr;
  std::string path = (server.data_dir() / (dbfile + ".db")).string();
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return state + "<cannot open " + path + ">";
  }
  auto dump = [&](const std::string &sql) {
    sqlite3_stmt *statement = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
      state += "<" + std::string(sqlite3_errmsg(db)) + ">\n";
      return;
    }
    while (sqlite3_step(statement) == SQLITE_ROW) {
      for (int i = 0; i < sqlite3_column_count(statement); ++i) {
        const unsigned char *text = sqlite3_column_text(statement, i);
        state += text ? reinterpret_cast<const char *>(text) : "<null>";
        state += "|";
      }
      state += "\n";
    }
    sqlite3_finalize(statement);
  };
  dump("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name");
  std::vector<std::string> tables;
  {
    sqlite3_stmt *statement = nullptr;
    sqlite3_prepare_v2(db,
                       "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%' "
                       "ORDER BY name",
                       -1, &statement, nullptr);
    while (sqlite3_step(statement) == SQLITE_ROW)
      tables.push_back(reinterpret_cast<const char *>(sqlite3_column_text(statement, 0)));
    sqlite3_finalize(statement);
  }
  for (const std::string &table : tables) {
    state += "== " + table + "\n";
    dump("SELECT * FROM \"" + table + "\" ORDER BY rowid");
  }
  sqlite3_close(db);
  return state;
}

// A server with one dbfile `shop`: table items (through the module), a history row,
// values of every type.
struct QueryFixture {
  explicit QueryFixture(std::vector<std::string> args = {}) : server(std::move(args)), client(dir.path() / "c.db") {
    client.exec("CREATE VIRTUAL TABLE items USING zumero (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL, photo BLOB);"
                "INSERT INTO items VALUES (1, 'apple', 0.5, x'0102ff'), (2, 'pear', NULL, NULL), "
                "(3, 'plum', 2.25, x'');"
                "UPDATE items SET price = 0.75 WHERE id = 1;");
    client.sync_complete(server.url(), "shop");
  }
  QueryReply query(const std::string &sql, const json &auth = nullptr, const json &extra = json::object()) {
    return post_query(server.url(), "shop", sql, auth, extra);
  }
  // The statement is refused with a 4xx and a zumero identifier, and the dbfile is as it was.
  void require_refused(const std::string &sql, const std::string &identifier = std::string(),
                       const json &auth = nullptr) {
    std::string before = server_state(server, "shop");
    QueryReply reply = query(sql, auth);
    INFO("sql: " << sql << "\nstatus " << reply.status << ": " << reply.raw);
    CHECK(reply.status >= 400);
    CHECK(reply.status < 500);
    CHECK_FALSE(reply.error().empty());
    if (!identifier.empty()) CHECK(reply.error() == identifier);
    CHECK_FALSE(reply.body.contains("rows"));
    CHECK(server_state(server, "shop") == before);
  }
  // After refusals the dbfile still syncs and answers queries.
  void require_still_serving() {
    client.exec("INSERT INTO items (id, name) VALUES (4, 'quince')");
    client.sync_complete(server.url(), "shop");
    QueryReply reply = query("SELECT count(*) FROM items");
    INFO(reply.raw);
    REQUIRE(reply.status == 200);
    CHECK(reply.body["rows"] == json::array({json::array({4})}));
  }

  ServerProcess server;
  TempDir dir;
  Client client;
};

}  // namespace

TEST_CASE("A query answers columns and rows through the virtual table", "[sync][query]") {
  QueryFixture fixture;
  QueryReply reply = fixture.query("SELECT id, name, price, photo FROM items ORDER BY id");
  INFO(reply.raw);
  REQUIRE(reply.status == 200);
  CHECK(reply.body["columns"] == json::array({"id", "name", "price", "photo"}));
  json expected = json::array({json::array({1, "apple", 0.75, "x'0102ff'"}), json::array({2, "pear", nullptr, nullptr}),
                               json::array({3, "plum", 2.25, "x''"})});
  CHECK(reply.body["rows"] == expected);
  CHECK(reply.body["truncated"] == false);

  // Constraints, aliases, built-in functions and aggregates.
  reply = fixture.query("SELECT upper(name) AS loud, length(name) n FROM items WHERE id >= 2 AND name LIKE 'p%' "
                        "ORDER BY name DESC");
  INFO(reply.raw);
  REQUIRE(reply.status == 200);
  CHECK(reply.body["columns"] == json::array({"loud", "n"}));
  CHECK(reply.body["rows"] == json::array({json::array({"PLUM", 4}), json::array({"PEAR", 4})}));
  reply = fixture.query("SELECT count(*), sum(price), group_concat(name, '+') FROM items");
  REQUIRE(reply.status == 200);
  CHECK(reply.body["rows"] == json::array({json::array({3, 3.0, "apple+pear+plum"})}));
  // A query that finds nothing still names its columns.
  reply = fixture.query("SELECT name FROM items WHERE id = 99;");
  REQUIRE(reply.status == 200);
  CHECK(reply.body["columns"] == json::array({"name"}));
  CHECK(reply.body["rows"] == json::array());
}

TEST_CASE("A query reads the z$ tables: live rows and history", "[sync][query]") {
  QueryFixture fixture;
  // A change the server saw: the version it replaced goes to the server's history.
  fixture.client.exec("UPDATE items SET price = 1.5 WHERE id = 3");
  fixture.client.sync_complete(fixture.server.url(), "shop");
  QueryReply reply = fixture.query("SELECT name, price FROM z$items ORDER BY rowid");
  INFO(reply.raw);
  REQUIRE(reply.status == 200);
  CHECK(reply.body["rows"] ==
        json::array({json::array({"apple", 0.75}), json::array({"pear", nullptr}), json::array({"plum", 1.5})}));
  reply = fixture.query("SELECT z_recid, price, z_deleted FROM \"z$old$items\" ORDER BY z_recid");
  INFO(reply.raw);
  REQUIRE(reply.status == 200);
  CHECK(reply.body["rows"] == json::array({json::array({3, 2.25, 0})}));
  // A common table expression and a join, still reading only.
  reply = fixture.query("WITH cheap AS (SELECT rowid AS id FROM z$items WHERE price < 1) "
                        "SELECT i.name FROM items i JOIN cheap USING (id)");
  INFO(reply.raw);
  REQUIRE(reply.status == 200);
  CHECK(reply.body["rows"] == json::array({json::array({"apple"})}));
}

TEST_CASE("A query may not write", "[sync][query][refusal]") {
  QueryFixture fixture;
  const std::vector<std::string> writes = {
      "INSERT INTO z$items (id, name) VALUES (10, 'x')",
      "INSERT INTO items (id, name) VALUES (10, 'x')",
      "INSERT INTO z$items (id, name) VALUES (11, 'y') RETURNING id",
      "UPDATE z$items SET name = 'x'",
      "UPDATE items SET name = 'x' WHERE id = 1",
      "DELETE FROM z$items",
      "DELETE FROM items",
      "DELETE FROM \"z$old$items\"",
      "REPLACE INTO z$items (id, name) VALUES (1, 'replaced')",
      "INSERT OR REPLACE INTO z$items (id, name) VALUES (2, 'replaced')",
      "WITH x AS (SELECT 1) DELETE FROM z$items",
      "CREATE TABLE extra (a)",
      "CREATE TEMP TABLE scratch AS SELECT * FROM z$items",
      "CREATE INDEX items_by_name ON z$items (name)",
      "CREATE VIEW cheap AS SELECT * FROM z$items",
      "CREATE TRIGGER wipe AFTER INSERT ON z$items BEGIN DELETE FROM z$items; END",
      "CREATE VIRTUAL TABLE more USING zumero (a TEXT)",
      "DROP TABLE z$items",
      "DROP TABLE items",
      "ALTER TABLE z$items ADD COLUMN extra TEXT",
      "ALTER TABLE z$items RENAME TO gone",
      "ANALYZE",
      "REINDEX",
      "VACUUM",
      "BEGIN",
      "COMMIT",
      "SAVEPOINT s",
  };
  for (const std::string &sql : writes) {
    INFO(sql);
    fixture.require_refused(sql);
  }
  // An index the server made for pulls.
  QueryReply indexes = fixture.query("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL");
  REQUIRE(indexes.status == 200);
  REQUIRE_FALSE(indexes.body["rows"].empty());
  fixture.require_refused("DROP INDEX \"" + indexes.body["rows"][0][0].get<std::string>() + "\"");
  // VACUUM INTO would write a copy of the dbfile anywhere the server may write.
  std::filesystem::path copy = fixture.dir.path() / "stolen.db";
  fixture.require_refused("VACUUM INTO '" + copy.string() + "'");
  CHECK_FALSE(std::filesystem::exists(copy));
  fixture.require_still_serving();
}

TEST_CASE("A query may not attach or detach databases", "[sync][query][refusal]") {
  QueryFixture fixture;
  std::filesystem::path other = fixture.dir.path() / "other.db";
  fixture.require_refused("ATTACH DATABASE '" + other.string() + "' AS other");
  CHECK_FALSE(std::filesystem::exists(other));
  fixture.require_refused("ATTACH DATABASE ':memory:' AS scratch");
  fixture.require_refused("DETACH DATABASE main");
  // Another dbfile of the same server, by its file name.
  fixture.require_refused("ATTACH DATABASE '" + (fixture.server.data_dir() / "zumero_log.db").string() + "' AS log");
  fixture.require_still_serving();
}

TEST_CASE("A query may not run pragmas", "[sync][query][refusal]") {
  QueryFixture fixture;
  for (const char *sql : {"PRAGMA table_info(z$items)", "PRAGMA journal_mode = DELETE", "PRAGMA writable_schema = 1",
                                  "PRAGMA user_version = 7", "PRAGMA integrity_check", "PRAGMA database_list"}) {
    INFO(sql);
    fixture.require_refused(sql);
  }
  // The same pragmas as table-valued functions.
  for (const char *sql :
       {"SELECT * FROM pragma_table_info('z$items')", "SELECT name FROM pragma_database_list",
        "SELECT * FROM pragma_journal_mode", "SELECT * FROM pragma_integrity_check",
        "SELECT name FROM z$items, pragma_index_list('z$items')", "SELECT * FROM pragma_function_list"}) {
    INFO(sql);
    fixture.require_refused(sql);
  }
  fixture.require_still_serving();
}

TEST_CASE("A query may use only the built-in functions of the list", "[sync][query][refusal]") {
  QueryFixture fixture;
  for (const char *sql :
       {"SELECT load_extension('/nonexistent/library')", "SELECT load_extension('/nonexistent/library', 'entry')",
        "SELECT sqlite_version()", "SELECT changes()", "SELECT last_insert_rowid()", "SELECT sqlite_source_id()",
        "SELECT zumero_named_constant('action_column_merge')", "SELECT zumero_recording('items', 1)",
        "SELECT zumero_sync('main', 'http://127.0.0.1:1/', 'shop')", "SELECT name FROM items WHERE sqlite_version() > ''",
        "SELECT row_number() OVER (ORDER BY name) FROM z$items", "SELECT fts3_tokenizer('simple')"}) {
    INFO(sql);
    fixture.require_refused(sql);
  }
  fixture.require_still_serving();
}

TEST_CASE("A query may not read zumero's housekeeping tables", "[sync][query][refusal]") {
  QueryFixture fixture;
  for (const char *sql :
       {"SELECT * FROM \"t$clients\"", "SELECT * FROM \"t$versions\"", "SELECT * FROM \"t$tables\"",
        "SELECT * FROM \"t$schema\"", "SELECT * FROM \"t$sync\"", "SELECT count(*) FROM \"t$clients\"",
        // Names compare without case; a query that reads no column still reads the table.
        "SELECT count(*) FROM \"T$CLIENTS\"", "SELECT 1 FROM \"T$Versions\" LIMIT 1", "SELECT * FROM \"T$TABLES\"",
        "SELECT reply FROM main.\"t$clients\"", "WITH c AS (SELECT * FROM \"t$clients\") SELECT count(*) FROM c",
        "SELECT name FROM items WHERE id IN (SELECT version FROM \"t$versions\")"}) {
    INFO(sql);
    fixture.require_refused(sql, "permission_denied");
  }
  fixture.require_still_serving();
}

TEST_CASE("A query is one statement", "[sync][query][refusal]") {
  QueryFixture fixture;
  fixture.require_refused("SELECT 1; SELECT 2");
  fixture.require_refused("SELECT name FROM items; DELETE FROM z$items");
  fixture.require_refused("SELECT 1;;SELECT 2");
  fixture.require_refused("");
  fixture.require_refused("  ;  ");
  fixture.require_refused("SELEKT name FROM items", "syntax_error");
  fixture.require_refused("SELECT nothing FROM no_such_table");
  // Trailing semicolons and spaces are one statement.
  QueryReply reply = fixture.query("SELECT count(*) FROM items ;  ");
  INFO(reply.raw);
  CHECK(reply.status == 200);
  fixture.require_still_serving();
}

TEST_CASE("A query needs an identity that may pull the dbfile", "[sync][query][refusal]") {
  QueryFixture fixture({"--admin-password", "the admin"});
  const Credentials admin = Credentials::internal("zumero_users_admin", "admin", "the admin");
  // A dbfile created by an authenticated user: only that user may pull it.
  Client owner(fixture.dir.path() / "owner.db");
  owner.exec("CREATE VIRTUAL TABLE secrets USING zumero (s TEXT); INSERT INTO secrets VALUES ('hidden')");
  owner.sync_complete(fixture.server.url(), "private", admin);
  Client creator(fixture.dir.path() / "creator.db");
  creator.text("SELECT zumero_internal_auth_create(" + zumero::synctest::sql_quote(fixture.server.url()) +
               ", 'people', " + zumero::synctest::sql_quote(admin.scheme) + ", 'admin', 'the admin', 'carol', "
               "'carol password', NULL, NULL, NULL, NULL)");
  const Credentials carol = Credentials::internal("people", "carol", "carol password");

  QueryReply allowed = post_query(fixture.server.url(), "private", "SELECT s FROM secrets", auth_of(admin));
  INFO(allowed.raw);
  REQUIRE(allowed.status == 200);
  CHECK(allowed.body["rows"] == json::array({json::array({"hidden"})}));

  std::string before = server_state(fixture.server, "private");
  for (const json &auth : {json(nullptr), auth_of(carol)}) {
    QueryReply refused = post_query(fixture.server.url(), "private", "SELECT s FROM secrets", auth);
    INFO(auth.dump() << " -> " << refused.raw);
    CHECK(refused.status == 403);
    CHECK(refused.error() == "permission_denied");
    CHECK_FALSE(refused.body.contains("rows"));
  }
  QueryReply wrong = post_query(fixture.server.url(), "private", "SELECT s FROM secrets",
                                auth_of(Credentials::internal("people", "carol", "not her password")));
  CHECK(wrong.status == 401);
  CHECK(wrong.error() == "authentication_failed");
  CHECK(server_state(fixture.server, "private") == before);

  // zumero_log only for users of zumero_users_log and zumero_users_admin.
  QueryReply log = post_query(fixture.server.url(), "zumero_log", "SELECT count(*) FROM z$log", auth_of(carol));
  CHECK(log.status == 403);
  log = post_query(fixture.server.url(), "zumero_log", "SELECT count(*) FROM z$log", auth_of(admin));
  INFO(log.raw);
  CHECK(log.status == 200);
  // A dbfile that does not exist.
  QueryReply missing = post_query(fixture.server.url(), "no_such_dbfile", "SELECT 1", auth_of(admin));
  CHECK(missing.status == 404);
  CHECK_FALSE(fixture.server.has_dbfile("no_such_dbfile"));
}

TEST_CASE("A query never reads an internal auth dbfile", "[sync][query][refusal]") {
  QueryFixture fixture({"--admin-password", "the admin"});
  const Credentials admin = Credentials::internal("zumero_users_admin", "admin", "the admin");
  std::string before = server_state(fixture.server, "zumero_users_admin");
  for (const char *sql : {"SELECT * FROM users", "SELECT count(*) FROM z$users", "SELECT 1"}) {
    QueryReply reply = post_query(fixture.server.url(), "zumero_users_admin", sql, auth_of(admin));
    INFO(sql << " -> " << reply.status << " " << reply.raw);
    CHECK(reply.status == 403);
    CHECK(reply.error() == "permission_denied");
    CHECK(reply.raw.find("argon") == std::string::npos);
    CHECK_FALSE(reply.body.contains("rows"));
  }
  CHECK(server_state(fixture.server, "zumero_users_admin") == before);
}

TEST_CASE("A query that runs past the time limit is stopped", "[sync][query][refusal]") {
  QueryFixture fixture({"--query-timeout-ms", "200"});
  std::string before = server_state(fixture.server, "shop");
  auto start = std::chrono::steady_clock::now();
  QueryReply reply = fixture.query("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
                                   "SELECT count(*) FROM c");
  auto elapsed = std::chrono::steady_clock::now() - start;
  INFO(reply.raw);
  CHECK(reply.status == 400);
  CHECK(reply.error() == "query_timeout");
  CHECK_FALSE(reply.body.contains("rows"));
  CHECK(elapsed < std::chrono::seconds(20));  // stopped, not run to its end (which never comes)
  CHECK(server_state(fixture.server, "shop") == before);
  // A query that returns rows all along is stopped as well.
  reply = fixture.query("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
                        "SELECT x FROM c WHERE x % 1000000 = 0");
  INFO(reply.raw);
  CHECK(reply.status == 400);
  CHECK(reply.error() == "query_timeout");
  fixture.require_still_serving();
}

TEST_CASE("A query answers at most the row cap, and says it was cut", "[sync][query]") {
  QueryFixture fixture({"--query-max-rows", "5"});
  const std::string numbers = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20) SELECT x FROM c";
  QueryReply reply = fixture.query(numbers);
  INFO(reply.raw);
  REQUIRE(reply.status == 200);
  CHECK(reply.body["rows"] == json::array({json::array({1}), json::array({2}), json::array({3}), json::array({4}),
                                           json::array({5})}));
  CHECK(reply.body["truncated"] == true);
  // Exactly as many rows as the cap: nothing was cut.
  reply = fixture.query("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5) SELECT x FROM c");
  REQUIRE(reply.status == 200);
  CHECK(reply.body["rows"].size() == 5);
  CHECK(reply.body["truncated"] == false);
  // A client may ask for fewer, never for more.
  reply = fixture.query(numbers, nullptr, {{"max_rows", 2}});
  REQUIRE(reply.status == 200);
  CHECK(reply.body["rows"].size() == 2);
  CHECK(reply.body["truncated"] == true);
  reply = fixture.query(numbers, nullptr, {{"max_rows", 50}});
  CHECK(reply.status == 400);
  CHECK_FALSE(reply.body.contains("rows"));
  reply = fixture.query("SELECT name FROM items ORDER BY id", nullptr, {{"max_rows", 0}});
  CHECK(reply.status == 400);
}
