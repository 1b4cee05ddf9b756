// Counts what a push does for the metrics, passing every event on to the observer
// that checks permissions. The counts reach Metrics only when the push commits
// (commit()), so a push rolled back counts no rows; a conflict whose rule rejects the
// package is counted at once, since it is what ends the push.
#pragma once

#include "server/metrics.h"
#include "server/push_apply.h"

namespace zumero::server {

class PushMeter final : public PushObserver {
public:
  PushMeter(PushObserver &next, Metrics &metrics) : next_(next), metrics_(metrics) {}

  void schema_entry(const sync::SchemaEntry &entry) override { next_.schema_entry(entry); }
  void row(const std::string &table, RowChange change) override {
    next_.row(table, change);
    ++counts_.rows;
  }
  void conflict_decided(const std::string &table, conflict::Situation situation, std::int64_t action) override {
    next_.conflict_decided(table, situation, action);
    if (action == conflict::action::kReject) {
      metrics_.record_rejected_conflict(situation);
      return;
    }
    std::size_t index = static_cast<std::size_t>(situation) - 1;
    std::optional<std::size_t> column = Metrics::conflict_action_index(action);
    if (index < counts_.conflicts.size() && column) ++counts_.conflicts[index][*column];
  }

  // The push committed.
  void commit() { metrics_.record_push(counts_); }

private:
  PushObserver &next_;
  Metrics &metrics_;
  Metrics::PushCounts counts_;
};

}  // namespace zumero::server
