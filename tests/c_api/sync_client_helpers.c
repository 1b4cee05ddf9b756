#include "sync_client_helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c_test_support.h"

int record_progress(void *context, int phase, sqlite3_int64 done, sqlite3_int64 total) {
  progress_recorder *recorder = (progress_recorder *)context;
  if (getenv("ZUMERO_TEST_VERBOSE")) printf("  progress %d %lld/%lld\n", phase, (long long)done, (long long)total);
  if (recorder->count == recorder->capacity) {
    size_t capacity = recorder->capacity ? recorder->capacity * 2 : 256;
    progress_report *grown = (progress_report *)realloc(recorder->reports, capacity * sizeof *grown);
    if (!grown) return 1;
    recorder->reports = grown;
    recorder->capacity = capacity;
  }
  recorder->reports[recorder->count].phase = phase;
  recorder->reports[recorder->count].done = done;
  recorder->reports[recorder->count].total = total;
  recorder->count++;
  if (recorder->cancel_phase == phase && done >= recorder->cancel_after) {
    recorder->cancelled++;
    return 1;
  }
  return 0;
}

void recorder_reset(progress_recorder *recorder, int cancel_phase, sqlite3_int64 cancel_after) {
  recorder->count = 0;
  recorder->cancel_phase = cancel_phase;
  recorder->cancel_after = cancel_after;
  recorder->cancelled = 0;
}

void recorder_free(progress_recorder *recorder) {
  free(recorder->reports);
  memset(recorder, 0, sizeof *recorder);
}

size_t reports_of(const progress_recorder *recorder, int phase, progress_report *first, progress_report *last) {
  size_t count = 0;
  size_t i;
  for (i = 0; i < recorder->count; i++) {
    if (recorder->reports[i].phase != phase) continue;
    if (count == 0 && first) *first = recorder->reports[i];
    if (last) *last = recorder->reports[i];
    count++;
  }
  return count;
}

int reports_sane(const progress_recorder *recorder, int phase) {
  size_t i;
  sqlite3_int64 previous = -1;
  int sane = 1;
  const progress_report *last = NULL;
  for (i = 0; i < recorder->count; i++) {
    const progress_report *report = &recorder->reports[i];
    if (report->phase != phase) continue;
    /* A new transfer (or the apply of a later round) starts again from 0. */
    if (report->done < previous && report->done != 0) {
      fprintf(stderr, "phase %d: done went down from %lld to %lld\n", phase, (long long)previous,
              (long long)report->done);
      sane = 0;
    }
    if (report->total >= 0 && report->done > report->total) {
      fprintf(stderr, "phase %d: done %lld past total %lld\n", phase, (long long)report->done,
              (long long)report->total);
      sane = 0;
    }
    if (report->total < -1 || report->done < 0) sane = 0;
    previous = report->done;
    last = report;
  }
  if (last && last->done != last->total) {
    fprintf(stderr, "phase %d ends at %lld of %lld\n", phase, (long long)last->done, (long long)last->total);
    sane = 0;
  }
  return sane;
}

int sync_once(sqlite3 *db, const char *url, const char *dbfile, char **result, char **message) {
  sqlite3_stmt *statement = NULL;
  int rc;
  if (result) *result = NULL;
  if (message) *message = NULL;
  rc = sqlite3_prepare_v2(db, "SELECT zumero_sync('main', ?1, ?2)", -1, &statement, NULL);
  if (rc != SQLITE_OK) {
    if (message) *message = strdup(sqlite3_errmsg(db));
    return rc;
  }
  sqlite3_bind_text(statement, 1, url, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(statement, 2, dbfile, -1, SQLITE_TRANSIENT);
  rc = sqlite3_step(statement);
  if (rc == SQLITE_ROW) {
    if (result) *result = strdup((const char *)sqlite3_column_text(statement, 0));
    rc = SQLITE_OK;
  } else if (message) {
    *message = strdup(sqlite3_errmsg(db));
  }
  sqlite3_finalize(statement);
  return rc;
}

int sync_complete(sqlite3 *db, const char *url, const char *dbfile) {
  int call;
  for (call = 0; call < 100; call++) {
    char *result = NULL, *message = NULL;
    int rc = sync_once(db, url, dbfile, &result, &message);
    int partial = result && result[0] == '1';
    if (rc != SQLITE_OK) fprintf(stderr, "zumero_sync failed: %s\n", message ? message : "?");
    free(result);
    free(message);
    if (rc != SQLITE_OK) return 0;
    if (!partial) return 1;
  }
  return 0;
}

char *items_content(sqlite3 *db) {
  char *error = NULL;
  char *text = c_test_text(db,
                           "SELECT (SELECT count(*) FROM z$old$items) || '|' || count(*) || '|' || "
                           "coalesce(group_concat(k || '=' || v, ','), '') FROM (SELECT k, v FROM z$items ORDER BY k)",
                           &error);
  if (!text) {
    fprintf(stderr, "content: %s\n", error ? error : "?");
    text = strdup("<error>");
  }
  free(error);
  return text;
}
