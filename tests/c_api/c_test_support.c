#define _GNU_SOURCE
#include "c_test_support.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

extern char **environ;

int c_test_failures = 0;
static char scratch[512];

const char *c_test_dir(void) {
  if (!scratch[0]) {
    const char *tmp = getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%s/zumero-c-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(scratch)) {
      perror("mkdtemp");
      exit(2);
    }
  }
  return scratch;
}

const char *c_test_path(const char *name) {
  static char paths[8][640];
  static int next = 0;
  char *path = paths[next++ % 8];
  snprintf(path, sizeof paths[0], "%s/%s", c_test_dir(), name);
  return path;
}

int c_test_start_server(test_server *server, const char *executable, const char *name) {
  int out[2], in[2];
  char data_dir[640], log_file[640];
  posix_spawn_file_actions_t actions;
  char *argv[8];
  char line[512];
  size_t used = 0;
  int rc;

  memset(server, 0, sizeof *server);
  snprintf(data_dir, sizeof data_dir, "%s/%s", c_test_dir(), name);
  snprintf(log_file, sizeof log_file, "%s/%s.log", c_test_dir(), name);
  if (pipe(out) != 0 || pipe(in) != 0) return -1;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, log_file, O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addclose(&actions, in[1]);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  argv[0] = (char *)executable;
  argv[1] = "--data-dir";
  argv[2] = data_dir;
  argv[3] = "--listen";
  argv[4] = "127.0.0.1:0";
  argv[5] = NULL;
  setenv("ZUMERO_STOP_ON_STDIN_EOF", "1", 1);
  rc = posix_spawn(&server->pid, executable, &actions, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  close(in[0]);
  close(out[1]);
  if (rc != 0) {
    close(in[1]);
    close(out[0]);
    return -1;
  }
  server->stdin_fd = in[1];
  /* The first line on stdout: "zumero-server listening on http://127.0.0.1:PORT". */
  while (used + 1 < sizeof line) {
    ssize_t got = read(out[0], line + used, 1);
    if (got <= 0) break;
    if (line[used] == '\n') break;
    used++;
  }
  line[used] = 0;
  close(out[0]);
  {
    const char *url = strstr(line, "http://");
    if (!url) {
      fprintf(stderr, "the server did not start: '%s' (see %s)\n", line, log_file);
      c_test_stop_server(server);
      return -1;
    }
    snprintf(server->url, sizeof server->url, "%s", url);
  }
  return 0;
}

void c_test_stop_server(test_server *server) {
  int status;
  if (server->pid <= 0) return;
  kill(server->pid, SIGTERM);
  waitpid(server->pid, &status, 0);
  if (server->stdin_fd > 0) close(server->stdin_fd);
  server->pid = 0;
  server->stdin_fd = 0;
}

void c_test_finish(void) {
  if (scratch[0] && !getenv("ZUMERO_KEEP_TEST_DIRS")) {
    char command[700];
    snprintf(command, sizeof command, "rm -rf '%s'", scratch);
    if (system(command) != 0) fprintf(stderr, "could not remove %s\n", scratch);
  }
  if (c_test_failures) fprintf(stderr, "%d check(s) failed\n", c_test_failures);
  else printf("all checks passed\n");
  exit(c_test_failures ? 1 : 0);
}

int c_test_exec(sqlite3 *db, const char *sql) {
  char *message = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &message);
  if (rc != SQLITE_OK) {
    fprintf(stderr, "SQL failed: %s\n  %s\n", message ? message : sqlite3_errstr(rc), sql);
    c_test_failures++;
  }
  sqlite3_free(message);
  return rc;
}

char *c_test_text(sqlite3 *db, const char *sql, char **error) {
  sqlite3_stmt *statement = NULL;
  char *result = NULL;
  int rc;
  if (error) *error = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &statement, NULL) != SQLITE_OK) {
    if (error) *error = strdup(sqlite3_errmsg(db));
    return NULL;
  }
  rc = sqlite3_step(statement);
  if (rc == SQLITE_ROW) {
    const unsigned char *text = sqlite3_column_text(statement, 0);
    result = strdup(text ? (const char *)text : "");
  } else if (rc == SQLITE_DONE) {
    result = strdup("");
  } else if (error) {
    *error = strdup(sqlite3_errmsg(db));
  }
  sqlite3_finalize(statement);
  return result;
}

sqlite3_int64 c_test_integer(sqlite3 *db, const char *sql) {
  char *error = NULL;
  char *text = c_test_text(db, sql, &error);
  sqlite3_int64 value = text ? strtoll(text, NULL, 10) : -1;
  if (!text) {
    fprintf(stderr, "query failed: %s\n  %s\n", error ? error : "?", sql);
    c_test_failures++;
  }
  free(text);
  free(error);
  return value;
}
