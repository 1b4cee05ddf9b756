// Entry points: sqlite3_zumero_init for load_extension(), zumero_register for apps
// that link SQLite themselves, zumero_sync_progress for both.
#include "base/sqlite_api.h"
#include "ext/functions.h"
#include "ext/zumero_register.h"
#include "base/connection_state.h"
#include "vtab/module.h"

SQLITE_EXTENSION_INIT1

namespace {

int register_all(sqlite3 *db) {
  // The module relies on APIs added up to SQLite 3.24 (keyword check, nochange).
  if (sqlite3_libversion_number() < 3024000) return SQLITE_MISUSE;
  if (zumero::ConnectionState::find(db)) return SQLITE_OK;  // already registered here
  std::shared_ptr<zumero::ConnectionState> connection;
  try {
    connection = zumero::ConnectionState::create(db);
  } catch (...) {
    return SQLITE_NOMEM;
  }
  // The module and every function share the state; the last one gone frees it.
  int rc = zumero::register_module(db, connection);
  if (rc != SQLITE_OK) return rc;
  rc = zumero::register_local_functions(db, connection);
  if (rc != SQLITE_OK) return rc;
  rc = zumero::register_sync_functions(db, connection);
  if (rc != SQLITE_OK) return rc;
  return zumero::register_auth_functions(db, connection);
}

}  // namespace

namespace zumero {
int register_zumero(sqlite3 *db) { return register_all(db); }
}  // namespace zumero

extern "C" int zumero_register(sqlite3 *db) { return register_all(db); }

extern "C" int zumero_sync_progress(sqlite3 *db, zumero_progress_callback callback, void *context) {
  std::shared_ptr<zumero::ConnectionState> connection = zumero::ConnectionState::find(db);
  if (!connection) return SQLITE_MISUSE;  // zumero is not registered on db
  connection->sync_progress = {callback, callback ? context : nullptr};
  return SQLITE_OK;
}

extern "C" int sqlite3_zumero_init(sqlite3 *db, char **error, const sqlite3_api_routines *api) {
  SQLITE_EXTENSION_INIT2(api);
  int rc = register_all(db);
  if (rc != SQLITE_OK && error) *error = sqlite3_mprintf("zumero: registration failed (%d)", rc);
  return rc;
}
