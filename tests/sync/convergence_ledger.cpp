#include "convergence_ledger.h"

namespace zumero::convergence {

const char *fate_name(Fate fate) {
  switch (fate) {
    case Fate::pending: return "pending";
    case Fate::pushed: return "pushed";
    case Fate::superseded: return "superseded";
    case Fate::quarantined: return "quarantined";
  }
  return "?";
}

std::string Ledger::next_token(int file) {
  std::lock_guard<std::mutex> guard(mutex_);
  return "c" + std::to_string(file) + "w" + std::to_string(++next_token_[file]);
}

std::int64_t Ledger::take_sequence(int file) {
  auto [slot, inserted] = next_sequence_.emplace(file, 1);
  (void)inserted;
  return slot->second++;
}

void Ledger::committed(int file, const Effects &effects) {
  std::lock_guard<std::mutex> guard(mutex_);
  std::int64_t sequence = take_sequence(file);
  auto supersede = [&](const std::string &tag) {
    auto found = writes_.find(tag);
    if (found == writes_.end()) return;
    auto holding = found->second.holders.find(file);
    if (holding != found->second.holders.end() && holding->second.fate == Fate::pending)
      holding->second.fate = Fate::superseded;
  };
  for (const Effects::Entry &entry : effects.entries) {
    switch (entry.kind) {
      case Effects::replaced: supersede(entry.tag); break;
      case Effects::removed: {
        supersede(entry.tag);
        Deletion deletion{entry.table, entry.tag, file, {}};
        deletion.holders[file] = Holding{Fate::pending, sequence, 0};
        deletions_.push_back(std::move(deletion));
        break;
      }
      case Effects::written: {
        Write &write = writes_[entry.tag];
        write.table = entry.table;
        write.token = entry.tag;
        write.writer = file;
        write.holders[file] = Holding{Fate::pending, sequence, 0};
        break;
      }
    }
  }
}

std::int64_t Ledger::sync_starting(int file) {
  std::lock_guard<std::mutex> guard(mutex_);
  auto [slot, inserted] = next_sequence_.emplace(file, 1);
  (void)inserted;
  return slot->second;
}

namespace {

template <typename Each>
void for_each_holding(std::map<std::string, Write> &writes, std::vector<Deletion> &deletions, int file, Each each) {
  for (auto &entry : writes) {
    auto holding = entry.second.holders.find(file);
    if (holding != entry.second.holders.end()) each(entry.second.table, entry.second.token, holding->second, true);
  }
  for (Deletion &deletion : deletions) {
    auto holding = deletion.holders.find(file);
    if (holding != deletion.holders.end()) each(deletion.table, deletion.tag, holding->second, false);
  }
}

}  // namespace

void Ledger::sync_completed(int file, std::int64_t started) {
  std::lock_guard<std::mutex> guard(mutex_);
  for_each_holding(writes_, deletions_, file, [&](const std::string &, const std::string &, Holding &holding, bool) {
    if (holding.fate == Fate::pending && holding.sequence < started) holding.fate = Fate::pushed;
  });
}

void Ledger::quarantined_all(int file, std::int64_t qid) {
  std::lock_guard<std::mutex> guard(mutex_);
  for_each_holding(writes_, deletions_, file, [&](const std::string &, const std::string &, Holding &holding, bool) {
    if (holding.fate != Fate::pending) return;
    holding.fate = Fate::quarantined;
    holding.qid = qid;
  });
}

void Ledger::quarantined_since(int file, std::int64_t started, std::int64_t qid,
                               const std::function<bool(const std::string &)> &in_package,
                               const std::function<bool(const std::string &, const std::string &)> &undone) {
  std::lock_guard<std::mutex> guard(mutex_);
  for_each_holding(writes_, deletions_, file,
                   [&](const std::string &table, const std::string &tag, Holding &holding, bool is_write) {
                     if (holding.fate != Fate::pending || holding.sequence < started) return;
                     if (is_write ? !in_package(tag) : !undone(table, tag)) return;
                     holding.fate = Fate::quarantined;
                     holding.qid = qid;
                   });
}

void Ledger::restored(int file, std::int64_t qid) {
  std::lock_guard<std::mutex> guard(mutex_);
  std::int64_t sequence = take_sequence(file);
  for_each_holding(writes_, deletions_, file, [&](const std::string &, const std::string &, Holding &holding, bool) {
    if (holding.fate == Fate::quarantined && holding.qid == qid) holding = Holding{Fate::pending, sequence, 0};
  });
}

void Ledger::copied(int from, int to) {
  std::lock_guard<std::mutex> guard(mutex_);
  // Sequence 0: older than anything the copy commits, so its first sync pushes it.
  auto copy = [&](std::map<int, Holding> &holders) {
    auto source = holders.find(from);
    if (source == holders.end()) return false;
    if (source->second.fate != Fate::pending && source->second.fate != Fate::quarantined) return false;
    holders[to] = Holding{source->second.fate, 0, source->second.qid};
    return true;
  };
  for (auto &entry : writes_)
    if (copy(entry.second.holders)) entry.second.duplicated = true;
  for (Deletion &deletion : deletions_) copy(deletion.holders);
}

std::vector<Write> Ledger::writes() const {
  std::lock_guard<std::mutex> guard(mutex_);
  std::vector<Write> all;
  for (const auto &entry : writes_) all.push_back(entry.second);
  return all;
}

std::vector<Deletion> Ledger::deletions() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return deletions_;
}

}  // namespace zumero::convergence
