// Every translation unit of the core includes SQLite through this header, so the same
// sources build both as a loadable extension (calls go through the sqlite3_api table
// set up by sqlite3_zumero_init) and, with SQLITE_CORE, for apps that link SQLite.
#pragma once
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3
