// Shows a sync's progress (zumero_sync_progress) on the command line: a bar redrawn in
// place on a terminal, plain lines otherwise (one per finished phase, for logs and
// scripts). Ctrl-C (SIGINT) while it is installed cancels the sync cleanly.
#pragma once
#include <signal.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <cstdio>

namespace zumero::cli {

class ProgressDisplay {
public:
  // Installs itself as db's progress callback, drawing on `out`.
  ProgressDisplay(sqlite3 *db, std::FILE *out, bool quiet);
  ~ProgressDisplay();
  ProgressDisplay(const ProgressDisplay &) = delete;
  ProgressDisplay &operator=(const ProgressDisplay &) = delete;

  // Clears the bar, so that other lines can be printed.
  void clear();
  bool interrupted() const;

private:
  static int callback(void *context, int phase, sqlite3_int64 done, sqlite3_int64 total);
  int on_report(int phase, sqlite3_int64 done, sqlite3_int64 total);
  void draw_bar(int phase, sqlite3_int64 done, sqlite3_int64 total);
  void print_line(int phase, sqlite3_int64 done, sqlite3_int64 total);

  sqlite3 *db_;
  std::FILE *out_;
  bool terminal_;
  bool quiet_;
  bool bar_shown_ = false;
  std::chrono::steady_clock::time_point last_draw_;
  int last_phase_ = 0;
  sqlite3_int64 last_done_ = -1;
  sqlite3_int64 last_total_ = -1;
  struct ::sigaction saved_ {};
};

}  // namespace zumero::cli
