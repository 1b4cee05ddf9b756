// The internal-auth routes (guide 10.1.3-10.1.7): /auth_create, /auth_add_user,
// /auth_add_alias, /auth_set_password and /auth_set_acl_entry. Each changes an
// internal auth dbfile as one new version, after its permission check; none has a
// package. Success is 204.
#pragma once
#include "server/storage.h"
#include "server/internal_auth.h"
#include "server/permissions.h"
#include "server/request.h"
#include "server/request_context.h"

namespace zumero::server {

class AuthRoutes {
public:
  AuthRoutes(Storage &store, Authenticator &authenticator, Permissions &permissions)
      : store_(store), authenticator_(authenticator), permissions_(permissions) {}

  // True when path is one of the routes (the response is then filled in).
  bool handles(const std::string &path) const;
  Response handle(RequestContext &context);

  // Creates an internal auth dbfile (used by /auth_create and at the first start).
  struct Creation {
    Identity creator;
    std::optional<std::string> first_user, first_password;
    std::optional<std::pair<std::string, std::string>> may_add;     // scheme, who for auth_add_user
    std::optional<std::pair<std::string, std::string>> may_manage;  // scheme, who for auth_set_acl_entry
  };
  void create(const std::string &dbfile, const Creation &creation);

private:
  Response create_route(RequestContext &context);
  Response add_user(RequestContext &context);
  Response add_alias(RequestContext &context);
  Response set_password(RequestContext &context);
  Response set_acl_entry(RequestContext &context);
  // Runs change as a new version of an existing internal auth dbfile, after check.
  void change(const std::string &dbfile, const std::function<void(sqlite3 *, const AccessList &)> &check,
              const std::function<void(sqlite3 *, std::int64_t)> &change);

  Storage &store_;
  Authenticator &authenticator_;
  Permissions &permissions_;
};

}  // namespace zumero::server
