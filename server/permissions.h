// The one place every permission check goes through (guide 7.2, 9.1). Routes ask
// require() before they act; a push asks per schema entry and per row through
// PushGuard. A refusal is Refusal 403 permission_denied.
//
// Besides the ACLs (access_control.h), fixed rules: internal auth dbfiles are never
// pulled; zumero_log may be pulled only by users of zumero_users_log and
// zumero_users_admin; create_dbfile and get_storage_usage are checked in the ACL of
// zumero_config (until zumero_config exists anyone may create a dbfile, and only users
// of zumero_users_admin may see the storage usage).
#pragma once
#include <map>
#include <string>

#include "server/access_control.h"
#include "server/storage.h"
#include "server/internal_auth.h"
#include "server/push_apply.h"

namespace zumero::server {

class Permissions {
public:
  Permissions(Storage &store, Authenticator &authenticator) : store_(store), authenticator_(authenticator) {}

  // Checks operation on a dbfile whose ACL is `acl`.
  void require(const Identity &identity, Operation operation, const AccessList &acl,
               const std::string &table = std::string());
  // Pulling dbfile (open on db).
  void require_pull(const Identity &identity, const std::string &dbfile, sqlite3 *db);
  // Creating a dbfile, and seeing the storage usage: decided in zumero_config.
  void require_create_dbfile(const Identity &identity);
  void require_storage_usage(const Identity &identity);

  bool member_of(const Identity &identity, const std::string &auth_dbfile) const;
  GroupCheck groups();

private:
  std::optional<AccessList> config_acl();
  Storage &store_;
  Authenticator &authenticator_;
};

// Checks a push as it is applied: each schema entry, and each row by whether it adds
// one or modifies one, with one ACL decision per table and kind of change.
class PushGuard : public PushObserver {
public:
  PushGuard(Permissions &permissions, const Identity &identity, AccessList acl)
      : permissions_(permissions), identity_(identity), acl_(std::move(acl)) {}
  void schema_entry(const sync::SchemaEntry &entry) override;
  void row(const std::string &table, RowChange change) override;

private:
  Permissions &permissions_;
  const Identity &identity_;
  AccessList acl_;
  std::map<std::pair<std::string, int>, bool> checked_;
};

}  // namespace zumero::server
