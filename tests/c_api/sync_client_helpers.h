/* Syncing from C in the tests: zumero_sync() through SQL, the content of the test table
** as one string, and a progress callback that records every report and can cancel. */
#ifndef ZUMERO_C_SYNC_CLIENT_HELPERS_H
#define ZUMERO_C_SYNC_CLIENT_HELPERS_H
#include <sqlite3.h>
#include <stddef.h>

typedef struct {
  int phase;
  sqlite3_int64 done;
  sqlite3_int64 total;
} progress_report;

typedef struct {
  progress_report *reports;
  size_t count;
  size_t capacity;
  int cancel_phase;           /* 0: never cancel */
  sqlite3_int64 cancel_after; /* cancel at the first report of cancel_phase with done >= this */
  int cancelled;              /* how many times it answered "stop" */
} progress_recorder;

/* The callback for zumero_sync_progress; context is a progress_recorder. */
int record_progress(void *context, int phase, sqlite3_int64 done, sqlite3_int64 total);
void recorder_reset(progress_recorder *recorder, int cancel_phase, sqlite3_int64 cancel_after);
void recorder_free(progress_recorder *recorder);
size_t reports_of(const progress_recorder *recorder, int phase, progress_report *first, progress_report *last);
/* Every report of phase: done never goes down, never passes a known total, and each
** transfer or apply ends with done == total. Prints what is wrong; returns 1 when sane. */
int reports_sane(const progress_recorder *recorder, int phase);

/* One zumero_sync('main', url, dbfile) call. Returns the SQLite result code; *result
** gets the returned text, *message the error message (both malloc'ed, may be NULL). */
int sync_once(sqlite3 *db, const char *url, const char *dbfile, char **result, char **message);
/* Calls zumero_sync until partial is 0; returns 1 on success. */
int sync_complete(sqlite3 *db, const char *url, const char *dbfile);
/* The rows of items and the size of its history, as one string (malloc'ed). */
char *items_content(sqlite3 *db);

#endif
