#include "server/permissions.h"

#include "base/sql.h"
#include "server/request_header.h"

namespace zumero::server {
namespace {

[[noreturn]] void denied() { throw Refusal(403, "permission_denied", "permission denied"); }

}  // namespace

bool Permissions::member_of(const Identity &identity, const std::string &auth_dbfile) const {
  return !identity.anonymous() && identity.scheme == internal_scheme(auth_dbfile);
}

GroupCheck Permissions::groups() {
  return [this](const std::string &scheme, const std::string &group, const std::string &user) {
    return authenticator_.member_of_group(scheme, group, user);
  };
}

void Permissions::require(const Identity &identity, Operation operation, const AccessList &acl,
                          const std::string &table) {
  if (!acl.permits(identity, operation, table, groups())) denied();
}

void Permissions::require_pull(const Identity &identity, const std::string &dbfile, sqlite3 *db) {
  if (is_internal_auth(db)) denied();
  if (dbfile == "zumero_log") {
    if (!member_of(identity, "zumero_users_log") && !member_of(identity, "zumero_users_admin")) denied();
    return;
  }
  require(identity, Operation::Pull, AccessList::load(db));
}

std::optional<AccessList> Permissions::config_acl() {
  std::optional<PooledConnection> connection = store_.try_read("zumero_config");
  if (!connection) return std::nullopt;
  Transaction read(connection->get(), "BEGIN");
  AccessList acl = AccessList::load(connection->get());
  read.commit();
  return acl;
}

void Permissions::require_create_dbfile(const Identity &identity) {
  if (std::optional<AccessList> acl = config_acl()) require(identity, Operation::CreateDbfile, *acl);
}

void Permissions::require_storage_usage(const Identity &identity) {
  if (std::optional<AccessList> acl = config_acl()) require(identity, Operation::GetStorageUsage, *acl);
  else if (!member_of(identity, "zumero_users_admin")) denied();
}

void PushGuard::schema_entry(const sync::SchemaEntry &entry) {
  if (entry.kind == "create_table") permissions_.require(identity_, Operation::CreateTable, acl_);
  else if (entry.kind == "add_column") permissions_.require(identity_, Operation::TblAddColumn, acl_, entry.table);
  else permissions_.require(identity_, Operation::AddRule, acl_);
}

void PushGuard::row(const std::string &table, RowChange change) {
  auto key = std::make_pair(lower_ascii(table), static_cast<int>(change));
  auto found = checked_.find(key);
  if (found != checked_.end()) return;  // allowed before: a refusal never comes back
  Operation operation = change == RowChange::Adds ? Operation::TblAddRow : Operation::TblModifyRow;
  permissions_.require(identity_, operation, acl_, table);
  checked_.emplace(key, true);
}

}  // namespace zumero::server
