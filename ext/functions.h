// The SQL functions of Chapter 10 that work on the local database.
#pragma once
#include <exception>
#include <memory>
#include <new>
#include <string>

#include "base/sqlite_api.h"
#include "base/connection_state.h"

namespace zumero {

// Registers the module and every function on a connection (zumero_register).
int register_zumero(sqlite3 *db);

int register_local_functions(sqlite3 *db, const std::shared_ptr<ConnectionState> &connection);
int register_sync_functions(sqlite3 *db, const std::shared_ptr<ConnectionState> &connection);
int register_auth_functions(sqlite3 *db, const std::shared_ptr<ConnectionState> &connection);

// Helpers shared with the sync functions.
std::string text_argument(sqlite3_value *value);                      // '' for NULL
bool is_null(sqlite3_value *value);
void report_error(sqlite3_context *context, const std::exception &failure);
int create_function(sqlite3 *db, const char *name, int arguments, int flags,
                    const std::shared_ptr<ConnectionState> &connection,
                    void (*body)(sqlite3_context *, int, sqlite3_value **));

// The connection state every zumero function receives as its user data.
inline ConnectionState &connection_of(sqlite3_context *context) {
  return ConnectionState::from_handle(sqlite3_user_data(context));
}

// Runs body, reporting any exception as the function's error: exceptions never
// cross into SQLite.
template <typename Body>
void guarded(sqlite3_context *context, Body &&body) {
  try {
    body();
  } catch (const std::bad_alloc &) {
    sqlite3_result_error_nomem(context);
  } catch (const std::exception &failure) {
    report_error(context, failure);
  } catch (...) {
    sqlite3_result_error(context, "zumero: unexpected failure", -1);
  }
}

}  // namespace zumero
