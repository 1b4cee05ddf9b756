// Helpers for the security acceptance tests (test_security.cpp): a server with an
// administrator, an internal auth dbfile "team" of a few users, data dbfiles created
// by a given identity with a given ACL, the five internal-auth functions as SQL, and
// read-only looks at the server's own files.
//
// ACL entries are written as SQL expressions built from zumero_named_constant and
// zumero_internal_auth_scheme, the way the guide writes them.
#pragma once

#include <sqlite3.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/tests/server_process.h"
#include "sync_support.h"

namespace zumero::securitytest {

using synctest::Client;
using synctest::Credentials;
using synctest::Rows;

// Who sends a request: credentials, or nobody (anonymous).
using Who = std::optional<Credentials>;
inline const Who kAnonymous = std::nullopt;

extern const std::string kAdminPassword;
Credentials admin();

// ---- SQL for ACL entries (7.2.2) ----------------------------------------------------

// zumero_internal_auth_scheme('dbfile'), or '' for an entry about anyone.
std::string scheme_of(const std::string &auth_dbfile);
extern const std::string kNoScheme;
extern const std::string kAnyone;
extern const std::string kAnyUser;
std::string user_who(const std::string &name);
std::string group_who(const std::string &name);

struct Entry {
  std::string scheme, who, tbl, op, result;  // SQL expressions
};
// op is an ACL operation name without its acl_op_ prefix, or "*".
Entry entry(const std::string &scheme, const std::string &who, const std::string &op, bool allow,
            const std::string &tbl = std::string());
std::string insert_sql(const Entry &entry);

// ---- SQL for the functions of 10.1.3-10.1.8 -----------------------------------------

std::string null_or(const std::optional<std::string> &text);
// "scheme, user, password" or "NULL, NULL, NULL".
std::string credentials_sql(const Who &who);

std::string auth_create_sql(const std::string &url, const std::string &dbfile, const Who &who,
                            const std::optional<std::string> &first_user,
                            const std::optional<std::string> &first_password, const std::string &add_scheme_sql,
                            const std::string &add_who_sql, const std::string &mod_scheme_sql,
                            const std::string &mod_who_sql);
std::string add_user_sql(const std::string &url, const std::string &dbfile, const Who &who, const std::string &user,
                         const std::string &password);
std::string add_alias_sql(const std::string &url, const std::string &dbfile, const Who &who, const std::string &name,
                          const std::optional<std::string> &other_dbfile,
                          const std::optional<std::string> &other_user);
std::string set_password_sql(const std::string &url, const std::string &dbfile, const Who &who,
                             const std::string &user, const std::string &password);
std::string set_acl_entry_sql(const std::string &url, const std::string &dbfile, const Who &who,
                              const Entry &entry);
std::string storage_usage_sql(const std::string &url, const Who &who, const std::string &table);

// ---- the server's files, read with plain SQLite ---------------------------------------

// A dbfile of the server opened read-only, without the extension.
class ServerFile {
public:
  ServerFile(const test::ServerProcess &server, const std::string &dbfile);
  ~ServerFile();
  ServerFile(const ServerFile &) = delete;
  ServerFile &operator=(const ServerFile &) = delete;
  Rows rows(const std::string &sql);
  std::string text(const std::string &sql);

private:
  sqlite3 *db_ = nullptr;
};

// Everything a dbfile holds: its version and every row of every table, sorted.
struct Snapshot {
  std::string version;
  std::vector<std::string> rows;
  bool operator==(const Snapshot &other) const { return version == other.version && rows == other.rows; }
  bool operator!=(const Snapshot &other) const { return !(*this == other); }
};
Snapshot snapshot(const test::ServerProcess &server, const std::string &dbfile);

// The bytes of a file ("" when it does not exist).
std::string file_bytes(const std::filesystem::path &path);

// ---- a server with an administrator and a team -----------------------------------------

class Fixture {
public:
  // The server gets --admin-password kAdminPassword and a high --auth-throttle-after
  // (failures here are deliberate; the throttle has a test of its own), then `args`.
  explicit Fixture(std::vector<std::string> args = {}, bool with_admin = true);

  const std::string &url() const { return server_.url(); }
  test::ServerProcess &server() { return server_; }
  const std::filesystem::path &dir() const { return dir_.path(); }

  // A new, empty client database file.
  Client &client(const std::string &label = "client");
  // The error of one SQL statement in a scratch client, "" on success.
  std::string run(const std::string &sql);

  // The admin creates the internal auth dbfile "team" whose users are `names`, each
  // with the password NAME-pw; the first name is its first user.
  void create_team(const std::vector<std::string> &names);
  static Credentials member(const std::string &name);

  // Creates dbfile as `creator`: table t (k TEXT PRIMARY KEY, v TEXT) holding the row
  // ('seed', '0'), table u (k TEXT PRIMARY KEY), and, when `with_acl`, z_acl holding
  // the entries (after the one zumero_define_acl_table adds).
  void create_data(const std::string &dbfile, const Who &creator, const std::vector<Entry> &entries,
                   bool with_acl = true);
  // A new client holding dbfile, pulled as `as`.
  Client &checkout(const std::string &dbfile, const Who &as);
  // One zumero_sync of client as `who`: its error, "" on success.
  std::string sync(Client &client, const std::string &dbfile, const Who &who);
  // The error of pulling dbfile into a new client as `who`.
  std::string pull_error(const std::string &dbfile, const Who &who);
  // Whether `who` authenticates (pulls the anonymously created dbfile "public",
  // which create_public() made).
  void create_public();
  std::string authentication_error(const Credentials &who);

private:
  test::ServerProcess server_;
  test::TempDir dir_;
  std::vector<std::unique_ptr<Client>> clients_;
  int next_client_ = 0;
};

}  // namespace zumero::securitytest
