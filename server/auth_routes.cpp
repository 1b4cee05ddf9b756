#include "server/auth_routes.h"

#include "base/catalog.h"
#include "base/connection_state.h"
#include "base/sql.h"
#include "sync/protocol.h"
#include "sync/row_store.h"

namespace zumero::server {
namespace {

constexpr std::size_t kMaxField = 4096;

Response no_content() { return Response{204, std::string(), "application/x-zumero"}; }

void insert_acl_entry(sqlite3 *db, std::int64_t version, const std::string &scheme, const std::string &who,
                      const std::string &table, const std::string &operation, const std::string &result) {
  check_acl_entry(scheme, who, table, operation, result);
  sync::RowStore rows(db, "main", "z_acl");
  std::int64_t highest = rows.max_recid();
  std::int64_t recid = highest < INT64_MAX ? highest + 1 : random_unused_recid(db, "main", rows.name());
  rows.insert_live(recid, {sync::Value::of_text(scheme), sync::Value::of_text(who), sync::Value::of_text(table),
                           sync::Value::of_text(operation), sync::Value::of_text(result)});
  rows.set_version(recid, version, false);
}

std::optional<std::pair<std::string, std::string>> acl_pair(const RequestHeader &header, const std::string &scheme,
                                                             const std::string &who) {
  std::optional<std::string> who_value = header.optional_text(who, kMaxField);
  if (!who_value) return std::nullopt;
  return std::make_pair(header.optional_text(scheme, kMaxField).value_or(""), *who_value);
}

}  // namespace

bool AuthRoutes::handles(const std::string &path) const {
  return path == "/auth_create" || path == "/auth_add_user" || path == "/auth_add_alias" ||
         path == "/auth_set_password" || path == "/auth_set_acl_entry";
}

Response AuthRoutes::handle(RequestContext &context) {
  if (!context.package.empty()) refuse("an auth request carries no package");
  const std::string &path = context.request.path;
  if (path == "/auth_create") return create_route(context);
  if (path == "/auth_add_user") return add_user(context);
  if (path == "/auth_add_alias") return add_alias(context);
  if (path == "/auth_set_password") return set_password(context);
  return set_acl_entry(context);
}

void AuthRoutes::create(const std::string &dbfile, const Creation &creation) {
  std::unique_ptr<WriteSession> session = store_.write(dbfile);
  if (!session->creating()) fail("invalid_argument");
  sqlite3 *db = session->db();
  next_version(db, [&](std::int64_t version) {
    record_creator(db, creation.creator);
    create_internal_auth_tables(db, version);
    // Nobody pulls an internal auth dbfile (a fixed rule; the entry says so too).
    insert_acl_entry(db, version, "", "anyone", "", "pull", "deny");
    if (creation.may_add)
      insert_acl_entry(db, version, creation.may_add->first, creation.may_add->second, "", "auth_add_user", "allow");
    if (creation.may_manage)
      insert_acl_entry(db, version, creation.may_manage->first, creation.may_manage->second, "",
                       "auth_set_acl_entry", "allow");
    if (creation.first_user) add_internal_user(db, version, *creation.first_user, creation.first_password.value_or(""));
  });
  session->commit();
}

Response AuthRoutes::create_route(RequestContext &context) {
  const RequestHeader &header = context.header;
  if (context.dbfile == "zumero_config" || context.dbfile == "zumero_log") fail("invalid_dbfile_name");
  permissions_.require_create_dbfile(context.identity);
  Creation creation;
  creation.creator = context.identity;
  creation.first_user = header.optional_text("first_username", kMaxField);
  creation.first_password = header.optional_text("first_password", kMaxField);
  creation.may_add = acl_pair(header, "allow_add_scheme", "allow_add_who");
  creation.may_manage = acl_pair(header, "allow_mod_scheme", "allow_mod_who");
  create(context.dbfile, creation);
  return no_content();
}

void AuthRoutes::change(const std::string &dbfile, const std::function<void(sqlite3 *, const AccessList &)> &check,
                        const std::function<void(sqlite3 *, std::int64_t)> &apply) {
  std::unique_ptr<WriteSession> session = store_.write(dbfile);
  if (session->creating()) fail("invalid_argument");
  sqlite3 *db = session->db();
  if (!is_internal_auth(db)) fail("invalid_argument");
  check(db, AccessList::load(db));
  next_version(db, [&](std::int64_t version) { apply(db, version); });
  session->commit();
}

Response AuthRoutes::add_user(RequestContext &context) {
  std::string user = context.header.text("new_user", kMaxField);
  std::string password = context.header.text("new_password", kMaxField);
  change(
      context.dbfile,
      [&](sqlite3 *, const AccessList &acl) { permissions_.require(context.identity, Operation::AuthAddUser, acl); },
      [&](sqlite3 *db, std::int64_t version) { add_internal_user(db, version, user, password); });
  return no_content();
}

Response AuthRoutes::add_alias(RequestContext &context) {
  std::string user = context.header.text("new_username", kMaxField);
  std::string other_dbfile = context.header.optional_text("other_dbfile", sync::kMaxDbfileName).value_or("");
  std::string other_user = context.header.optional_text("other_username", kMaxField).value_or("");
  change(
      context.dbfile,
      [&](sqlite3 *, const AccessList &acl) { permissions_.require(context.identity, Operation::AuthAddUser, acl); },
      [&](sqlite3 *db, std::int64_t version) { add_internal_alias(db, version, user, other_dbfile, other_user); });
  return no_content();
}

// A user may always set their own password; others need acl_op_auth_set_password.
Response AuthRoutes::set_password(RequestContext &context) {
  std::string user = context.header.text("username", kMaxField);
  std::string password = context.header.text("password", kMaxField);
  Identity self{internal_scheme(context.dbfile), user};
  change(
      context.dbfile,
      [&](sqlite3 *, const AccessList &acl) {
        if (context.identity != self) permissions_.require(context.identity, Operation::AuthSetPassword, acl);
      },
      [&](sqlite3 *db, std::int64_t version) { set_internal_password(db, version, user, password); });
  authenticator_.forget(context.dbfile, user);
  return no_content();
}

Response AuthRoutes::set_acl_entry(RequestContext &context) {
  const RequestHeader &header = context.header;
  std::string scheme = header.optional_text("scheme", kMaxField).value_or("");
  std::string who = header.text("who", kMaxField);
  std::string table = header.optional_text("tbl", kMaxField).value_or("");
  std::string operation = header.text("op", kMaxField);
  std::string result = header.text("result", kMaxField);
  check_acl_entry(scheme, who, table, operation, result);
  change(
      context.dbfile,
      [&](sqlite3 *, const AccessList &acl) { permissions_.require(context.identity, Operation::AuthSetAclEntry, acl); },
      [&](sqlite3 *db, std::int64_t version) { insert_acl_entry(db, version, scheme, who, table, operation, result); });
  return no_content();
}

}  // namespace zumero::server
