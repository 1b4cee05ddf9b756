/*
** hello_zumero: the smallest useful program that links zumero statically.
**
** It opens a database (the path given as the first argument, or an in-memory
** database), registers zumero on the connection, creates a zumero table with an
** index on its z$ table, writes a few rows, updates one, prints the rows and
** reports how many superseded row versions the z$old$ history table holds.
**
** Build:  cmake -S . -B build && cmake --build build --target hello_zumero
** Run:    build/hello_zumero [database-file]
**
** Exits 0 on success, 1 on any error (the error is printed on stderr).
*/
#include <stdio.h>

#include <sqlite3.h>

#include "zumero_register.h"

/* Runs statements that return no rows. Prints the error and returns 0 on failure. */
static int run(sqlite3 *db, const char *sql) {
  char *message = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &message) != SQLITE_OK) {
    fprintf(stderr, "hello_zumero: %s\n  while running: %s\n",
            message ? message : sqlite3_errmsg(db), sql);
    sqlite3_free(message);
    return 0;
  }
  return 1;
}

/* Prints every row of the notes table. Returns the number of rows, or -1 on error. */
static int print_notes(sqlite3 *db) {
  const char *sql = "SELECT title, body, stars FROM notes ORDER BY title";
  sqlite3_stmt *stmt = NULL;
  int rows = 0;
  int rc;

  if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) {
    fprintf(stderr, "hello_zumero: %s\n", sqlite3_errmsg(db));
    return -1;
  }
  printf("  %-10s %-32s %s\n", "title", "body", "stars");
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    const unsigned char *title = sqlite3_column_text(stmt, 0);
    const unsigned char *body = sqlite3_column_text(stmt, 1);
    printf("  %-10s %-32s %d\n", title ? (const char *)title : "(null)",
           body ? (const char *)body : "(null)", sqlite3_column_int(stmt, 2));
    rows++;
  }
  if (rc != SQLITE_DONE) {
    fprintf(stderr, "hello_zumero: %s\n", sqlite3_errmsg(db));
    rows = -1;
  }
  sqlite3_finalize(stmt);
  return rows;
}

/* Returns the integer result of a one-value query, or -1 on error. */
static sqlite3_int64 query_count(sqlite3 *db, const char *sql) {
  sqlite3_stmt *stmt = NULL;
  sqlite3_int64 value = -1;

  if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) {
    fprintf(stderr, "hello_zumero: %s\n", sqlite3_errmsg(db));
    return -1;
  }
  if (sqlite3_step(stmt) == SQLITE_ROW) {
    value = sqlite3_column_int64(stmt, 0);
  } else {
    fprintf(stderr, "hello_zumero: %s\n", sqlite3_errmsg(db));
  }
  sqlite3_finalize(stmt);
  return value;
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : ":memory:";
  sqlite3 *db = NULL;
  int ok = 0;
  int rows;
  sqlite3_int64 old_versions;
  int rc;

  /* Keep stdout and stderr in order when both go to the same log. */
  setvbuf(stdout, NULL, _IOLBF, 0);

  rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
  if (rc != SQLITE_OK) {
    fprintf(stderr, "hello_zumero: cannot open %s: %s\n", path,
            db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return 1;
  }

  /* One call makes the zumero module and the zumero_* SQL functions available. */
  rc = zumero_register(db);
  if (rc != SQLITE_OK) {
    fprintf(stderr, "hello_zumero: zumero_register failed: %s\n", sqlite3_errstr(rc));
    sqlite3_close(db);
    return 1;
  }
  printf("zumero registered on %s (SQLite %s)\n", path, sqlite3_libversion());

  do {
    /* A zumero table is declared like a normal one, inside USING zumero (...).
    ** Indexes go on the z$ table that stores the live rows. */
    if (!run(db, "CREATE VIRTUAL TABLE notes USING zumero ("
                 "  title TEXT NOT NULL UNIQUE,"
                 "  body TEXT,"
                 "  stars INTEGER NOT NULL DEFAULT 0)"))
      break;
    if (!run(db, "CREATE INDEX notes_by_stars ON z$notes (stars)")) break;

    if (!run(db, "BEGIN;"
                 "INSERT INTO notes (title, body, stars) VALUES ('sqlite', 'a small SQL database', 4);"
                 "INSERT INTO notes (title, body, stars) VALUES ('zumero', 'sync for SQLite', 3);"
                 "INSERT INTO notes (title, body, stars) VALUES ('offline', 'keeps working without a network', 4);"
                 "COMMIT;"))
      break;

    /* An UPDATE keeps the previous version of the row in z$old$notes. */
    if (!run(db, "UPDATE notes SET stars = 5 WHERE title = 'zumero'")) break;

    printf("rows in notes:\n");
    rows = print_notes(db);
    if (rows != 3) {
      fprintf(stderr, "hello_zumero: expected 3 rows, found %d\n", rows);
      break;
    }
    if (query_count(db, "SELECT stars FROM notes WHERE title = 'zumero'") != 5) {
      fprintf(stderr, "hello_zumero: the update was not read back\n");
      break;
    }

    old_versions = query_count(db, "SELECT count(*) FROM z$old$notes");
    if (old_versions < 0) break;
    printf("old row versions kept in z$old$notes: %lld\n", (long long)old_versions);
    if (old_versions < 1) {
      fprintf(stderr, "hello_zumero: the update should have kept the previous version\n");
      break;
    }
    ok = 1;
  } while (0);

  if (sqlite3_close(db) != SQLITE_OK) {
    fprintf(stderr, "hello_zumero: close failed: %s\n", sqlite3_errmsg(db));
    ok = 0;
  }
  return ok ? 0 : 1;
}
