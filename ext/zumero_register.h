/* Registers the zumero module and SQL functions on a connection, for applications
** that link SQLite themselves. Returns an SQLite result code. */
#ifndef ZUMERO_REGISTER_H
#define ZUMERO_REGISTER_H
#include <sqlite3.h>
#ifdef __cplusplus
extern "C" {
#endif
int zumero_register(sqlite3 *db);
#ifdef __cplusplus
}
#endif
#endif
