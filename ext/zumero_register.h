/* The C API of zumero for applications.
**
** zumero_register() registers the zumero module and SQL functions on a connection, for
** applications that link SQLite and the static library themselves. Returns an SQLite
** result code.
**
** zumero_sync_progress() sets the progress callback of the syncs (zumero_sync,
** zumero_pull_without_history) run from connection db, which must have zumero
** registered (SQLITE_MISUSE otherwise). NULL removes it. Set it while no sync runs on
** db; a sync uses the callback it found when it started. The callback runs on the
** thread calling zumero_sync, and may not use db. It receives:
**
**   phase  ZUMERO_PROGRESS_PUSH: done and total count bytes of the push package sent
**          (counted before compression; total is the whole push, known from the start).
**          ZUMERO_PROGRESS_PULL: bytes of the pull reply received (as sent, compressed);
**          total is the reply's length, -1 until the server announced it. A large pull
**          comes in several zumero_sync calls (partial), one reply each.
**          ZUMERO_PROGRESS_APPLY: rows written to the database (the server's row states,
**          then local changes made during the sync, restored on top); reported every few
**          hundred rows and at the end. The total is counted first; it grows once when
**          such local changes are restored.
**   done, total  as above; total is -1 when unknown.
**
** A phase starts with a report of done = 0. A non-zero return cancels the sync:
** zumero_sync fails with "zumero:cancelled" (result code SQLITE_INTERRUPT), and the
** database holds what it held before the call, or in addition a complete part staged for
** later (a push waiting to be sent, its reply, a pull part). The next sync goes on from
** there. A cancel while the changes are applied rolls the apply back.
**
** With the loadable extension (load_extension), the function is exported under the same
** name from the loaded library: find it with dlopen() of the same file, e.g.
**   void *lib = dlopen("/path/to/zumero.so", RTLD_NOW | RTLD_NOLOAD);
**   zumero_sync_progress_fn set = (zumero_sync_progress_fn)dlsym(lib, "zumero_sync_progress");
** and call it with a connection that loaded that library. */
#ifndef ZUMERO_REGISTER_H
#define ZUMERO_REGISTER_H
#include <sqlite3.h>
#ifdef __cplusplus
extern "C" {
#endif

#define ZUMERO_PROGRESS_PUSH 1
#define ZUMERO_PROGRESS_PULL 2
#define ZUMERO_PROGRESS_APPLY 3

typedef int (*zumero_progress_callback)(void *context, int phase, sqlite3_int64 done, sqlite3_int64 total);
typedef int (*zumero_sync_progress_fn)(sqlite3 *db, zumero_progress_callback callback, void *context);

int zumero_register(sqlite3 *db);
int zumero_sync_progress(sqlite3 *db, zumero_progress_callback callback, void *context);

#ifdef __cplusplus
}
#endif
#endif
