// The "zumero" virtual table module. Every call is passed through to the table z$T
// that holds the rows; writes also keep history and the record of local changes.
#pragma once
#include "base/sqlite_api.h"
#include <memory>

#include "base/connection_state.h"

namespace zumero {

int register_module(sqlite3 *db, const std::shared_ptr<ConnectionState> &connection);

}  // namespace zumero
