// A sync's progress, reported to the application's callback (zumero_sync_progress): the
// bytes of the push sent, the bytes of the pull received, the rows applied. A non-zero
// answer of the callback becomes Cancelled (zumero:cancelled). Without a callback
// nothing is reported and nothing costs more than a test of a pointer.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "base/connection_state.h"
#include "base/progress.h"
#include "sync/http_client.h"
#include "ext/zumero_register.h"

namespace zumero {

class SyncProgressReporter : public RowProgress {
public:
  explicit SyncProgressReporter(const ConnectionState::ProgressCallback &callback) : callback_(callback) {}

  bool active() const { return callback_.callback != nullptr; }
  // One report; throws Cancelled when the callback answers non-zero.
  void report(int phase, std::int64_t done, std::int64_t total);

  // Push: counted in bytes of the package (before compression), so the total is known
  // from the start. begin_push() before the first part is sent, push_part() for the
  // transfer of each part, part_sent() once the server answered it.
  void begin_push(const std::vector<std::string> &parts);
  TransferProgress push_part(std::int64_t part_bytes);
  void part_sent(std::int64_t part_bytes);

  // Pull: bytes of the reply as they arrive; the total is the reply's length when the
  // server announced it. pull_received() reports the end of each reply.
  TransferProgress pull_transfer();
  void pull_received(std::int64_t bytes);

  // Apply: rows written (RowProgress), reported every kRowsPerReport rows and at the end.
  void expect(std::int64_t rows) override;
  void row_done() override;
  void apply_finished();

  static constexpr std::int64_t kRowsPerReport = 256;

private:
  bool ask(int phase, std::int64_t done, std::int64_t total);
  // From a transfer: libcurl calls often, with the same figures while nothing moves. A
  // repeat is passed on only now and then, so a stalled transfer can still be cancelled.
  bool ask_during_transfer(int phase, std::int64_t done, std::int64_t total);

  ConnectionState::ProgressCallback callback_;
  std::int64_t push_total_ = 0;
  std::int64_t push_done_ = 0;
  std::int64_t rows_total_ = 0;
  std::int64_t rows_done_ = 0;
  std::int64_t rows_reported_ = -1;
  struct Said {
    int phase = 0;
    std::int64_t done = -1;
    std::int64_t total = -1;
    std::chrono::steady_clock::time_point when;
  } last_transfer_;
};

// Makes a connection tell the reporter about the rows a sync applies, for as long as
// it lives.
class ApplyProgressScope {
public:
  ApplyProgressScope(ConnectionState &connection, SyncProgressReporter &reporter);
  ~ApplyProgressScope();
  ApplyProgressScope(const ApplyProgressScope &) = delete;
  ApplyProgressScope &operator=(const ApplyProgressScope &) = delete;

private:
  ConnectionState &connection_;
  RowProgress *saved_;
};

}  // namespace zumero
