#include "ext/sync_progress.h"

#include <algorithm>

namespace zumero {

bool SyncProgressReporter::ask(int phase, std::int64_t done, std::int64_t total) {
  return callback_.callback(callback_.context, phase, done, total) == 0;
}

bool SyncProgressReporter::ask_during_transfer(int phase, std::int64_t done, std::int64_t total) {
  constexpr auto kRepeatEvery = std::chrono::milliseconds(250);
  auto now = std::chrono::steady_clock::now();
  Said &last = last_transfer_;
  if (last.phase == phase && last.done == done && last.total == total && now - last.when < kRepeatEvery) return true;
  last = {phase, done, total, now};
  return ask(phase, done, total);
}

void SyncProgressReporter::report(int phase, std::int64_t done, std::int64_t total) {
  if (active() && !ask(phase, done, total)) throw Cancelled();
}

void SyncProgressReporter::begin_push(const std::vector<std::string> &parts) {
  push_total_ = 0;
  for (const std::string &part : parts) push_total_ += static_cast<std::int64_t>(part.size());
  push_done_ = 0;
  report(ZUMERO_PROGRESS_PUSH, 0, push_total_);
}

TransferProgress SyncProgressReporter::push_part(std::int64_t part_bytes) {
  if (!active()) return TransferProgress();
  std::int64_t before = push_done_;
  return [this, before, part_bytes](const TransferBytes &bytes) {
    // The body travels compressed: its share sent stands for the same share of the part.
    std::int64_t share = bytes.send_total > 0 ? part_bytes * std::min(bytes.sent, bytes.send_total) / bytes.send_total : 0;
    return ask_during_transfer(ZUMERO_PROGRESS_PUSH, before + share, push_total_);
  };
}

void SyncProgressReporter::part_sent(std::int64_t part_bytes) {
  push_done_ = std::min(push_total_, push_done_ + part_bytes);
  report(ZUMERO_PROGRESS_PUSH, push_done_, push_total_);
}

TransferProgress SyncProgressReporter::pull_transfer() {
  if (!active()) return TransferProgress();
  report(ZUMERO_PROGRESS_PULL, 0, -1);
  return [this](const TransferBytes &bytes) {
    return ask_during_transfer(ZUMERO_PROGRESS_PULL, bytes.received, bytes.receive_total);
  };
}

void SyncProgressReporter::pull_received(std::int64_t bytes) { report(ZUMERO_PROGRESS_PULL, bytes, bytes); }

void SyncProgressReporter::expect(std::int64_t rows) {
  rows_total_ += rows;
  rows_reported_ = rows_done_;
  report(ZUMERO_PROGRESS_APPLY, rows_done_, rows_total_);
}

void SyncProgressReporter::row_done() {
  ++rows_done_;
  if (rows_done_ - rows_reported_ < kRowsPerReport) return;
  rows_reported_ = rows_done_;
  report(ZUMERO_PROGRESS_APPLY, rows_done_, std::max(rows_total_, rows_done_));
}

void SyncProgressReporter::apply_finished() {
  if (rows_reported_ == rows_done_) return;  // said already
  rows_reported_ = rows_done_;
  report(ZUMERO_PROGRESS_APPLY, rows_done_, std::max(rows_total_, rows_done_));
}

ApplyProgressScope::ApplyProgressScope(ConnectionState &connection, SyncProgressReporter &reporter)
    : connection_(connection), saved_(connection.apply_progress) {
  if (reporter.active()) connection_.apply_progress = &reporter;
}

ApplyProgressScope::~ApplyProgressScope() { connection_.apply_progress = saved_; }

}  // namespace zumero
