#include "cli/progress_display.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "zumero_register.h"

namespace zumero::cli {
namespace {

std::atomic<bool> interrupt_requested{false};

void on_interrupt(int) { interrupt_requested = true; }

const char *phase_name(int phase) {
  switch (phase) {
    case ZUMERO_PROGRESS_PUSH: return "push";
    case ZUMERO_PROGRESS_PULL: return "pull";
    default: return "apply";
  }
}

const char *unit(int phase) { return phase == ZUMERO_PROGRESS_APPLY ? "rows" : "bytes"; }

// 1536 -> "1.5 KiB"; rows stay plain numbers.
std::string amount(int phase, sqlite3_int64 value) {
  if (phase == ZUMERO_PROGRESS_APPLY || value < 1024) return std::to_string(value) + " " + unit(phase);
  const char *suffixes[] = {"KiB", "MiB", "GiB", "TiB"};
  double scaled = static_cast<double>(value);
  int index = -1;
  while (scaled >= 1024 && index < 3) {
    scaled /= 1024;
    ++index;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", scaled, suffixes[index]);
  return text;
}

}  // namespace

ProgressDisplay::ProgressDisplay(sqlite3 *db, std::FILE *out, bool quiet)
    : db_(db), out_(out), terminal_(isatty(fileno(out)) == 1), quiet_(quiet) {
  interrupt_requested = false;
  struct ::sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, &saved_);
  zumero_sync_progress(db_, &ProgressDisplay::callback, this);
}

ProgressDisplay::~ProgressDisplay() {
  zumero_sync_progress(db_, nullptr, nullptr);
  clear();
  ::sigaction(SIGINT, &saved_, nullptr);
}

bool ProgressDisplay::interrupted() const { return interrupt_requested; }

int ProgressDisplay::callback(void *context, int phase, sqlite3_int64 done, sqlite3_int64 total) {
  return static_cast<ProgressDisplay *>(context)->on_report(phase, done, total);
}

int ProgressDisplay::on_report(int phase, sqlite3_int64 done, sqlite3_int64 total) {
  if (interrupt_requested) return 1;  // the sync stops with zumero:cancelled
  if (quiet_) return 0;
  if (terminal_) draw_bar(phase, done, total);
  else print_line(phase, done, total);
  return 0;
}

void ProgressDisplay::draw_bar(int phase, sqlite3_int64 done, sqlite3_int64 total) {
  auto now = std::chrono::steady_clock::now();
  bool finished = total >= 0 && done == total;
  if (phase == last_phase_ && !finished && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  last_phase_ = phase;
  constexpr int kWidth = 30;
  std::string bar;
  std::string figures;
  if (total > 0) {
    int filled = static_cast<int>(kWidth * done / total);
    bar = std::string(filled, '#') + std::string(kWidth - filled, '.');
    figures = std::to_string(100 * done / total) + "%  " + amount(phase, done) + " of " + amount(phase, total);
  } else {
    bar = std::string(kWidth, '?');
    figures = amount(phase, done);
  }
  std::fprintf(out_, "\r\033[K%-5s [%s] %s", phase_name(phase), bar.c_str(), figures.c_str());
  std::fflush(out_);
  bar_shown_ = true;
}

void ProgressDisplay::print_line(int phase, sqlite3_int64 done, sqlite3_int64 total) {
  // One line per finished transfer or apply; repeats and empty steps say nothing.
  if (total <= 0 || done != total) return;
  if (phase == last_phase_ && done == last_done_ && total == last_total_) return;
  last_phase_ = phase;
  last_done_ = done;
  last_total_ = total;
  std::fprintf(out_, "%s: %lld %s\n", phase_name(phase), static_cast<long long>(done), unit(phase));
  std::fflush(out_);
}

void ProgressDisplay::clear() {
  if (!bar_shown_) return;
  std::fprintf(out_, "\r\033[K");
  std::fflush(out_);
  bar_shown_ = false;
  last_phase_ = 0;
}

}  // namespace zumero::cli
