// Acceptance tests for authentication, permissions and internal auth (guide chapter 7,
// 9.1-9.3, 10.1.3-10.1.8 and the security answers of chapter 12), through real clients
// and a real server. The search order of ACL entries is the one server/access_control.h
// documents: by who (user, group, any authenticated user, anyone), then by op (the
// operation, then '*'), then by tbl (the table, then '*'), deny before allow.
#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "security_support.h"
#include "server/tests/server_process.h"
#include "sync/http_client.h"
#include "sync/package.h"
#include "sync_support.h"

using namespace zumero::securitytest;
using zumero::synctest::Row;
using zumero::synctest::sql_quote;
using zumero::test::ServerProcess;
using zumero::test::TempDir;

namespace {

using Clock = std::chrono::steady_clock;

const std::string kDenied = "zumero:permission_denied";
const std::string kAuthFailed = "zumero:authentication_failed";
const std::string kTeam = scheme_of("team");

Credentials alice() { return Fixture::member("alice"); }
Credentials bob() { return Fixture::member("bob"); }
Credentials carol() { return Fixture::member("carol"); }
Credentials owner() { return Fixture::member("owner"); }

// A change a client makes to a dbfile it holds, pushed by its next sync; `n` keeps
// names apart.
struct PushOperation {
  std::string op;  // the ACL operation it needs
  bool table_op;   // the ACL entry names table t
  std::function<void(Client &, int n)> change;
};

const std::vector<PushOperation> &push_operations() {
  static const std::vector<PushOperation> operations = {
      {"create_table", false,
       [](Client &c, int n) { c.exec("CREATE VIRTUAL TABLE made_" + std::to_string(n) + " USING zumero (a TEXT)"); }},
      {"tbl_add_row", true,
       [](Client &c, int n) { c.exec("INSERT INTO t VALUES ('row_" + std::to_string(n) + "', 'x')"); }},
      {"tbl_modify_row", true,
       [](Client &c, int n) { c.exec("UPDATE t SET v = 'changed_" + std::to_string(n) + "' WHERE k = 'seed'"); }},
      {"tbl_add_column", true,
       [](Client &c, int n) {
         c.exec("SELECT zumero_alter_table_add_column('main', 't', 'c_" + std::to_string(n) + " TEXT')");
         c.reopen();
       }},
      {"add_rule", false,
       [](Client &c, int) {
         c.exec("SELECT zumero_add_row_rule('main', 't', zumero_named_constant('situation_mod_after_mod'), "
                "zumero_named_constant('action_accept'), NULL)");
       }},
  };
  return operations;
}

std::string insert_into(const std::string &table, const std::string &key) {
  return "INSERT INTO " + table + " (k) VALUES (" + sql_quote(key) + ")";
}

// The groups of the auth dbfile `auth` (internal_auth.h): rows pushed by `as`. The
// sync that pushes them may report permission_denied for its pull (nobody pulls an
// internal auth dbfile), so the caller checks the server's rows.
std::string push_group_rows(Fixture &f, const std::string &auth, const Who &as,
                            const std::vector<std::pair<std::string, std::string>> &members) {
  Client &c = f.client("groups");
  c.exec("CREATE VIRTUAL TABLE groups USING zumero (groupname TEXT NOT NULL, username TEXT NOT NULL, "
         "UNIQUE (groupname, username))");
  for (const auto &[group, user] : members)
    c.exec("INSERT INTO groups VALUES (" + sql_quote(group) + ", " + sql_quote(user) + ")");
  return f.sync(c, auth, as);
}

Rows server_groups(Fixture &f, const std::string &auth) {
  ServerFile file(f.server(), auth);
  return file.rows("SELECT groupname, username FROM \"z$groups\" ORDER BY groupname, username");
}

// The team of most tests: owner, alice, bob and carol, with alice and carol in the
// group "editors".
void create_team_with_editors(Fixture &f) {
  f.create_team({"owner", "alice", "bob", "carol"});
  std::string error = push_group_rows(f, "team", admin(), {{"editors", "alice"}, {"editors", "carol"}});
  INFO("the admin's push into team's groups: " << error);
  CHECK((error.empty() || error == kDenied));
  REQUIRE(server_groups(f, "team") == Rows{{"editors", "alice"}, {"editors", "carol"}});
}

long long elapsed_ms(const std::function<void()> &work) {
  Clock::time_point start = Clock::now();
  work();
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// Raw requests to the server, past the client's own checks.
zumero::HttpResponse raw_request(const std::string &url, const std::string &path, const nlohmann::json &header) {
  return zumero::http_post(url, path, zumero::sync::seal_envelope({header.dump(), std::string()}),
                           "application/x-zumero");
}

std::string error_identifier(const zumero::HttpResponse &response) {
  nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
  return body.is_object() ? body.value("error", "") : "";
}

}  // namespace

// ============================================================================================
// 1. Authentication (7.1)
// ============================================================================================

TEST_CASE("Authentication: bad schemes, unknown users, wrong passwords: none is anonymous", "[sync][security]") {
  Fixture f;
  f.create_team({"owner", "alice"});
  f.create_public();
  f.create_data("owned", owner(), {});

  CHECK(f.authentication_error(alice()) == "");
  CHECK(f.pull_error("public", kAnonymous) == "");

  // Schemes that are not a JSON object with a scheme_type.
  for (const std::string scheme : {"not json", "{\"dbfile\":\"team\"}", "[\"internal\"]", "",
                                   "{\"scheme_type\":7,\"dbfile\":\"team\"}"}) {
    INFO("scheme " << scheme);
    CHECK(f.authentication_error(Credentials{scheme, "alice", "alice-pw"}) == "zumero:invalid_auth_scheme_string");
    CHECK(f.run(add_user_sql(f.url(), "team", Credentials{scheme, "alice", "alice-pw"}, "x", "y")) ==
          "zumero:invalid_auth_scheme_string");
  }
  // An unknown scheme type, an unknown user, a wrong password, an auth dbfile that
  // does not exist or is not one.
  CHECK(f.authentication_error(Credentials{"{\"scheme_type\":\"telephone\",\"number\":\"719-555-1234\"}", "Madonna",
                                           "holiday"}) == kAuthFailed);
  CHECK(f.authentication_error(Credentials::internal("team", "mallory", "alice-pw")) == kAuthFailed);
  CHECK(f.authentication_error(Credentials::internal("team", "alice", "owner-pw")) == kAuthFailed);
  CHECK(f.authentication_error(Credentials::internal("team", "alice", "")) == kAuthFailed);
  CHECK(f.authentication_error(Credentials::internal("nobody_here", "alice", "alice-pw")) == kAuthFailed);
  CHECK(f.authentication_error(Credentials::internal("public", "alice", "alice-pw")) == kAuthFailed);
  // A failed authentication is refused even where anonymous would be allowed, and
  // on every route.
  CHECK(f.run(add_user_sql(f.url(), "team", Credentials::internal("team", "alice", "wrong"), "x", "y")) ==
        kAuthFailed);
  CHECK(f.run(storage_usage_sql(f.url(), Credentials::internal("team", "alice", "wrong"), "usage")) == kAuthFailed);

  // Without credentials the request is anonymous: allowed where anyone is, not where
  // only the creator is.
  CHECK(f.pull_error("owned", kAnonymous) == kDenied);
  CHECK(f.pull_error("owned", owner()) == "");

  // Credentials are all three or none.
  Client &c = f.client();
  const std::string url = sql_quote(f.url());
  const std::string scheme = sql_quote(Fixture::member("alice").scheme);
  const std::vector<std::string> partials = {scheme + ", NULL, NULL", scheme + ", 'alice', NULL",
                                             "NULL, 'alice', 'alice-pw'", "NULL, NULL, 'alice-pw'"};
  for (const std::string &partial : partials) {
    INFO("credentials " << partial);
    CHECK(c.error_of("SELECT zumero_sync('main', " + url + ", 'public', " + partial + ")") == "zumero:invalid_argument");
    CHECK(c.error_of("SELECT zumero_internal_auth_add_user(" + url + ", 'team', " + partial + ", 'x', 'y')") ==
          "zumero:invalid_argument");
    CHECK(c.error_of("SELECT zumero_get_storage_usage_on_server(" + url + ", " + partial + ", 'usage')") ==
          "zumero:invalid_argument");
  }
  // The server refuses them too.
  zumero::HttpResponse partial_auth =
      raw_request(f.url(), "/pull",
                  {{"op", "pull"}, {"dbfile", "public"}, {"base", 0},
                   {"auth", {{"scheme", Fixture::member("alice").scheme}, {"user", "alice"}}}});
  CHECK(partial_auth.status == 400);
}

TEST_CASE("Authentication: the identity is scheme and user, schemes compared as JSON", "[sync][security]") {
  Fixture f;
  f.create_team({"alice", "bob"});
  Client &c = f.client();
  REQUIRE(c.error_of(auth_create_sql(f.url(), "team2", admin(), std::string("alice"), std::string("other-pw"),
                                     kNoScheme, "NULL", kNoScheme, "NULL")) == "");
  const Credentials alice_elsewhere = Credentials::internal("team2", "alice", "other-pw");

  // Created by alice of team, with no ACL: only that identity (7.2.3).
  f.create_data("alices", alice(), {}, false);
  const std::string reordered = "{ \"dbfile\" : \"team\",\n  \"scheme_type\" : \"internal\" }";
  CHECK(f.pull_error("alices", alice()) == "");
  CHECK(f.pull_error("alices", Credentials{reordered, "alice", "alice-pw"}) == "");
  CHECK(f.pull_error("alices", Credentials{"{\"scheme_type\": \"internal\", \"dbfile\": \"team\"}", "alice",
                                           "alice-pw"}) == "");
  CHECK(f.pull_error("alices", bob()) == kDenied);
  CHECK(f.pull_error("alices", alice_elsewhere) == kDenied);  // same name, other scheme
  CHECK(f.pull_error("alices", kAnonymous) == kDenied);

  // An ACL entry's scheme is compared the same way.
  f.create_data("for_bob", alice(),
                {Entry{sql_quote("{\"dbfile\": \"team\", \"scheme_type\": \"internal\"}"), user_who("bob"), "''",
                       "zumero_named_constant('acl_op_pull')", "zumero_named_constant('acl_result_allow')"}});
  CHECK(f.pull_error("for_bob", bob()) == "");
  CHECK(f.pull_error("for_bob", Credentials{reordered, "bob", "bob-pw"}) == "");
  CHECK(f.pull_error("for_bob", Credentials::internal("team2", "bob", "bob-pw")) == kAuthFailed);
  CHECK(f.pull_error("for_bob", alice_elsewhere) == kDenied);
}

TEST_CASE("Authentication: an alias uses the other user's password and has its own permissions",
          "[sync][security]") {
  Fixture f;
  f.create_public();
  const std::string admins = scheme_of("zumero_users_admin");
  REQUIRE(f.run(auth_create_sql(f.url(), "admins", admin(), std::string("chet"), std::string("chet-pw"), admins,
                                kAnyUser, admins, kAnyUser)) == "");
  REQUIRE(f.run(auth_create_sql(f.url(), "users", admin(), std::string("dora"), std::string("dora-pw"), admins,
                                kAnyUser, admins, kAnyUser)) == "");
  // 10.1.5: other_dbfile or other_username may be null, not both.
  CHECK(f.run(add_alias_sql(f.url(), "users", admin(), "chet", std::string("admins"), std::nullopt)) == "");
  CHECK(f.run(add_alias_sql(f.url(), "users", admin(), "dee", std::nullopt, std::string("dora"))) == "");
  CHECK(f.run(add_alias_sql(f.url(), "users", admin(), "boss", std::string("admins"), std::string("chet"))) == "");
  CHECK(f.run(add_alias_sql(f.url(), "users", admin(), "nobody", std::nullopt, std::nullopt)) ==
        "zumero:invalid_argument");
  CHECK(f.run(add_alias_sql(f.url(), "users", admin(), "dora", std::string("admins"), std::string("chet"))) ==
        "zumero:unique_constraint_violation");

  const Credentials admins_chet = Credentials::internal("admins", "chet", "chet-pw");
  const Credentials users_chet = Credentials::internal("users", "chet", "chet-pw");
  CHECK(f.authentication_error(admins_chet) == "");
  CHECK(f.authentication_error(users_chet) == "");
  CHECK(f.authentication_error(Credentials::internal("users", "chet", "dora-pw")) == kAuthFailed);
  CHECK(f.authentication_error(Credentials::internal("users", "dee", "dora-pw")) == "");
  CHECK(f.authentication_error(Credentials::internal("users", "dee", "chet-pw")) == kAuthFailed);
  CHECK(f.authentication_error(Credentials::internal("users", "boss", "chet-pw")) == "");
  CHECK(f.authentication_error(Credentials::internal("users", "nobody", "")) == kAuthFailed);

  // The alias is an identity of its own.
  f.create_data("chets", admins_chet, {}, false);
  f.create_data("users_chets", users_chet, {}, false);
  CHECK(f.pull_error("chets", admins_chet) == "");
  CHECK(f.pull_error("chets", users_chet) == kDenied);
  CHECK(f.pull_error("users_chets", users_chet) == "");
  CHECK(f.pull_error("users_chets", admins_chet) == kDenied);
  f.create_data("for_users_chet", kAnonymous, {entry(scheme_of("users"), user_who("chet"), "pull", true),
                                               entry(kNoScheme, kAnyone, "pull", false)});
  CHECK(f.pull_error("for_users_chet", users_chet) == "");
  CHECK(f.pull_error("for_users_chet", admins_chet) == kDenied);

  // The alias follows the password of the user it points at.
  REQUIRE(f.run(set_password_sql(f.url(), "admins", admin(), "chet", "chet-new-pw")) == "");
  CHECK(f.authentication_error(users_chet) == kAuthFailed);
  CHECK(f.authentication_error(Credentials::internal("users", "chet", "chet-new-pw")) == "");
}

// ============================================================================================
// 2. Passwords (7.3, chapter 12)
// ============================================================================================

TEST_CASE("Passwords: stored as Argon2id hashes, never as passwords", "[sync][security]") {
  Fixture f;
  const std::string shared = "correct horse battery staple";
  Client &c = f.client();
  REQUIRE(c.error_of(auth_create_sql(f.url(), "people", admin(), std::string("alice"), shared, kNoScheme, "NULL",
                                     kNoScheme, "NULL")) == "");
  REQUIRE(c.error_of(add_user_sql(f.url(), "people", admin(), "bob", shared)) == "");
  REQUIRE(c.error_of(set_password_sql(f.url(), "people", admin(), "bob", "bob's second password")) == "");
  REQUIRE(c.error_of(set_password_sql(f.url(), "people", admin(), "bob", shared)) == "");

  ServerFile people(f.server(), "people");
  const Rows users = people.rows("SELECT username, password FROM \"z$users\" ORDER BY username");
  REQUIRE(users.size() == 2);
  for (const Row &user : users) {
    INFO("user " << user[0] << ": " << user[1]);
    CHECK(user[1].rfind("$argon2id$", 0) == 0);
    CHECK(user[1].find(shared) == std::string::npos);
  }
  CHECK(users[0][1] != users[1][1]);  // salted: one password, two hashes

  ServerFile admins(f.server(), "zumero_users_admin");
  const Rows admin_rows = admins.rows("SELECT username, password FROM \"z$users\"");
  REQUIRE(admin_rows.size() == 1);
  CHECK(admin_rows[0][0] == "admin");
  CHECK(admin_rows[0][1].rfind("$argon2id$", 0) == 0);

  // Nowhere in the server's files, history and log included (with PostgreSQL, in the
  // first node's copies).
  for (const auto &file : std::filesystem::recursive_directory_iterator(f.server().data_dir())) {
    if (!file.is_regular_file()) continue;
    const std::string bytes = file_bytes(file.path());
    INFO("file " << file.path());
    for (const std::string &password : {shared, std::string("bob's second password"), kAdminPassword})
      CHECK(bytes.find(password) == std::string::npos);
  }
}

TEST_CASE("Passwords: a changed password locks out the old one", "[sync][security]") {
  Fixture f;
  f.create_team({"owner", "alice"});
  f.create_public();
  REQUIRE(f.authentication_error(alice()) == "");  // the server has verified (and may remember) it
  REQUIRE(f.run(set_password_sql(f.url(), "team", admin(), "alice", "alice-second-pw")) == "");
  CHECK(f.authentication_error(alice()) == kAuthFailed);
  CHECK(f.authentication_error(Credentials::internal("team", "alice", "alice-second-pw")) == "");
  // The same through the user herself.
  REQUIRE(f.run(set_password_sql(f.url(), "team", Credentials::internal("team", "alice", "alice-second-pw"), "alice",
                                 "alice-third-pw")) == "");
  CHECK(f.authentication_error(Credentials::internal("team", "alice", "alice-second-pw")) == kAuthFailed);
  CHECK(f.authentication_error(Credentials::internal("team", "alice", "alice-third-pw")) == "");
  CHECK(f.authentication_error(owner()) == "");  // others are untouched
}

// Each node counts the failures it saw: [one-node].
TEST_CASE("Passwords: repeated failures for one user are answered more slowly", "[sync][security][one-node]") {
  // Not Fixture: the throttle must be in force from the first failure.
  ServerProcess server({"--admin-password", kAdminPassword, "--auth-throttle-after", "2", "--auth-throttle-max-ms",
                        "400"});
  TempDir dir;
  Client c(dir.path() / "c.db");
  REQUIRE(c.error_of(add_user_sql(server.url(), "zumero_users_admin", admin(), "victim", "victim-pw")) == "");
  const Credentials wrong = Credentials::internal("zumero_users_admin", "victim", "guess");
  std::vector<long long> times;
  for (int attempt = 1; attempt <= 10; ++attempt) {
    std::string error;
    times.push_back(elapsed_ms([&] { error = c.error_of(add_user_sql(server.url(), "zumero_users_admin", wrong,
                                                                     "x" + std::to_string(attempt), "y")); }));
    REQUIRE(error == kAuthFailed);
  }
  INFO("first failure " << times.front() << " ms, tenth " << times.back() << " ms");
  CHECK(times.back() >= times.front() + 250);
  CHECK(times.back() < 10000);  // slowed, not stuck
  // The right password still works.
  CHECK(c.error_of(add_user_sql(server.url(), "zumero_users_admin", Credentials::internal("zumero_users_admin",
                                                                                        "victim", "victim-pw"),
                                "x", "y")) == "");
}

TEST_CASE("Passwords: internal auth dbfiles are never pulled, by anyone", "[sync][security]") {
  Fixture f;
  f.create_team({"owner", "alice"});
  Client &c = f.client();
  REQUIRE(c.error_of(auth_create_sql(f.url(), "open_auth", kAnonymous, std::string("zed"), std::string("zed-pw"),
                                     kNoScheme, kAnyone, kNoScheme, kAnyone)) == "");
  // Entries that would open them to anyone change nothing.
  REQUIRE(c.error_of(set_acl_entry_sql(f.url(), "team", admin(), entry(kNoScheme, kAnyone, "pull", true))) == "");
  REQUIRE(c.error_of(set_acl_entry_sql(f.url(), "team", admin(), entry(kTeam, kAnyUser, "*", true))) == "");
  REQUIRE(c.error_of(set_acl_entry_sql(f.url(), "open_auth", kAnonymous, entry(kNoScheme, kAnyone, "pull", true))) ==
          "");
  const Credentials zed = Credentials::internal("open_auth", "zed", "zed-pw");
  for (const std::string dbfile : {"zumero_users_admin", "team", "open_auth"}) {
    INFO("dbfile " << dbfile);
    CHECK(f.pull_error(dbfile, admin()) == kDenied);
    CHECK(f.pull_error(dbfile, owner()) == kDenied);
    CHECK(f.pull_error(dbfile, alice()) == kDenied);
    CHECK(f.pull_error(dbfile, zed) == kDenied);
    CHECK(f.pull_error(dbfile, kAnonymous) == kDenied);
  }
  // Nor compared version by version through /versions.
  zumero::HttpResponse versions = raw_request(
      f.url(), "/versions",
      {{"op", "versions"}, {"dbfile", "team"}, {"versions", nlohmann::json::array()},
       {"auth", {{"scheme", admin().scheme}, {"user", "admin"}, {"password", kAdminPassword}}}});
  CHECK(versions.status == 403);
}

// ============================================================================================
// 3. The five internal-auth functions (10.1.3-10.1.7)
// ============================================================================================

TEST_CASE("Internal-auth functions take exactly the guide's parameters", "[sync][security]") {
  Fixture f;
  f.create_public();
  Client &c = f.client();
  const std::string url = sql_quote(f.url());
  const std::string creds = credentials_sql(admin());
  struct Call {
    std::string function;
    std::string arguments;  // after server_url, dbfile and the credentials
  };
  // In an order that works: each call succeeds with its own parameters.
  const std::vector<Call> calls = {
      {"zumero_internal_auth_create", "'first', 'first-pw', " + scheme_of("zumero_users_admin") + ", " + kAnyUser +
                                          ", " + scheme_of("zumero_users_admin") + ", " + kAnyUser},
      {"zumero_internal_auth_add_user", "'second', 'second-pw'"},
      {"zumero_internal_auth_add_alias", "'third', NULL, 'first'"},
      {"zumero_internal_auth_set_password", "'second', 'second-new-pw'"},
      {"zumero_internal_auth_set_acl_entry", kNoScheme + ", " + kAnyone + ", '', " +
                                                 "zumero_named_constant('acl_op_auth_add_user'), " +
                                                 "zumero_named_constant('acl_result_deny')"},
  };
  for (const Call &call : calls) {
    INFO(call.function);
    const std::string head = "SELECT " + call.function + "(" + url + ", 'params', " + creds;
    CHECK(c.error_of(head + ")") == "zumero:invalid_argument");
    CHECK(c.error_of(head + ", " + call.arguments + ", NULL)") == "zumero:invalid_argument");
    CHECK(c.error_of(head + ", " + call.arguments + ")") == "");
  }
  // The effects: users first (first-pw), second (second-new-pw), third (an alias of
  // first); nobody may add users now (the entry denies anyone).
  CHECK(f.authentication_error(Credentials::internal("params", "first", "first-pw")) == "");
  CHECK(f.authentication_error(Credentials::internal("params", "second", "second-new-pw")) == "");
  CHECK(f.authentication_error(Credentials::internal("params", "second", "second-pw")) == kAuthFailed);
  CHECK(f.authentication_error(Credentials::internal("params", "third", "first-pw")) == "");
  CHECK(c.error_of(add_user_sql(f.url(), "params", Credentials::internal("params", "first", "first-pw"), "fourth",
                                "x")) == kDenied);

  // zumero_internal_auth_create: first user and password are optional, but together.
  CHECK(c.error_of(auth_create_sql(f.url(), "empty_auth", admin(), std::nullopt, std::nullopt, kNoScheme, "NULL",
                                   kNoScheme, "NULL")) == "");
  CHECK(c.error_of(add_user_sql(f.url(), "empty_auth", admin(), "later", "later-pw")) == "");
  CHECK(f.authentication_error(Credentials::internal("empty_auth", "later", "later-pw")) == "");
  CHECK(c.error_of(auth_create_sql(f.url(), "half_auth", admin(), std::string("lonely"), std::nullopt, kNoScheme,
                                   "NULL", kNoScheme, "NULL")) == "zumero:invalid_argument");

  // A name taken is a unique constraint violation, for users and aliases alike.
  CHECK(c.error_of(add_user_sql(f.url(), "params", admin(), "first", "again")) ==
        "zumero:unique_constraint_violation");
  CHECK(c.error_of(add_user_sql(f.url(), "params", admin(), "third", "again")) ==
        "zumero:unique_constraint_violation");
  CHECK(c.error_of(add_user_sql(f.url(), "empty_auth", admin(), "later", "again")) ==
        "zumero:unique_constraint_violation");
  CHECK(f.authentication_error(Credentials::internal("params", "first", "first-pw")) == "");  // unchanged

  // Dbfile names (10.1.3-10.1.7 notes).
  for (const std::string name : {"Upper", "1digit", "zumero_mine", "has-dash"}) {
    INFO("name " << name);
    CHECK(c.error_of(auth_create_sql(f.url(), name, admin(), std::nullopt, std::nullopt, kNoScheme, "NULL",
                                     kNoScheme, "NULL")) == "zumero:invalid_dbfile_name");
    CHECK(c.error_of(add_user_sql(f.url(), name, admin(), "x", "y")) == "zumero:invalid_dbfile_name");
  }
}

TEST_CASE("Internal-auth functions change nothing in the local database", "[sync][security]") {
  Fixture f;
  Client &local = f.client("local");
  local.exec("CREATE VIRTUAL TABLE notes USING zumero (k TEXT PRIMARY KEY, v TEXT);"
             "INSERT INTO notes VALUES ('a', 'one'), ('b', 'two');"
             "CREATE TABLE plain (x);"
             "INSERT INTO plain VALUES (1);");
  REQUIRE(f.sync(local, "notes", kAnonymous) == "");
  local.exec("INSERT INTO notes VALUES ('c', 'unsynced')");
  const std::string before = file_bytes(local.file());
  const std::int64_t changes = local.integer("SELECT total_changes()");
  REQUIRE(!before.empty());

  const std::string url = f.url();
  const std::string admins = scheme_of("zumero_users_admin");
  const std::vector<std::string> statements = {
      auth_create_sql(url, "crew", admin(), std::string("first"), std::string("first-pw"), admins, kAnyUser, admins,
                      kAnyUser),
      add_user_sql(url, "crew", admin(), "second", "second-pw"),
      add_alias_sql(url, "crew", admin(), "third", std::nullopt, std::string("first")),
      set_password_sql(url, "crew", admin(), "second", "second-new-pw"),
      set_acl_entry_sql(url, "crew", admin(), entry(admins, kAnyUser, "auth_set_password", true)),
  };
  for (const std::string &sql : statements) {
    INFO(sql);
    CHECK(local.error_of(sql) == "");
  }
  // Failing calls change nothing either.
  CHECK(local.error_of(add_user_sql(url, "crew", admin(), "second", "again")) == "zumero:unique_constraint_violation");
  CHECK(local.error_of(add_user_sql(url, "crew", kAnonymous, "intruder", "x")) == kDenied);

  CHECK(local.integer("SELECT total_changes()") == changes);
  CHECK(file_bytes(local.file()) == before);
  CHECK(!std::filesystem::exists(local.file().string() + "-journal"));
  CHECK(!std::filesystem::exists(local.file().string() + "-wal"));
  CHECK(local.integer("SELECT count(*) FROM sqlite_master WHERE name LIKE '%users%' OR name LIKE '%crew%'") == 0);
}

// ============================================================================================
// 4. ACLs (7.2)
// ============================================================================================

TEST_CASE("ACL: pull is allowed by an entry and denied by an entry", "[sync][security]") {
  Fixture f;
  f.create_team({"owner", "alice", "bob"});
  // Created by owner: without an entry only owner may pull.
  f.create_data("pull_allow", owner(), {entry(kTeam, user_who("alice"), "pull", true)});
  CHECK(f.pull_error("pull_allow", alice()) == "");
  CHECK(f.pull_error("pull_allow", bob()) == kDenied);
  CHECK(f.pull_error("pull_allow", kAnonymous) == kDenied);
  // Created anonymously: without an entry anyone may pull.
  f.create_data("pull_deny", kAnonymous, {entry(kTeam, user_who("bob"), "pull", false)});
  CHECK(f.pull_error("pull_deny", bob()) == kDenied);
  CHECK(f.pull_error("pull_deny", alice()) == "");
  CHECK(f.pull_error("pull_deny", kAnonymous) == "");
}

TEST_CASE("ACL: each push operation is allowed by an entry where the default denies", "[sync][security]") {
  Fixture f;
  f.create_team({"owner", "alice", "bob"});
  int n = 0;
  for (const PushOperation &operation : push_operations()) {
    INFO("operation " << operation.op);
    const std::string dbfile = "allow_" + operation.op;
    f.create_data(dbfile, owner(),
                  {entry(kTeam, kAnyUser, "pull", true),
                   entry(kTeam, user_who("alice"), operation.op, true, operation.table_op ? "t" : "")});
    Client &as_bob = f.checkout(dbfile, bob());
    const Snapshot before = snapshot(f.server(), dbfile);
    operation.change(as_bob, ++n);
    CHECK(f.sync(as_bob, dbfile, bob()) == kDenied);
    CHECK(snapshot(f.server(), dbfile) == before);

    Client &as_alice = f.checkout(dbfile, alice());
    operation.change(as_alice, ++n);
    CHECK(f.sync(as_alice, dbfile, alice()) == "");
    CHECK(snapshot(f.server(), dbfile) != before);
  }
}

TEST_CASE("ACL: each push operation is denied by an entry where the default allows", "[sync][security]") {
  Fixture f;
  f.create_team({"owner", "alice", "bob"});
  int n = 0;
  for (const PushOperation &operation : push_operations()) {
    INFO("operation " << operation.op);
    const std::string dbfile = "deny_" + operation.op;
    f.create_data(dbfile, kAnonymous,
                  {entry(kTeam, user_who("bob"), operation.op, false, operation.table_op ? "t" : "")});
    Client &as_bob = f.checkout(dbfile, bob());
    const Snapshot before = snapshot(f.server(), dbfile);
    operation.change(as_bob, ++n);
    CHECK(f.sync(as_bob, dbfile, bob()) == kDenied);
    CHECK(snapshot(f.server(), dbfile) == before);

    Client &as_alice = f.checkout(dbfile, alice());
    operation.change(as_alice, ++n);
    CHECK(f.sync(as_alice, dbfile, alice()) == "");
    Client &as_anyone = f.checkout(dbfile, kAnonymous);
    operation.change(as_anyone, ++n);
    CHECK(f.sync(as_anyone, dbfile, kAnonymous) == "");
  }
}

TEST_CASE("ACL: deleting a row is tbl_modify_row, not tbl_add_row", "[sync][security]") {
  Fixture f;
  f.create_team({"owner", "alice"});
  f.create_data("deletes", owner(),
                {entry(kTeam, kAnyUser, "pull", true), entry(kTeam, user_who("alice"), "tbl_add_row", true, "t")});
  Client &c = f.checkout("deletes", alice());
  const Snapshot before = snapshot(f.server(), "deletes");
  c.exec("DELETE FROM t WHERE k = 'seed'");
  CHECK(f.sync(c, "deletes", alice()) == kDenied);
  CHECK(snapshot(f.server(), "deletes") == before);
}

TEST_CASE("ACL: auth_add_user, auth_set_password and auth_set_acl_entry, allowed and denied", "[sync][security]") {
  Fixture f;
  f.create_team({"owner", "alice", "bob"});
  f.create_public();
  const std::string url = f.url();

  // Created by owner: without an entry only owner may change it.
  REQUIRE(f.run(auth_create_sql(url, "club", owner(), std::string("member"), std::string("member-pw"), kTeam,
                                user_who("alice"), kTeam, user_who("alice"))) == "");
  REQUIRE(f.run(set_acl_entry_sql(url, "club", owner(),
                                  entry(kTeam, user_who("alice"), "auth_set_password", true))) == "");
  CHECK(f.run(add_user_sql(url, "club", bob(), "by_bob", "x")) == kDenied);
  CHECK(f.run(add_user_sql(url, "club", alice(), "by_alice", "by-alice-pw")) == "");
  CHECK(f.authentication_error(Credentials::internal("club", "by_alice", "by-alice-pw")) == "");
  CHECK(f.authentication_error(Credentials::internal("club", "by_bob", "x")) == kAuthFailed);

  CHECK(f.run(set_password_sql(url, "club", bob(), "member", "bobs-choice")) == kDenied);
  CHECK(f.authentication_error(Credentials::internal("club", "member", "member-pw")) == "");
  CHECK(f.run(set_password_sql(url, "club", alice(), "member", "alices-choice")) == "");
  CHECK(f.authentication_error(Credentials::internal("club", "member", "alices-choice")) == "");

  // Bob may not add the entry that would let him add users; alice may.
  CHECK(f.run(set_acl_entry_sql(url, "club", bob(), entry(kTeam, user_who("bob"), "auth_add_user", true))) == kDenied);
  CHECK(f.run(add_user_sql(url, "club", bob(), "by_bob", "x")) == kDenied);
  CHECK(f.run(set_acl_entry_sql(url, "club", alice(), entry(kTeam, user_who("bob"), "auth_add_user", true))) == "");
  CHECK(f.run(add_user_sql(url, "club", bob(), "by_bob", "x")) == "");

  // Created anonymously: without an entry anyone may; entries deny bob.
  REQUIRE(f.run(auth_create_sql(url, "open_club", kAnonymous, std::string("member"), std::string("member-pw"),
                                kNoScheme, "NULL", kNoScheme, "NULL")) == "");
  for (const std::string op : {"auth_add_user", "auth_set_password", "auth_set_acl_entry"})
    REQUIRE(f.run(set_acl_entry_sql(url, "open_club", kAnonymous, entry(kTeam, user_who("bob"), op, false))) == "");
  CHECK(f.run(add_user_sql(url, "open_club", bob(), "by_bob", "x")) == kDenied);
  CHECK(f.run(add_user_sql(url, "open_club", alice(), "by_alice", "x")) == "");
  CHECK(f.run(set_password_sql(url, "open_club", bob(), "member", "bobs-choice")) == kDenied);
  CHECK(f.run(set_password_sql(url, "open_club", alice(), "member", "alices-choice")) == "");
  CHECK(f.run(set_acl_entry_sql(url, "open_club", bob(), entry(kNoScheme, kAnyone, "auth_add_user", true))) ==
        kDenied);
  CHECK(f.run(set_acl_entry_sql(url, "open_club", alice(), entry(kTeam, user_who("carol"), "auth_add_user", false))) ==
        "");
  CHECK(f.authentication_error(Credentials::internal("open_club", "member", "alices-choice")) == "");
}

TEST_CASE("ACL: set_acl_entry accepts only well-formed entries", "[sync][security]") {
  Fixture f;
  REQUIRE(f.run(auth_create_sql(f.url(), "club", admin(), std::nullopt, std::nullopt, kNoScheme, "NULL", kNoScheme,
                                "NULL")) == "");
  auto set = [&](const std::string &scheme, const std::string &who, const std::string &tbl, const std::string &op,
                 const std::string &result) {
    return f.run(set_acl_entry_sql(f.url(), "club", admin(), Entry{scheme, who, tbl, op, result}));
  };
  const std::string allow = "'allow'";
  CHECK(set(kNoScheme, kAnyone, "''", "'auth_add_user'", allow) == "");
  CHECK(set(kNoScheme, kAnyone, "''", "'no_such_op'", allow) == "zumero:invalid_argument");
  CHECK(set(kNoScheme, kAnyone, "''", "'auth_add_user'", "'maybe'") == "zumero:invalid_argument");
  CHECK(set(kNoScheme, "'somebody'", "''", "'auth_add_user'", allow) == "zumero:invalid_argument");
  CHECK(set(kNoScheme, kAnyUser, "''", "'auth_add_user'", allow) == "zumero:invalid_argument");  // needs a scheme
  CHECK(set(kTeam, kAnyUser, "'users'", "'auth_add_user'", allow) == "zumero:invalid_argument");  // tbl must be ''
  CHECK(set(kTeam, kAnyUser, "''", "'tbl_add_row'", allow) == "zumero:invalid_argument");  // needs a tbl
}

TEST_CASE("ACL: create_dbfile and get_storage_usage are allowed by zumero_config's entries", "[sync][security]") {
  Fixture f;
  f.create_team({"owner", "alice", "bob"});
  // Created by the admin: without an entry only the admin may.
  f.create_data("zumero_config", admin(),
                {entry(kTeam, user_who("alice"), "create_dbfile", true),
                 entry(kTeam, user_who("alice"), "get_storage_usage", true)});
  CHECK(f.pull_error("zumero_config", bob()) == kDenied);

  for (const Who &who : {Who(bob()), kAnonymous}) {
    INFO("as " << (who ? who->user : "anonymous"));
    Client &c = f.client();
    c.exec("CREATE VIRTUAL TABLE t USING zumero (a TEXT); INSERT INTO t VALUES ('x');");
    CHECK(f.sync(c, "refused_dbfile", who) == kDenied);
    CHECK(!f.server().has_dbfile("refused_dbfile"));
    CHECK(f.run(auth_create_sql(f.url(), "refused_auth", who, std::nullopt, std::nullopt, kNoScheme, "NULL",
                                kNoScheme, "NULL")) == kDenied);
    CHECK(!f.server().has_dbfile("refused_auth"));
    CHECK(f.run(storage_usage_sql(f.url(), who, "usage")) == kDenied);
  }

  f.create_data("alices_dbfile", alice(), {});
  CHECK(f.run(auth_create_sql(f.url(), "alices_auth", alice(), std::nullopt, std::nullopt, kNoScheme, "NULL",
                              kNoScheme, "NULL")) == "");
  f.create_data("admins_dbfile", admin(), {});
  Client &c = f.client();
  REQUIRE(c.error_of(storage_usage_sql(f.url(), alice(), "usage")) == "");
  CHECK(c.integer("SELECT count(*) FROM temp.usage WHERE dbfile IN ('alices_dbfile', 'alices_auth', "
                  "'admins_dbfile', 'team') AND size > 0") == 4);
  CHECK(f.run(storage_usage_sql(f.url(), admin(), "usage")) == "");
}

TEST_CASE("ACL: create_dbfile and get_storage_usage are denied by zumero_config's entries", "[sync][security]") {
  Fixture f;
  f.create_team({"owner", "alice", "bob"});
  // Created anonymously: without an entry anyone may.
  f.create_data("zumero_config", kAnonymous,
                {entry(kTeam, user_who("bob"), "create_dbfile", false),
                 entry(kTeam, user_who("bob"), "get_storage_usage", false)});
  Client &c = f.client();
  c.exec("CREATE VIRTUAL TABLE t USING zumero (a TEXT); INSERT INTO t VALUES ('x');");
  CHECK(f.sync(c, "bobs_dbfile", bob()) == kDenied);
  CHECK(!f.server().has_dbfile("bobs_dbfile"));
  CHECK(f.run(auth_create_sql(f.url(), "bobs_auth", bob(), std::nullopt, std::nullopt, kNoScheme, "NULL", kNoScheme,
                              "NULL")) == kDenied);
  CHECK(f.run(storage_usage_sql(f.url(), bob(), "usage")) == kDenied);

  f.create_data("alices_dbfile", alice(), {});
  f.create_data("anonymous_dbfile", kAnonymous, {});
  CHECK(f.run(storage_usage_sql(f.url(), alice(), "usage")) == "");
  CHECK(f.run(storage_usage_sql(f.url(), kAnonymous, "usage")) == "");
}

TEST_CASE("ACL: every kind of who", "[sync][security]") {
  Fixture f;
  create_team_with_editors(f);
  REQUIRE(f.run(auth_create_sql(f.url(), "team2", admin(), std::string("alice"), std::string("other-pw"), kNoScheme,
                                "NULL", kNoScheme, "NULL")) == "");
  const Credentials alice_elsewhere = Credentials::internal("team2", "alice", "other-pw");

  f.create_data("for_anyone", owner(), {entry(kNoScheme, kAnyone, "pull", true)});
  CHECK(f.pull_error("for_anyone", kAnonymous) == "");
  CHECK(f.pull_error("for_anyone", bob()) == "");
  CHECK(f.pull_error("for_anyone", admin()) == "");

  f.create_data("for_team", owner(), {entry(kTeam, kAnyUser, "pull", true)});
  CHECK(f.pull_error("for_team", bob()) == "");
  CHECK(f.pull_error("for_team", carol()) == "");
  CHECK(f.pull_error("for_team", kAnonymous) == kDenied);
  CHECK(f.pull_error("for_team", admin()) == kDenied);
  CHECK(f.pull_error("for_team", alice_elsewhere) == kDenied);

  f.create_data("for_alice", owner(), {entry(kTeam, user_who("alice"), "pull", true)});
  CHECK(f.pull_error("for_alice", alice()) == "");
  CHECK(f.pull_error("for_alice", bob()) == kDenied);
  CHECK(f.pull_error("for_alice", alice_elsewhere) == kDenied);
  CHECK(f.pull_error("for_alice", kAnonymous) == kDenied);

  f.create_data("for_editors", owner(), {entry(kTeam, group_who("editors"), "pull", true)});
  CHECK(f.pull_error("for_editors", carol()) == "");
  CHECK(f.pull_error("for_editors", alice()) == "");
  CHECK(f.pull_error("for_editors", bob()) == kDenied);
  CHECK(f.pull_error("for_editors", alice_elsewhere) == kDenied);  // groups belong to their scheme
  CHECK(f.pull_error("for_editors", kAnonymous) == kDenied);
}

TEST_CASE("ACL: group rows are added by a push only from an identity allowed to add rows there",
          "[sync][security]") {
  Fixture f;
  create_team_with_editors(f);
  f.create_data("for_editors", owner(), {entry(kTeam, group_who("editors"), "pull", true)});
  REQUIRE(f.pull_error("for_editors", bob()) == kDenied);

  // Bob (not the creator of team, no entry) cannot make himself an editor.
  CHECK(push_group_rows(f, "team", bob(), {{"editors", "bob"}}) == kDenied);
  CHECK(server_groups(f, "team") == Rows{{"editors", "alice"}, {"editors", "carol"}});
  CHECK(f.pull_error("for_editors", bob()) == kDenied);
  // An entry lets him.
  REQUIRE(f.run(set_acl_entry_sql(f.url(), "team", admin(), entry(kTeam, user_who("bob"), "*", true))) == "");
  std::string error = push_group_rows(f, "team", bob(), {{"editors", "bob"}});
  INFO("bob's push: " << error);
  CHECK((error.empty() || error == kDenied));
  CHECK(server_groups(f, "team") == Rows{{"editors", "alice"}, {"editors", "bob"}, {"editors", "carol"}});
  CHECK(f.pull_error("for_editors", bob()) == "");
}

TEST_CASE("ACL: tbl names a table or '*'", "[sync][security]") {
  Fixture f;
  f.create_team({"owner", "alice", "bob"});
  f.create_data("tables", owner(),
                {entry(kTeam, kAnyUser, "pull", true), entry(kTeam, user_who("alice"), "tbl_add_row", true, "t"),
                 entry(kTeam, user_who("bob"), "tbl_add_row", true, "*")});
  Client &a = f.checkout("tables", alice());
  a.exec("INSERT INTO t VALUES ('from_alice', 'x')");
  CHECK(f.sync(a, "tables", alice()) == "");
  Client &a2 = f.checkout("tables", alice());
  a2.exec(insert_into("u", "from_alice"));
  CHECK(f.sync(a2, "tables", alice()) == kDenied);

  Client &b = f.checkout("tables", bob());
  b.exec("INSERT INTO t VALUES ('from_bob', 'x');" + insert_into("u", "from_bob"));
  CHECK(f.sync(b, "tables", bob()) == "");
  ServerFile file(f.server(), "tables");
  CHECK(file.rows("SELECT k FROM \"z$t\" ORDER BY k") == Rows{{"from_alice"}, {"from_bob"}, {"seed"}});
  CHECK(file.rows("SELECT k FROM \"z$u\"") == Rows{{"from_bob"}});
}

TEST_CASE("ACL: op '*' matches every operation", "[sync][security]") {
  Fixture f;
  f.create_team({"owner", "alice", "bob"});
  f.create_data("everything", owner(), {entry(kTeam, user_who("alice"), "*", true)});
  Client &a = f.checkout("everything", alice());
  a.exec("CREATE VIRTUAL TABLE more USING zumero (a TEXT);"
         "INSERT INTO t VALUES ('new', 'x'); UPDATE t SET v = 'changed' WHERE k = 'seed';"
         "SELECT zumero_add_row_rule('main', 't', zumero_named_constant('situation_mod_after_mod'), "
         "zumero_named_constant('action_accept'), NULL);");
  CHECK(f.sync(a, "everything", alice()) == "");
  a.exec("SELECT zumero_alter_table_add_column('main', 't', 'extra TEXT')");
  a.reopen();
  CHECK(f.sync(a, "everything", alice()) == "");
  a.exec("DELETE FROM t WHERE k = 'new'");
  CHECK(f.sync(a, "everything", alice()) == "");
  CHECK(f.pull_error("everything", bob()) == kDenied);

  f.create_data("nothing", kAnonymous, {entry(kTeam, user_who("bob"), "*", false)});
  CHECK(f.pull_error("nothing", bob()) == kDenied);
  Client &b = f.checkout("nothing", alice());
  b.exec("INSERT INTO t VALUES ('by_bob', 'x')");
  CHECK(f.sync(b, "nothing", bob()) == kDenied);
  CHECK(f.sync(b, "nothing", alice()) == "");
}

TEST_CASE("ACL search order: the more specific who decides", "[sync][security]") {
  Fixture f;
  create_team_with_editors(f);
  // user over any_authenticated_user, whichever comes first in the table.
  f.create_data("user_first", owner(),
                {entry(kTeam, user_who("bob"), "pull", false), entry(kTeam, kAnyUser, "pull", true)});
  f.create_data("user_last", owner(),
                {entry(kTeam, kAnyUser, "pull", true), entry(kTeam, user_who("bob"), "pull", false)});
  for (const std::string dbfile : {"user_first", "user_last"}) {
    INFO(dbfile);
    CHECK(f.pull_error(dbfile, alice()) == "");
    CHECK(f.pull_error(dbfile, bob()) == kDenied);
  }
  // any_authenticated_user over anyone.
  f.create_data("members_only", owner(),
                {entry(kNoScheme, kAnyone, "pull", false), entry(kTeam, kAnyUser, "pull", true)});
  CHECK(f.pull_error("members_only", bob()) == "");
  CHECK(f.pull_error("members_only", kAnonymous) == kDenied);
  CHECK(f.pull_error("members_only", admin()) == kDenied);
  // group over any_authenticated_user.
  f.create_data("editors_only", owner(),
                {entry(kTeam, kAnyUser, "pull", false), entry(kTeam, group_who("editors"), "pull", true)});
  CHECK(f.pull_error("editors_only", carol()) == "");
  CHECK(f.pull_error("editors_only", alice()) == "");
  CHECK(f.pull_error("editors_only", bob()) == kDenied);
  // user over group.
  f.create_data("not_carol", owner(),
                {entry(kTeam, user_who("carol"), "pull", false), entry(kTeam, group_who("editors"), "pull", true)});
  CHECK(f.pull_error("not_carol", alice()) == "");
  CHECK(f.pull_error("not_carol", carol()) == kDenied);
  // who before op: a user's '*' beats everybody's pull.
  f.create_data("who_before_op", owner(),
                {entry(kTeam, kAnyUser, "pull", false), entry(kTeam, user_who("alice"), "*", true)});
  CHECK(f.pull_error("who_before_op", alice()) == "");
  CHECK(f.pull_error("who_before_op", bob()) == kDenied);
}

TEST_CASE("ACL search order: the operation before '*', the table before '*'", "[sync][security]") {
  Fixture f;
  f.create_team({"owner", "alice", "bob"});
  // op: pull allowed over '*' denied; a row denied over '*' allowed.
  f.create_data("ops", owner(),
                {entry(kTeam, user_who("alice"), "*", false), entry(kTeam, user_who("alice"), "pull", true),
                 entry(kTeam, user_who("bob"), "tbl_add_row", false, "t"), entry(kTeam, user_who("bob"), "*", true)});
  Client &a = f.checkout("ops", alice());
  a.exec("INSERT INTO t VALUES ('by_alice', 'x')");
  CHECK(f.sync(a, "ops", alice()) == kDenied);
  Client &b = f.checkout("ops", bob());
  b.exec("UPDATE t SET v = 'by_bob' WHERE k = 'seed'");
  CHECK(f.sync(b, "ops", bob()) == "");
  Client &b2 = f.checkout("ops", bob());
  b2.exec("INSERT INTO t VALUES ('by_bob', 'x')");
  CHECK(f.sync(b2, "ops", bob()) == kDenied);
  Client &b3 = f.checkout("ops", bob());
  b3.exec(insert_into("u", "by_bob"));
  CHECK(f.sync(b3, "ops", bob()) == "");

  // tbl: t denied over '*' allowed for alice; t allowed over '*' denied for bob.
  f.create_data("tbls", owner(),
                {entry(kTeam, kAnyUser, "pull", true), entry(kTeam, user_who("alice"), "tbl_add_row", true, "*"),
                 entry(kTeam, user_who("alice"), "tbl_add_row", false, "u"),
                 entry(kTeam, user_who("bob"), "tbl_add_row", true, "t"),
                 entry(kTeam, user_who("bob"), "tbl_add_row", false, "*")});
  Client &a_t = f.checkout("tbls", alice());
  a_t.exec("INSERT INTO t VALUES ('by_alice', 'x')");
  CHECK(f.sync(a_t, "tbls", alice()) == "");
  Client &a_u = f.checkout("tbls", alice());
  a_u.exec(insert_into("u", "by_alice"));
  CHECK(f.sync(a_u, "tbls", alice()) == kDenied);
  Client &b_t = f.checkout("tbls", bob());
  b_t.exec("INSERT INTO t VALUES ('by_bob', 'x')");
  CHECK(f.sync(b_t, "tbls", bob()) == "");
  Client &b_u = f.checkout("tbls", bob());
  b_u.exec(insert_into("u", "by_bob"));
  CHECK(f.sync(b_u, "tbls", bob()) == kDenied);
}

TEST_CASE("ACL search order: between equally specific entries deny wins", "[sync][security]") {
  Fixture f;
  f.create_team({"owner", "alice", "bob"});
  f.create_data("ties", owner(),
                {entry(kTeam, user_who("alice"), "pull", true), entry(kTeam, user_who("alice"), "pull", false),
                 entry(kTeam, user_who("bob"), "pull", false), entry(kTeam, user_who("bob"), "pull", true)});
  CHECK(f.pull_error("ties", alice()) == kDenied);
  CHECK(f.pull_error("ties", bob()) == kDenied);
  f.create_data("anyone_ties", kAnonymous,
                {entry(kNoScheme, kAnyone, "*", true), entry(kNoScheme, kAnyone, "*", false)});
  CHECK(f.pull_error("anyone_ties", kAnonymous) == kDenied);
  CHECK(f.pull_error("anyone_ties", alice()) == kDenied);
}

TEST_CASE("ACL defaults: created by an authenticated user, only that identity, by anonymous anyone",
          "[sync][security]") {
  Fixture f;
  f.create_team({"owner", "alice", "bob"});
  f.create_data("alices", alice(), {}, false);
  CHECK(f.pull_error("alices", alice()) == "");
  CHECK(f.pull_error("alices", bob()) == kDenied);
  CHECK(f.pull_error("alices", admin()) == kDenied);
  CHECK(f.pull_error("alices", kAnonymous) == kDenied);
  Client &mine = f.checkout("alices", alice());
  mine.exec("INSERT INTO t VALUES ('mine', 'x'); CREATE VIRTUAL TABLE more USING zumero (a TEXT);");
  CHECK(f.sync(mine, "alices", alice()) == "");
  Client &theirs = f.checkout("alices", alice());
  theirs.exec("INSERT INTO t VALUES ('theirs', 'x')");
  const Snapshot before = snapshot(f.server(), "alices");
  CHECK(f.sync(theirs, "alices", bob()) == kDenied);
  CHECK(f.sync(theirs, "alices", kAnonymous) == kDenied);
  CHECK(snapshot(f.server(), "alices") == before);

  // An ACL whose entries do not match leaves the default in force.
  f.create_data("alices_acl", alice(), {entry(kTeam, user_who("bob"), "pull", true)});
  CHECK(f.pull_error("alices_acl", alice()) == "");
  CHECK(f.pull_error("alices_acl", bob()) == "");
  CHECK(f.pull_error("alices_acl", owner()) == kDenied);

  f.create_data("anyones", kAnonymous, {}, false);
  for (const Who &who : {kAnonymous, Who(alice()), Who(bob()), Who(admin())}) {
    INFO("as " << (who ? who->user : "anonymous"));
    Client &c = f.checkout("anyones", who);
    c.exec("INSERT INTO t VALUES (" + sql_quote("by_" + (who ? who->user : std::string("anyone"))) + ", 'x')");
    CHECK(f.sync(c, "anyones", who) == "");
  }
}

TEST_CASE("ACL: the ACL protects itself, and tbl '*' opens it", "[sync][security]") {
  Fixture f;
  f.create_team({"owner", "alice", "bob", "carol"});
  const Entry open_pull = entry(kNoScheme, kAnyone, "pull", true);

  // Created anonymously: anyone may add rows to t, nobody to z_acl.
  f.create_data("open_data", kAnonymous, {});
  Client &t_row = f.checkout("open_data", kAnonymous);
  t_row.exec("INSERT INTO t VALUES ('anyone', 'x')");
  CHECK(f.sync(t_row, "open_data", kAnonymous) == "");
  for (const Who &who : {kAnonymous, Who(bob())}) {
    Client &c = f.checkout("open_data", kAnonymous);
    c.exec(insert_sql(entry(kNoScheme, kAnyone, "*", false)));
    const Snapshot before = snapshot(f.server(), "open_data");
    CHECK(f.sync(c, "open_data", who) == kDenied);
    CHECK(snapshot(f.server(), "open_data") == before);
  }

  // Created by owner: alice may add rows to t, not to z_acl; bob's '*' and carol's
  // z_acl entries let them.
  f.create_data("guarded", owner(),
                {entry(kTeam, kAnyUser, "pull", true), entry(kTeam, user_who("alice"), "tbl_add_row", true, "t"),
                 entry(kTeam, user_who("bob"), "tbl_add_row", true, "*"),
                 entry(kTeam, user_who("carol"), "tbl_add_row", true, "z_acl")});
  CHECK(f.pull_error("guarded", kAnonymous) == kDenied);
  Client &a = f.checkout("guarded", alice());
  a.exec(insert_sql(open_pull));
  CHECK(f.sync(a, "guarded", alice()) == kDenied);
  CHECK(f.pull_error("guarded", kAnonymous) == kDenied);
  Client &a_mod = f.checkout("guarded", alice());
  a_mod.exec("UPDATE z_acl SET result = 'allow' WHERE result = 'deny'");
  CHECK(f.sync(a_mod, "guarded", alice()) == kDenied);

  Client &b = f.checkout("guarded", bob());
  b.exec(insert_sql(open_pull));
  CHECK(f.sync(b, "guarded", bob()) == "");
  CHECK(f.pull_error("guarded", kAnonymous) == "");  // bob opened it
  Client &c = f.checkout("guarded", carol());
  c.exec(insert_sql(entry(kTeam, user_who("alice"), "tbl_add_row", true, "z_acl")));
  CHECK(f.sync(c, "guarded", carol()) == "");
  Client &a2 = f.checkout("guarded", alice());
  a2.exec(insert_sql(entry(kTeam, user_who("alice"), "pull", true)));
  CHECK(f.sync(a2, "guarded", alice()) == "");  // carol let her

  // The authenticated creator may change an ACL that no entry lets anyone change.
  f.create_data("owners_acl", owner(), {});
  Client &o = f.checkout("owners_acl", owner());
  o.exec(insert_sql(open_pull));
  CHECK(f.sync(o, "owners_acl", owner()) == "");
  CHECK(f.pull_error("owners_acl", kAnonymous) == "");
}

TEST_CASE("ACL: a denied push applies nothing", "[sync][security]") {
  Fixture f;
  f.create_team({"owner", "bob"});
  f.create_data("partly", owner(),
                {entry(kTeam, kAnyUser, "pull", true), entry(kTeam, user_who("bob"), "tbl_add_row", true, "t")});
  Client &b = f.checkout("partly", bob());
  const Snapshot before = snapshot(f.server(), "partly");
  // Allowed rows in t, refused rows in u, in one package of several transactions.
  b.exec("INSERT INTO t VALUES ('first', 'x')");
  b.exec("INSERT INTO t VALUES ('second', 'x');" + insert_into("u", "refused"));
  b.exec("INSERT INTO t VALUES ('third', 'x')");
  CHECK(f.sync(b, "partly", bob()) == kDenied);
  CHECK(snapshot(f.server(), "partly") == before);
  // A refused schema change takes its rows with it.
  Client &b2 = f.checkout("partly", bob());
  b2.exec("INSERT INTO t VALUES ('fourth', 'x'); CREATE VIRTUAL TABLE sneaky USING zumero (a TEXT);");
  CHECK(f.sync(b2, "partly", bob()) == kDenied);
  CHECK(snapshot(f.server(), "partly") == before);
  // The allowed part alone goes through.
  Client &b3 = f.checkout("partly", bob());
  b3.exec("INSERT INTO t VALUES ('fifth', 'x')");
  CHECK(f.sync(b3, "partly", bob()) == "");
  CHECK(snapshot(f.server(), "partly") != before);
}

// ============================================================================================
// 5. A new server (7.4, 9.1)
// ============================================================================================

TEST_CASE("New server: --admin-password or ZUMERO_ADMIN_PASSWORD creates zumero_users_admin with admin",
          "[sync][security]") {
  {
    Fixture f;
    REQUIRE(f.server().has_dbfile("zumero_users_admin"));
    ServerFile admins(f.server(), "zumero_users_admin");
    CHECK(admins.rows("SELECT username FROM \"z$users\"") == Rows{{"admin"}});
    f.create_public();
    CHECK(f.authentication_error(admin()) == "");
    CHECK(f.authentication_error(Credentials::internal("zumero_users_admin", "admin", "guess")) == kAuthFailed);
    CHECK(f.run(add_user_sql(f.url(), "zumero_users_admin", admin(), "second_admin", "second-pw")) == "");
    CHECK(f.authentication_error(Credentials::internal("zumero_users_admin", "second_admin", "second-pw")) == "");
    // Started again, it keeps what it has.
    f.server().restart();
    CHECK(f.authentication_error(admin()) == "");
    CHECK(f.authentication_error(Credentials::internal("zumero_users_admin", "second_admin", "second-pw")) == "");
  }
  ServerProcess::Options options;
  options.env = {{"ZUMERO_ADMIN_PASSWORD", "from the environment"}};
  ServerProcess server(options);
  TempDir dir;
  Client c(dir.path() / "c.db");
  CHECK(c.error_of(add_user_sql(server.url(), "zumero_users_admin",
                                Credentials::internal("zumero_users_admin", "admin", "from the environment"), "x",
                                "y")) == "");
  CHECK(server.log().find("from the environment") == std::string::npos);
}

TEST_CASE("New server: without an admin password it says so once and creates nothing", "[sync][security]") {
  Fixture f({}, false);
  CHECK(!f.server().has_dbfile("zumero_users_admin"));
  f.create_public();
  CHECK(f.authentication_error(admin()) == kAuthFailed);
  CHECK(!f.server().has_dbfile("zumero_users_admin"));
  CHECK(f.pull_error("public", kAnonymous) == "");
  const std::string log = f.server().log();
  INFO(log);
  std::size_t mentions = 0;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);)
    if (line.find("admin password") != std::string::npos) ++mentions;
  // Once by each node (one with SQLite files).
  CHECK(mentions == static_cast<std::size_t>(f.server().node_count()));
}

TEST_CASE("New server: until zumero_config exists anyone may create a dbfile", "[sync][security]") {
  Fixture f;
  f.create_team({"alice"});
  f.create_data("by_anyone", kAnonymous, {});
  f.create_data("by_alice", alice(), {});
  CHECK(f.run(auth_create_sql(f.url(), "auth_by_anyone", kAnonymous, std::nullopt, std::nullopt, kNoScheme, "NULL",
                              kNoScheme, "NULL")) == "");
  // Then zumero_config decides (7.4).
  f.create_data("zumero_config", admin(),
                {entry(scheme_of("zumero_users_admin"), kAnyUser, "create_dbfile", true)});
  Client &c = f.client();
  c.exec("CREATE VIRTUAL TABLE t USING zumero (a TEXT); INSERT INTO t VALUES ('x');");
  CHECK(f.sync(c, "too_late", kAnonymous) == kDenied);
  CHECK(f.sync(c, "too_late", alice()) == kDenied);
  CHECK(!f.server().has_dbfile("too_late"));
  CHECK(f.sync(c, "too_late", admin()) == "");
}

TEST_CASE("New server: zumero_log is pulled only by users of zumero_users_log and zumero_users_admin",
          "[sync][security]") {
  Fixture f;
  f.create_team({"alice"});
  REQUIRE(f.run(auth_create_sql(f.url(), "zumero_users_log", admin(), std::string("reader"),
                                std::string("reader-pw"), kNoScheme, "NULL", kNoScheme, "NULL")) == "");
  REQUIRE(f.run(auth_create_sql(f.url(), "lookalike", admin(), std::string("admin"), std::string(kAdminPassword),
                                kNoScheme, "NULL", kNoScheme, "NULL")) == "");
  CHECK(f.pull_error("zumero_log", kAnonymous) == kDenied);
  CHECK(f.pull_error("zumero_log", alice()) == kDenied);
  CHECK(f.pull_error("zumero_log", Credentials::internal("lookalike", "admin", kAdminPassword)) == kDenied);
  CHECK(f.pull_error("zumero_log", admin()) == "");
  Client &reader = f.client();
  CHECK(f.sync(reader, "zumero_log", Credentials::internal("zumero_users_log", "reader", "reader-pw")) == "");
  CHECK(reader.integer("SELECT count(*) FROM log WHERE url = 'SERVER_STARTUP'") >= 1);
  // Nobody writes it.
  reader.exec("INSERT INTO log (url) VALUES ('forged')");
  CHECK(f.sync(reader, "zumero_log", Credentials::internal("zumero_users_log", "reader", "reader-pw")) != "");
  ServerFile log(f.server(), "zumero_log");
  CHECK(log.text("SELECT count(*) FROM \"z$log\" WHERE url = 'forged'") == "0");
}

TEST_CASE("New server: dbfile names starting with zumero_ are reserved", "[sync][security]") {
  Fixture f;
  Client &c = f.client();
  c.exec("CREATE VIRTUAL TABLE t USING zumero (a TEXT); INSERT INTO t VALUES ('x');");
  for (const std::string name : {"zumero_mine", "zumero_", "zumero_configs", "zumero_users"}) {
    INFO("name " << name);
    CHECK(f.sync(c, name, kAnonymous) == "zumero:invalid_dbfile_name");
    CHECK(f.sync(c, name, admin()) == "zumero:invalid_dbfile_name");
    CHECK(f.run(auth_create_sql(f.url(), name, admin(), std::nullopt, std::nullopt, kNoScheme, "NULL", kNoScheme,
                                "NULL")) == "zumero:invalid_dbfile_name");
    // The server refuses them too, whatever the client checks.
    const nlohmann::json auth = {{"scheme", admin().scheme}, {"user", "admin"}, {"password", kAdminPassword}};
    for (const std::string route : {"/pull", "/push", "/auth_create", "/auth_add_user"}) {
      INFO("route " << route);
      zumero::HttpResponse response =
          raw_request(f.url(), route,
                      {{"op", route.substr(1)}, {"dbfile", name}, {"auth", auth}, {"base", 0}, {"client", "raw"},
                       {"pkg", 1}, {"new_user", "x"}, {"new_password", "y"}});
      CHECK(response.status == 400);
      CHECK(error_identifier(response) == "invalid_dbfile_name");
    }
    CHECK(!f.server().has_dbfile(name));
  }
  // The four internal names are not refused as names.
  CHECK(f.pull_error("zumero_config", kAnonymous) == "");
  CHECK(f.pull_error("zumero_log", admin()) == "");
  CHECK(f.pull_error("zumero_users_admin", admin()) == kDenied);
  CHECK(f.pull_error("zumero_users_log", admin()) == "");  // does not exist: nothing to pull
  // Internal auth dbfiles and the log are not made by a push.
  CHECK(f.sync(c, "zumero_users_log", kAnonymous) == "zumero:invalid_dbfile_name");
  CHECK(f.sync(c, "zumero_log", admin()) != "");
}

// ============================================================================================
// 6. Transport
// ============================================================================================

TEST_CASE("Transport: --require-tls needs a certificate", "[sync][security]") {
  TempDir dir;
  zumero::test::CommandResult result =
      zumero::test::run_command({ServerProcess::executable(), "--data-dir", (dir.path() / "data").string(), "--listen",
                                 "127.0.0.1:0", "--require-tls"},
                                std::chrono::seconds(10));
  INFO(result.output);
  CHECK(result.exit_code != 0);
  CHECK(result.exit_code < 128);  // refused, not killed after starting
  CHECK(result.output.find("--require-tls") != std::string::npos);
  CHECK(result.output.find("--tls-cert") != std::string::npos);
}

TEST_CASE("Transport: with TLS, plain HTTP gets a clear error", "[sync][security]") {
  TempDir dir;
  zumero::test::TlsFiles tls = zumero::test::make_self_signed_certificate(dir.path());
  ServerProcess server({"--require-tls", "--tls-cert", tls.cert_file, "--tls-key", tls.key_file});
  REQUIRE(server.url().rfind("https://", 0) == 0);
  CHECK(zumero::test::http_get(server.url() + "/health", tls.cert_file).status == 200);
  const std::string plain = "http://127.0.0.1:" + std::to_string(server.port());
  zumero::test::GetResult answer = zumero::test::http_get(plain + "/health", "", 10);
  INFO(answer.body);
  CHECK(answer.status == 400);
  nlohmann::json body = nlohmann::json::parse(answer.body, nullptr, false);
  REQUIRE(body.is_object());
  CHECK(body.value("error", "") == "tls_required");
  // A client given the http:// URL is told the request failed.
  Client c(dir.path() / "c.db");
  c.exec("CREATE VIRTUAL TABLE t USING zumero (a TEXT); INSERT INTO t VALUES ('x');");
  CHECK(c.sync_error(plain, "plain") == "zumero:http_400");
  CHECK(!server.has_dbfile("plain"));
}

TEST_CASE("Transport: credentials never appear in the server's log", "[sync][security]") {
  Fixture f({"--log-level", "debug"});
  const std::vector<std::string> secrets = {kAdminPassword, "owner-pw", "alice-pw", "wrong guess 31",
                                            "alice-new-secret", "added-user-secret"};
  f.create_team({"owner", "alice"});
  f.create_public();
  CHECK(f.authentication_error(alice()) == "");
  CHECK(f.authentication_error(Credentials::internal("team", "alice", "wrong guess 31")) == kAuthFailed);
  CHECK(f.authentication_error(Credentials{"not json", "alice", "wrong guess 31"}) ==
        "zumero:invalid_auth_scheme_string");
  CHECK(f.run(add_user_sql(f.url(), "team", admin(), "added", "added-user-secret")) == "");
  CHECK(f.run(add_user_sql(f.url(), "team", alice(), "added2", "added-user-secret")) == kDenied);
  CHECK(f.run(set_password_sql(f.url(), "team", admin(), "alice", "alice-new-secret")) == "");
  Client &c = f.checkout("public", owner());
  c.exec("INSERT INTO t VALUES ('k', 'v')");
  CHECK(f.sync(c, "public", owner()) == "");
  f.server().restart();

  const std::string log = f.server().log();
  REQUIRE(log.find("POST /pull") != std::string::npos);  // the log does describe requests
  for (const std::string &secret : secrets) {
    INFO("secret " << secret);
    CHECK(log.find(secret) == std::string::npos);
  }
  // Nor in zumero_log.
  Client &reader = f.client();
  REQUIRE(f.sync(reader, "zumero_log", admin()) == "");
  for (const std::string &secret : secrets) {
    INFO("secret " << secret);
    CHECK(reader.integer("SELECT count(*) FROM log WHERE instr(coalesce(scheme, '') || coalesce(username, '') || "
                         "coalesce(constraint_details, '') || coalesce(url, ''), " +
                         sql_quote(secret) + ") > 0") == 0);
  }
}

// ============================================================================================
// 7. Refusals in zumero_log (9.2, 9.3)
// ============================================================================================

TEST_CASE("Every 401 and 403 is in zumero_log with scheme and user", "[sync][security]") {
  Fixture f;
  f.create_team({"owner", "alice", "bob"});
  f.create_data("private", owner(), {});
  const std::string team_scheme = alice().scheme;
  const std::string spaced_scheme = "{ \"scheme_type\": \"internal\", \"dbfile\": \"team\" }";

  // 401s.
  CHECK(f.pull_error("private", Credentials::internal("team", "alice", "wrong")) == kAuthFailed);
  CHECK(f.pull_error("private", Credentials::internal("team", "mallory", "x")) == kAuthFailed);
  CHECK(f.run(add_user_sql(f.url(), "team", Credentials::internal("team", "alice", "wrong"), "x", "y")) ==
        kAuthFailed);
  // 403s: pulls, a push, the auth routes, the storage usage.
  CHECK(f.pull_error("private", bob()) == kDenied);
  CHECK(f.pull_error("private", kAnonymous) == kDenied);
  CHECK(f.pull_error("private", Credentials{spaced_scheme, "alice", "alice-pw"}) == kDenied);
  Client &c = f.checkout("private", owner());
  c.exec("INSERT INTO t VALUES ('x', 'y')");
  CHECK(f.sync(c, "private", bob()) == kDenied);
  CHECK(f.run(add_user_sql(f.url(), "team", bob(), "x", "y")) == kDenied);
  CHECK(f.run(storage_usage_sql(f.url(), bob(), "usage")) == kDenied);

  Client &log = f.client("log");
  REQUIRE(f.sync(log, "zumero_log", admin()) == "");
  CHECK(log.rows("SELECT url, scheme, username FROM log WHERE status = 401 ORDER BY rowid") ==
        Rows{{"/pull", team_scheme, "alice"}, {"/pull", team_scheme, "mallory"}, {"/auth_add_user", team_scheme, "alice"}});
  CHECK(log.rows("SELECT url, scheme, username FROM log WHERE status = 403 ORDER BY rowid") ==
        Rows{{"/pull", team_scheme, "bob"},
             {"/pull", "", ""},
             {"/pull", spaced_scheme, "alice"},
             {"/push", team_scheme, "bob"},
             {"/auth_add_user", team_scheme, "bob"},
             {"/storage_usage", team_scheme, "bob"}});
  // 9.2: dbfile is the dbfile the request names, refused or not.
  CHECK(log.rows("SELECT status, url, dbfile FROM log WHERE status IN (401, 403) ORDER BY rowid") ==
        Rows{{"401", "/pull", "private"},
             {"401", "/pull", "private"},
             {"401", "/auth_add_user", "team"},
             {"403", "/pull", "private"},
             {"403", "/pull", "private"},
             {"403", "/pull", "private"},
             {"403", "/push", "private"},
             {"403", "/auth_add_user", "team"},
             {"403", "/storage_usage", ""}});
  // The query of 9.3.
  std::set<Row> refused;
  for (const Row &row : log.rows("SELECT DISTINCT scheme,username FROM z$log WHERE status=403")) refused.insert(row);
  CHECK(refused == std::set<Row>{{team_scheme, "bob"}, {"", ""}, {spaced_scheme, "alice"}});
}
