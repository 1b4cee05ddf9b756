#include "security_support.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "server_requests.h"

namespace zumero::securitytest {

using synctest::sql_quote;
using synctest::SqlError;

const std::string kAdminPassword = "the admin's secret 7f3c";
const std::string kNoScheme = "''";
const std::string kAnyone = "zumero_named_constant('acl_who_anyone')";
const std::string kAnyUser = "zumero_named_constant('acl_who_any_authenticated_user')";

Credentials admin() { return Credentials::internal("zumero_users_admin", "admin", kAdminPassword); }

std::string scheme_of(const std::string &auth_dbfile) {
  return "zumero_internal_auth_scheme(" + sql_quote(auth_dbfile) + ")";
}

std::string user_who(const std::string &name) {
  return "zumero_named_constant('acl_who_specific_user') || " + sql_quote(name);
}

std::string group_who(const std::string &name) {
  return "zumero_named_constant('acl_who_specific_group') || " + sql_quote(name);
}

Entry entry(const std::string &scheme, const std::string &who, const std::string &op, bool allow,
            const std::string &tbl) {
  return Entry{scheme, who, sql_quote(tbl), op == "*" ? "'*'" : "zumero_named_constant('acl_op_" + op + "')",
               allow ? "zumero_named_constant('acl_result_allow')" : "zumero_named_constant('acl_result_deny')"};
}

std::string insert_sql(const Entry &e) {
  return "INSERT INTO z_acl (scheme, who, tbl, op, result) VALUES (" + e.scheme + ", " + e.who + ", " + e.tbl + ", " +
         e.op + ", " + e.result + ")";
}

std::string null_or(const std::optional<std::string> &text) { return text ? sql_quote(*text) : "NULL"; }

std::string credentials_sql(const Who &who) {
  if (!who) return "NULL, NULL, NULL";
  return sql_quote(who->scheme) + ", " + sql_quote(who->user) + ", " + sql_quote(who->password);
}

namespace {

std::string call(const std::string &function, const std::string &url, const std::string &dbfile, const Who &who,
                 const std::string &rest) {
  std::string sql = "SELECT " + function + "(" + sql_quote(url);
  if (!dbfile.empty()) sql += ", " + sql_quote(dbfile);
  return sql + ", " + credentials_sql(who) + ", " + rest + ")";
}

}  // namespace

std::string auth_create_sql(const std::string &url, const std::string &dbfile, const Who &who,
                            const std::optional<std::string> &first_user,
                            const std::optional<std::string> &first_password, const std::string &add_scheme_sql,
                            const std::string &add_who_sql, const std::string &mod_scheme_sql,
                            const std::string &mod_who_sql) {
  return call("zumero_internal_auth_create", url, dbfile, who,
              null_or(first_user) + ", " + null_or(first_password) + ", " + add_scheme_sql + ", " + add_who_sql +
                  ", " + mod_scheme_sql + ", " + mod_who_sql);
}

std::string add_user_sql(const std::string &url, const std::string &dbfile, const Who &who, const std::string &user,
                         const std::string &password) {
  return call("zumero_internal_auth_add_user", url, dbfile, who, sql_quote(user) + ", " + sql_quote(password));
}

std::string add_alias_sql(const std::string &url, const std::string &dbfile, const Who &who, const std::string &name,
                          const std::optional<std::string> &other_dbfile,
                          const std::optional<std::string> &other_user) {
  return call("zumero_internal_auth_add_alias", url, dbfile, who,
              sql_quote(name) + ", " + null_or(other_dbfile) + ", " + null_or(other_user));
}

std::string set_password_sql(const std::string &url, const std::string &dbfile, const Who &who,
                             const std::string &user, const std::string &password) {
  return call("zumero_internal_auth_set_password", url, dbfile, who, sql_quote(user) + ", " + sql_quote(password));
}

std::string set_acl_entry_sql(const std::string &url, const std::string &dbfile, const Who &who, const Entry &e) {
  return call("zumero_internal_auth_set_acl_entry", url, dbfile, who,
              e.scheme + ", " + e.who + ", " + e.tbl + ", " + e.op + ", " + e.result);
}

std::string storage_usage_sql(const std::string &url, const Who &who, const std::string &table) {
  return call("zumero_get_storage_usage_on_server", url, "", who, sql_quote(table));
}

// ---- server files ---------------------------------------------------------------------

ServerFile::ServerFile(const test::ServerProcess &server, const std::string &dbfile) {
  std::string uri = "file:" + zumero::synctest::readable_dbfile(server, dbfile).string() + "?mode=ro";
  int rc = sqlite3_open_v2(uri.c_str(), &db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : "cannot open";
    sqlite3_close(db_);
    db_ = nullptr;
    throw SqlError(rc, "open " + uri + ": " + message);
  }
  sqlite3_busy_timeout(db_, 10000);
}

ServerFile::~ServerFile() { sqlite3_close(db_); }

Rows ServerFile::rows(const std::string &sql) {
  sqlite3_stmt *statement = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr);
  if (rc != SQLITE_OK) throw SqlError(rc, std::string(sqlite3_errmsg(db_)) + " in " + sql);
  Rows result;
  while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
    synctest::Row row;
    for (int i = 0; i < sqlite3_column_count(statement); ++i) {
      if (sqlite3_column_type(statement, i) == SQLITE_NULL) {
        row.emplace_back("<null>");
        continue;
      }
      const unsigned char *bytes = sqlite3_column_text(statement, i);
      row.emplace_back(bytes ? std::string(reinterpret_cast<const char *>(bytes), sqlite3_column_bytes(statement, i))
                             : std::string());
    }
    result.push_back(std::move(row));
  }
  std::string message = sqlite3_errmsg(db_);
  sqlite3_finalize(statement);
  if (rc != SQLITE_DONE) throw SqlError(rc, message);
  return result;
}

std::string ServerFile::text(const std::string &sql) {
  Rows result = rows(sql);
  return result.empty() || result[0].empty() ? "<none>" : result[0][0];
}

Snapshot snapshot(const test::ServerProcess &server, const std::string &dbfile) {
  ServerFile file(server, dbfile);
  Snapshot result;
  result.version = file.text("SELECT value FROM \"t$sync\" WHERE key = 'version'");
  for (const auto &table : file.rows("SELECT name FROM sqlite_master WHERE type = 'table' "
                                         "AND sql NOT LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name")) {
    for (const auto &row : file.rows("SELECT * FROM \"" + table[0] + "\"")) {
      std::string line = table[0];
      for (const auto &value : row) line += "|" + value;
      result.rows.push_back(std::move(line));
    }
  }
  std::sort(result.rows.begin(), result.rows.end());
  return result;
}

std::string file_bytes(const std::filesystem::path &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// ---- fixture -----------------------------------------------------------------------------

namespace {

test::ServerProcess::Options server_options(std::vector<std::string> args, bool with_admin) {
  test::ServerProcess::Options options;
  options.args = {"--auth-throttle-after", "100000"};
  if (with_admin) options.args.insert(options.args.end(), {"--admin-password", kAdminPassword});
  options.args.insert(options.args.end(), args.begin(), args.end());
  return options;
}

}  // namespace

Fixture::Fixture(std::vector<std::string> args, bool with_admin)
    : server_(server_options(std::move(args), with_admin)), dir_("zumero-security-") {}

Client &Fixture::client(const std::string &label) {
  std::string name = label + "-" + std::to_string(++next_client_) + ".db";
  clients_.push_back(std::make_unique<Client>(dir_.path() / name));
  return *clients_.back();
}

std::string Fixture::run(const std::string &sql) { return client("scratch").error_of(sql); }

Credentials Fixture::member(const std::string &name) { return Credentials::internal("team", name, name + "-pw"); }

void Fixture::create_team(const std::vector<std::string> &names) {
  REQUIRE(!names.empty());
  Client &c = client("team");
  std::string admins = scheme_of("zumero_users_admin");
  REQUIRE(c.error_of(auth_create_sql(url(), "team", admin(), names[0], names[0] + "-pw", admins, kAnyUser, admins,
                                     kAnyUser)) == "");
  for (std::size_t i = 1; i < names.size(); ++i)
    REQUIRE(c.error_of(add_user_sql(url(), "team", admin(), names[i], names[i] + "-pw")) == "");
}

void Fixture::create_data(const std::string &dbfile, const Who &creator, const std::vector<Entry> &entries,
                          bool with_acl) {
  Client &c = client(dbfile + "-creator");
  c.exec("CREATE VIRTUAL TABLE t USING zumero (k TEXT PRIMARY KEY, v TEXT);"
         "CREATE VIRTUAL TABLE u USING zumero (k TEXT PRIMARY KEY);"
         "INSERT INTO t VALUES ('seed', '0');");
  if (with_acl) {
    c.exec("SELECT zumero_define_acl_table('main')");
    for (const Entry &e : entries) c.exec(insert_sql(e));
  }
  INFO("creating " << dbfile);
  REQUIRE(sync(c, dbfile, creator) == "");
}

Client &Fixture::checkout(const std::string &dbfile, const Who &as) {
  Client &c = client(dbfile + "-copy");
  INFO("pulling " << dbfile << " as " << (as ? as->user : "anonymous"));
  REQUIRE(sync(c, dbfile, as) == "");
  REQUIRE(c.integer("SELECT count(*) FROM t WHERE k = 'seed'") == 1);
  return c;
}

std::string Fixture::sync(Client &c, const std::string &dbfile, const Who &who) {
  return who ? c.sync_error(url(), dbfile, *who) : c.sync_error(url(), dbfile);
}

std::string Fixture::pull_error(const std::string &dbfile, const Who &who) {
  Client &c = client(dbfile + "-pull");
  return sync(c, dbfile, who);
}

void Fixture::create_public() { create_data("public", kAnonymous, {}, false); }

std::string Fixture::authentication_error(const Credentials &who) { return pull_error("public", who); }

}  // namespace zumero::securitytest
