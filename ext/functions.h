// The SQL functions of Chapter 10 that work on the local database.
#pragma once
#include <exception>
#include <new>
#include <string>

#include "base/sqlite_api.h"
#include "base/connection_state.h"

namespace zumero {

int register_local_functions(sqlite3 *db, ConnectionState *connection);
int register_sync_functions(sqlite3 *db, ConnectionState *connection);

// Helpers shared with the sync functions.
std::string text_argument(sqlite3_value *value);                      // '' for NULL
bool is_null(sqlite3_value *value);
void report_error(sqlite3_context *context, const std::exception &failure);
int create_function(sqlite3 *db, const char *name, int arguments, int flags, ConnectionState *connection,
                    void (*body)(sqlite3_context *, int, sqlite3_value **));

// The connection state every zumero function receives as its user data.
inline ConnectionState &connection_of(sqlite3_context *context) {
  return *static_cast<ConnectionState *>(sqlite3_user_data(context));
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
  }
}

}  // namespace zumero
