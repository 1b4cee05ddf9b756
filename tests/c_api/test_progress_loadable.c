/*
** An application that loads zumero with load_extension (it links only SQLite) reaches
** zumero_sync_progress through dlsym on the library SQLite loaded, as the header says.
*/
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "c_test_support.h"
#include "sync_client_helpers.h"
#include "zumero_register.h"

int main(void) {
  test_server server;
  sqlite3 *db = NULL;
  char *error = NULL;
  void *library;
  zumero_sync_progress_fn set_progress;
  progress_recorder recorder = {0};
  char *result = NULL, *message = NULL;
  int rc;

  setvbuf(stdout, NULL, _IOLBF, 0);
  REQUIRE(c_test_start_server(&server, ZUMERO_SERVER_PATH, "server") == 0);
  REQUIRE(sqlite3_open(c_test_path("loaded.db"), &db) == SQLITE_OK);
  REQUIRE(sqlite3_enable_load_extension(db, 1) == SQLITE_OK);
  rc = sqlite3_load_extension(db, ZUMERO_EXTENSION_PATH, NULL, &error);
  if (rc != SQLITE_OK) fprintf(stderr, "load_extension: %s\n", error ? error : "?");
  sqlite3_free(error);
  REQUIRE(rc == SQLITE_OK);

  /* The library SQLite loaded, not a second copy: RTLD_NOLOAD fails otherwise. */
  library = dlopen(ZUMERO_EXTENSION_PATH, RTLD_NOW | RTLD_NOLOAD);
  REQUIRE(library != NULL);
  set_progress = (zumero_sync_progress_fn)dlsym(library, "zumero_sync_progress");
  REQUIRE(set_progress != NULL);
  REQUIRE(set_progress(db, record_progress, &recorder) == SQLITE_OK);

  REQUIRE(c_test_exec(db, "CREATE VIRTUAL TABLE items USING zumero (k TEXT PRIMARY KEY, v TEXT);"
                          "INSERT INTO items VALUES ('one', 'first'), ('two', 'second')") == SQLITE_OK);
  CHECK(sync_complete(db, server.url, "loaded"));
  CHECK(reports_of(&recorder, ZUMERO_PROGRESS_PUSH, NULL, NULL) >= 2);
  CHECK(reports_of(&recorder, ZUMERO_PROGRESS_PULL, NULL, NULL) >= 2);
  CHECK(reports_sane(&recorder, ZUMERO_PROGRESS_PUSH));

  /* A cancel through the loaded library's callback. */
  REQUIRE(c_test_exec(db, "UPDATE items SET v = 'changed' WHERE k = 'one'") == SQLITE_OK);
  recorder_reset(&recorder, ZUMERO_PROGRESS_PUSH, 0);
  rc = sync_once(db, server.url, "loaded", &result, &message);
  CHECK(rc == SQLITE_INTERRUPT);
  CHECK(message && strcmp(message, "zumero:cancelled") == 0);
  free(result);
  free(message);
  REQUIRE(set_progress(db, NULL, NULL) == SQLITE_OK);
  CHECK(sync_complete(db, server.url, "loaded"));
  CHECK(c_test_integer(db, "SELECT count(*) FROM t$dirty") == 0);

  sqlite3_close(db);
  dlclose(library);
  recorder_free(&recorder);
  c_test_stop_server(&server);
  c_test_finish();
  return 0;
}
