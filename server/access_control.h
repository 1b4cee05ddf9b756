// Permissions (guide 7.2): every operation a request does is checked against the
// Access Control List of the dbfile it concerns (the zumero table z_acl), by the one
// function permits(); create_dbfile and get_storage_usage are checked in the ACL of
// zumero_config.
//
// An entry matches an identity by `who` (anyone; any_authenticated_user of `scheme`;
// user:NAME of `scheme`; group:NAME of `scheme`, membership as the scheme defines it),
// an operation by `op` (the operation, or '*' for any), and a table by `tbl` (for the
// table operations tbl_add_row, tbl_modify_row and tbl_add_column: the table, or '*'
// for any; for the others ''). Of the entries that match, the most specific decides:
//   1. by who: user:NAME, then group:NAME, then any_authenticated_user, then anyone;
//   2. then by op: the operation itself before '*';
//   3. then by tbl: the table itself, then '*', then '';
//   4. among entries equally specific, deny before allow.
// When no entry matches: a dbfile created by an authenticated identity allows that
// identity only, one created anonymously allows anyone (7.2.3) — except that the ACL
// protects itself: changes to z_acl that no entry allows are denied to all but the
// dbfile's authenticated creator. The push that creates a dbfile may do anything in it
// (it brings the dbfile's first ACL).
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/sqlite_api.h"
#include "server/identity.h"

namespace zumero::server {

enum class Operation {
  Pull,
  CreateDbfile,
  CreateTable,
  TblAddRow,
  TblModifyRow,
  TblAddColumn,
  AddRule,
  AuthAddUser,
  AuthSetPassword,
  AuthSetAclEntry,
  GetStorageUsage,
};

// The name the ACL and zumero_named_constant use ("pull", "tbl_add_row", ...).
const char *operation_name(Operation operation);
bool is_table_operation(Operation operation);

// Whether a user of an (internal) scheme belongs to a group.
using GroupCheck = std::function<bool(const std::string &scheme, const std::string &group, const std::string &user)>;

class AccessList {
public:
  // The ACL of a dbfile and who created it; a dbfile being created has neither.
  static AccessList load(sqlite3 *db);
  static AccessList for_new_dbfile(const Identity &creator);

  bool permits(const Identity &identity, Operation operation, const std::string &table, const GroupCheck &groups) const;

private:
  struct Entry {
    std::string scheme;  // canonical; empty for anyone
    std::string who;
    std::string table;
    std::string operation;
    bool allow = false;
  };
  std::optional<int> rank(const Entry &entry, const Identity &identity, Operation operation, const std::string &table,
                          const GroupCheck &groups) const;
  std::vector<Entry> entries_;
  std::optional<Identity> creator_;  // nullopt: created anonymously
  bool being_created_ = false;       // the push that creates the dbfile sets it up freely
};

// The creator a dbfile records (t$sync key creator), written when it is created.
void record_creator(sqlite3 *db, const Identity &creator);

// Checks an entry given to zumero_internal_auth_set_acl_entry as z_acl would (7.2.2);
// throws zumero:invalid_argument otherwise.
void check_acl_entry(const std::string &scheme, const std::string &who, const std::string &table,
                     const std::string &operation, const std::string &result);

}  // namespace zumero::server
