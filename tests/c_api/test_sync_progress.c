/*
** zumero_sync_progress() from C, with the static library, against a real zumero-server:
** every phase reports sensible figures, and a sync cancelled in any phase leaves the
** database's content as it was; the next sync completes and converges with a fresh client.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "c_test_support.h"
#include "sync_client_helpers.h"
#include "zumero_register.h"

static const char *kDbfile = "progress";

static sqlite3 *open_client(const char *name) {
  sqlite3 *db = NULL;
  REQUIRE(sqlite3_open_v2(c_test_path(name), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) == SQLITE_OK);
  REQUIRE(zumero_register(db) == SQLITE_OK);
  return db;
}

/* Rows of random text, so the packages do not shrink to nothing once compressed. */
static void insert_rows(sqlite3 *db, const char *prefix, int count) {
  char sql[512];
  snprintf(sql, sizeof sql,
           "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < %d) "
           "INSERT INTO items SELECT '%s' || printf('%%06d', i), hex(randomblob(120)) FROM s",
           count, prefix);
  REQUIRE(c_test_exec(db, sql) == SQLITE_OK);
}

static void check_registration_rules(void) {
  sqlite3 *plain = NULL;
  progress_recorder recorder = {0};
  REQUIRE(sqlite3_open(":memory:", &plain) == SQLITE_OK);
  /* Without zumero on the connection there is nothing to attach the callback to. */
  CHECK(zumero_sync_progress(plain, record_progress, &recorder) == SQLITE_MISUSE);
  REQUIRE(zumero_register(plain) == SQLITE_OK);
  CHECK(zumero_sync_progress(plain, record_progress, &recorder) == SQLITE_OK);
  CHECK(zumero_sync_progress(plain, NULL, NULL) == SQLITE_OK);
  sqlite3_close(plain);
}

/* A first push, then a fresh client pulling it: the figures of every phase. */
static void check_reports(const char *url, sqlite3 *a, sqlite3 *b) {
  progress_recorder recorder = {0};
  progress_report first, last;
  size_t count;
  char *content_a, *content_b;

  REQUIRE(c_test_exec(a, "CREATE VIRTUAL TABLE items USING zumero (k TEXT PRIMARY KEY, v TEXT)") == SQLITE_OK);
  insert_rows(a, "a", 2000);
  REQUIRE(zumero_sync_progress(a, record_progress, &recorder) == SQLITE_OK);
  REQUIRE(sync_complete(a, url, kDbfile));

  count = reports_of(&recorder, ZUMERO_PROGRESS_PUSH, &first, &last);
  CHECK(count >= 2);
  CHECK(first.done == 0);
  CHECK(first.total > 2000 * 240); /* the package holds every row's text */
  CHECK(last.done == last.total);
  CHECK(last.total == first.total);
  CHECK(reports_sane(&recorder, ZUMERO_PROGRESS_PUSH));
  CHECK(reports_of(&recorder, ZUMERO_PROGRESS_PULL, NULL, NULL) >= 2);
  CHECK(reports_sane(&recorder, ZUMERO_PROGRESS_PULL));
  CHECK(reports_sane(&recorder, ZUMERO_PROGRESS_APPLY));
  /* Phases come in order: nothing is pushed after the pull started. */
  {
    size_t i, pull_seen = 0, late_push = 0;
    for (i = 0; i < recorder.count; i++) {
      if (recorder.reports[i].phase == ZUMERO_PROGRESS_PULL) pull_seen = 1;
      if (recorder.reports[i].phase == ZUMERO_PROGRESS_PUSH && pull_seen) late_push = 1;
    }
    CHECK(!late_push);
  }

  recorder_reset(&recorder, 0, 0);
  REQUIRE(zumero_sync_progress(b, record_progress, &recorder) == SQLITE_OK);
  REQUIRE(sync_complete(b, url, kDbfile));
  CHECK(reports_of(&recorder, ZUMERO_PROGRESS_PUSH, NULL, NULL) == 0); /* nothing to push */
  count = reports_of(&recorder, ZUMERO_PROGRESS_PULL, &first, &last);
  CHECK(count >= 2);
  CHECK(first.done == 0);
  CHECK(last.total > 2000 * 100); /* random hex compresses to about half */
  CHECK(last.done == last.total);
  CHECK(reports_sane(&recorder, ZUMERO_PROGRESS_PULL));
  count = reports_of(&recorder, ZUMERO_PROGRESS_APPLY, &first, &last);
  CHECK(count >= 2000 / 256); /* every few hundred rows */
  CHECK(first.done == 0);
  CHECK(first.total == 2000);
  CHECK(last.done == 2000);
  CHECK(last.total == 2000);
  CHECK(reports_sane(&recorder, ZUMERO_PROGRESS_APPLY));

  content_a = items_content(a);
  content_b = items_content(b);
  CHECK(strcmp(content_a, content_b) == 0);
  free(content_a);
  free(content_b);

  /* NULL removes the callback: a later sync reports nothing. */
  recorder_reset(&recorder, 0, 0);
  REQUIRE(zumero_sync_progress(b, NULL, NULL) == SQLITE_OK);
  REQUIRE(c_test_exec(b, "UPDATE items SET v = 'b' WHERE k = 'a000001'") == SQLITE_OK);
  REQUIRE(sync_complete(b, url, kDbfile));
  CHECK(recorder.count == 0);
  REQUIRE(sync_complete(a, url, kDbfile));
  recorder_free(&recorder);
  zumero_sync_progress(a, NULL, NULL);
}

static const char *phase_name(int phase) {
  return phase == ZUMERO_PROGRESS_PUSH ? "push" : phase == ZUMERO_PROGRESS_PULL ? "pull" : "apply";
}

/* a has local changes to push and b's changes to pull and apply; the callback stops the
** sync in `phase` once done reaches cancel_after. */
static void check_cancel(const char *url, sqlite3 *a, sqlite3 *b, int phase, sqlite3_int64 cancel_after, int round) {
  progress_recorder recorder = {0};
  char prefix[32];
  char *before, *after, *result = NULL, *message = NULL;
  int rc;

  printf("cancel in %s at %lld\n", phase_name(phase), (long long)cancel_after);
  snprintf(prefix, sizeof prefix, "b%d_", round);
  insert_rows(b, prefix, 700);
  REQUIRE(sync_complete(b, url, kDbfile));
  REQUIRE(c_test_exec(a, "UPDATE items SET v = v || 'x' WHERE rowid % 3 = 0") == SQLITE_OK);

  before = items_content(a);
  recorder_reset(&recorder, phase, cancel_after);
  REQUIRE(zumero_sync_progress(a, record_progress, &recorder) == SQLITE_OK);
  rc = sync_once(a, url, kDbfile, &result, &message);
  CHECK(rc == SQLITE_INTERRUPT);
  CHECK(message && strcmp(message, "zumero:cancelled") == 0);
  if (message && strcmp(message, "zumero:cancelled") != 0) fprintf(stderr, "  message: %s\n", message);
  CHECK(recorder.cancelled == 1);
  after = items_content(a);
  CHECK(strcmp(before, after) == 0);
  CHECK(c_test_integer(a, "SELECT count(*) FROM t$q") == 0); /* nothing was set aside for good */
  free(before);
  free(after);
  free(result);
  free(message);

  /* The next sync goes on from there. */
  REQUIRE(zumero_sync_progress(a, NULL, NULL) == SQLITE_OK);
  CHECK(sync_complete(a, url, kDbfile));
  CHECK(sync_complete(b, url, kDbfile));
  {
    char fresh_name[32];
    sqlite3 *fresh;
    char *content_a, *content_b, *content_fresh;
    snprintf(fresh_name, sizeof fresh_name, "fresh%d.db", round);
    fresh = open_client(fresh_name);
    CHECK(sync_complete(fresh, url, kDbfile));
    content_a = items_content(a);
    content_b = items_content(b);
    content_fresh = items_content(fresh);
    /* The rows agree everywhere (the history sizes differ between clients). */
    CHECK(strcmp(strchr(content_a, '|'), strchr(content_fresh, '|')) == 0);
    CHECK(strcmp(strchr(content_b, '|'), strchr(content_fresh, '|')) == 0);
    CHECK(c_test_integer(fresh, "SELECT count(*) FROM items WHERE k LIKE 'b%'") == 700 * round);
    free(content_a);
    free(content_b);
    free(content_fresh);
    sqlite3_close(fresh);
  }
  recorder_free(&recorder);
}

/* The application writes on another connection while the sync waits for the pull: the
** sync sets that change aside and restores it after the server's rows. A cancel at that
** point rolls everything back and keeps the change as a local one. */
typedef struct {
  progress_recorder recorder;
  sqlite3 *writer;
  int written;
  char *expected;
} late_writer;

static int write_during_pull(void *context, int phase, sqlite3_int64 done, sqlite3_int64 total) {
  late_writer *late = (late_writer *)context;
  if (phase == ZUMERO_PROGRESS_PULL && !late->written) {
    late->written = 1;
    if (c_test_exec(late->writer, "UPDATE items SET v = 'late' WHERE k = 'a000002'") == SQLITE_OK)
      late->expected = items_content(late->writer);
  }
  return record_progress(&late->recorder, phase, done, total);
}

static void check_cancel_during_restore(const char *url, sqlite3 *a, sqlite3 *b) {
  late_writer late = {{0}, NULL, 0, NULL};
  char *after, *message = NULL, *result = NULL;
  sqlite3 *fresh;
  int rc;

  printf("cancel while a change made during the sync is restored\n");
  insert_rows(b, "b7_", 700);
  REQUIRE(sync_complete(b, url, kDbfile));
  late.writer = open_client("a.db");
  sqlite3_busy_timeout(late.writer, 10000);
  /* The server's 700 rows come first; the first report past them is the restore's. */
  recorder_reset(&late.recorder, ZUMERO_PROGRESS_APPLY, 700);
  REQUIRE(zumero_sync_progress(a, write_during_pull, &late) == SQLITE_OK);
  rc = sync_once(a, url, kDbfile, &result, &message);
  CHECK(rc == SQLITE_INTERRUPT);
  CHECK(message && strcmp(message, "zumero:cancelled") == 0);
  CHECK(late.recorder.cancelled == 1);
  {
    progress_report last;
    CHECK(reports_of(&late.recorder, ZUMERO_PROGRESS_APPLY, NULL, &last) >= 2);
    CHECK(last.done == 700);
    CHECK(last.total == 701); /* the restore announced its one row */
  }
  REQUIRE(late.expected != NULL);
  after = items_content(a);
  CHECK(strcmp(after, late.expected) == 0);
  CHECK(c_test_integer(a, "SELECT count(*) FROM t$q") == 0);
  REQUIRE(zumero_sync_progress(a, NULL, NULL) == SQLITE_OK);
  CHECK(sync_complete(a, url, kDbfile));
  fresh = open_client("fresh7.db");
  CHECK(sync_complete(fresh, url, kDbfile));
  CHECK(c_test_integer(fresh, "SELECT count(*) FROM items WHERE k = 'a000002' AND v = 'late'") == 1);
  CHECK(c_test_integer(fresh, "SELECT count(*) FROM items WHERE k LIKE 'b7_%'") == 700);
  sqlite3_close(fresh);
  sqlite3_close(late.writer);
  free(after);
  free(message);
  free(result);
  free(late.expected);
  recorder_free(&late.recorder);
}

int main(void) {
  test_server server;
  sqlite3 *a, *b;

  setvbuf(stdout, NULL, _IOLBF, 0);
  check_registration_rules();
  REQUIRE(c_test_start_server(&server, ZUMERO_SERVER_PATH, "server") == 0);
  a = open_client("a.db");
  b = open_client("b.db");
  check_reports(server.url, a, b);
  check_cancel(server.url, a, b, ZUMERO_PROGRESS_PUSH, 0, 1);   /* before anything is sent */
  check_cancel(server.url, a, b, ZUMERO_PROGRESS_PUSH, 1, 2);   /* during the upload */
  check_cancel(server.url, a, b, ZUMERO_PROGRESS_PULL, 0, 3);   /* before the pull */
  check_cancel(server.url, a, b, ZUMERO_PROGRESS_PULL, 1, 4);   /* during the download */
  check_cancel(server.url, a, b, ZUMERO_PROGRESS_APPLY, 0, 5);  /* before any row is written */
  check_cancel(server.url, a, b, ZUMERO_PROGRESS_APPLY, 300, 6); /* with rows written */
  check_cancel_during_restore(server.url, a, b);
  sqlite3_close(a);
  sqlite3_close(b);
  c_test_stop_server(&server);
  c_test_finish();
  return 0;
}
