/* Helpers for the C tests of zumero's C API: a real zumero-server child process on
** 127.0.0.1, a scratch directory, SQL helpers and checks that count failures (the
** program exits non-zero when any check failed). Plain C, as an application is. */
#ifndef ZUMERO_C_TEST_SUPPORT_H
#define ZUMERO_C_TEST_SUPPORT_H
#include <sqlite3.h>
#include <stddef.h>
#include <sys/types.h>

extern int c_test_failures;

#define CHECK(condition)                                                              \
  do {                                                                                \
    if (!(condition)) {                                                               \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #condition);  \
      c_test_failures++;                                                              \
    }                                                                                 \
  } while (0)

/* Checks that stop the test at once: what follows would make no sense. */
#define REQUIRE(condition)                                                              \
  do {                                                                                  \
    if (!(condition)) {                                                                 \
      fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #condition);  \
      c_test_failures++;                                                                \
      c_test_finish();                                                                  \
    }                                                                                   \
  } while (0)

typedef struct {
  pid_t pid;
  int stdin_fd; /* the server stops when this closes (ZUMERO_STOP_ON_STDIN_EOF) */
  char url[128];
} test_server;

/* A fresh directory under TMPDIR (or /tmp); removed by c_test_finish. */
const char *c_test_dir(void);
/* Starts executable with --data-dir <dir>/<name> --listen 127.0.0.1:0 and waits for its
** "listening on" line; its stderr goes to <dir>/<name>.log. Returns 0 on success. */
int c_test_start_server(test_server *server, const char *executable, const char *name);
void c_test_stop_server(test_server *server);
/* Removes the scratch directory, prints a summary and exits: 0 when no check failed. */
void c_test_finish(void);

/* <dir>/<name>, in a static buffer of its own per call slot (up to 8 live at once). */
const char *c_test_path(const char *name);
/* Runs SQL; prints and counts the error. Returns the SQLite result code. */
int c_test_exec(sqlite3 *db, const char *sql);
/* The first column of the first row as text (malloc'ed; "" without a row, NULL on
** error, with the message in *error when given, also malloc'ed). */
char *c_test_text(sqlite3 *db, const char *sql, char **error);
sqlite3_int64 c_test_integer(sqlite3 *db, const char *sql);

#endif
