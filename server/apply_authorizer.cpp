#include "server/apply_authorizer.h"

#include <cstring>
#include <set>
#include <string>

#include "base/expression.h"
#include "base/sql.h"
#include "server/logging.h"

namespace zumero::server {
namespace {

bool starts_with(const char *text, const char *prefix) {
  return text && std::strncmp(text, prefix, std::strlen(prefix)) == 0;
}

bool in_main(const char *database) { return !database || std::strcmp(database, "main") == 0; }

// Functions zumero's own statements use while applying a package, besides those a
// table definition may use in DEFAULT and CHECK expressions.
bool internal_function(const char *name) {
  static const NameSet functions = {"count", "max", "min", "coalesce", "typeof", "strftime", "length", "printf",
                                    "substr", "zumero_recording", "zumero_txid", "zumero_alter_table_add_column"};
  return name && functions.count(name);
}

bool allowed_pragma(const char *name) {
  static const NameSet pragmas = {"foreign_key_check", "quick_check", "recursive_triggers", "database_list"};
  return name && pragmas.count(name);
}

int authorize(void *, int action, const char *first, const char *second, const char *database, const char *) {
  return ApplyAuthorizer::decide(action, first, second, database);
}

}  // namespace

int ApplyAuthorizer::decide(int action, const char *first, const char *second, const char *database) {
  bool allowed = false;
  switch (action) {
    case SQLITE_READ:
    case SQLITE_SELECT:
    case SQLITE_TRANSACTION:
    case SQLITE_SAVEPOINT: allowed = true; break;
    case SQLITE_INSERT:
    case SQLITE_UPDATE:
    case SQLITE_DELETE: allowed = in_main(database); break;
    case SQLITE_CREATE_TABLE: allowed = in_main(second) && (starts_with(first, "z$") || starts_with(first, "t$")); break;
    case SQLITE_CREATE_INDEX:  // the server's version indexes, and UNIQUE constraints of z$ tables
      allowed = in_main(database) && (starts_with(first, "z$") || starts_with(first, "sqlite_autoindex_z$")) &&
                starts_with(second, "z$");
      break;
    case SQLITE_REINDEX: allowed = in_main(database) && starts_with(first, "z$"); break;  // part of CREATE INDEX
    case SQLITE_CREATE_TRIGGER:
    case SQLITE_DROP_TRIGGER:
      allowed = in_main(database) && (starts_with(first, "z$update$") || starts_with(first, "z$delete$"));
      break;
    case SQLITE_CREATE_VTABLE: allowed = in_main(database) && second && std::strcmp(second, "zumero") == 0; break;
    case SQLITE_ALTER_TABLE: allowed = in_main(first) && starts_with(second, "z$"); break;
    case SQLITE_PRAGMA: allowed = allowed_pragma(first); break;
    case SQLITE_FUNCTION: allowed = internal_function(second) || (second && is_allowed_function(lower_ascii(second))); break;
    default: allowed = false;
  }
  if (!allowed)
    log_warn("refused while applying a package: action ", action, " ", first ? first : "-", " ", second ? second : "-",
             " in ", database ? database : "-");
  return allowed ? SQLITE_OK : SQLITE_DENY;
}

ApplyAuthorizer::ApplyAuthorizer(sqlite3 *db) : db_(db) { sqlite3_set_authorizer(db_, authorize, nullptr); }

ApplyAuthorizer::~ApplyAuthorizer() { sqlite3_set_authorizer(db_, nullptr, nullptr); }

}  // namespace zumero::server
