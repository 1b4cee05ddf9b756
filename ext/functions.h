// The SQL functions of Chapter 10 that work on the local database.
#pragma once
#include <exception>
#include <string>

#include "ext/sqlite_api.h"
#include "vtab/connection_state.h"

namespace zumero {

int register_local_functions(sqlite3 *db, ConnectionState *connection);
int register_sync_functions(sqlite3 *db, ConnectionState *connection);

// Helpers shared with the sync functions.
std::string text_argument(sqlite3_value *value);                      // '' for NULL
bool is_null(sqlite3_value *value);
void report_error(sqlite3_context *context, const std::exception &failure);
int create_function(sqlite3 *db, const char *name, int arguments, int flags, ConnectionState *connection,
                    void (*body)(sqlite3_context *, int, sqlite3_value **));

}  // namespace zumero
