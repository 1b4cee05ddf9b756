#include "base/connection_state.h"

#include <algorithm>
#include <ctime>
#include <mutex>

#include "base/table_definition.h"

namespace zumero {

std::int64_t ChangeLedger::txid(sqlite3 *db, const std::string &schema) {
  if (txid_) return txid_;
  std::int64_t highest = query_int(db, "SELECT coalesce(max(txid), 0) FROM " + quote_identifier(schema) + ".\"t$tx\"");
  if (highest == INT64_MAX) fail("invalid_argument", SQLITE_FULL);
  txid_ = highest + 1;
  return txid_;
}

void ChangeLedger::note_range(const std::string &table, std::int64_t first, std::int64_t last) {
  foreign_keys_checked_ = false;
  touched_.insert(table);
  if (!pending_.empty()) {
    Range &back = pending_.back();
    // Sequential inserts extend the last range: a bulk insert costs one t$dirty row.
    if (iequals(back.table, table) && first >= back.first && last <= back.last) return;
    if (iequals(back.table, table) && back.last != INT64_MAX && first == back.last + 1 && last >= first) {
      back.last = last;
      return;
    }
  }
  pending_.push_back({table, first, last});
}

void ChangeLedger::savepoint(int level) {
  // A table joining the transaction late is told about savepoints opened before; the
  // first mark for a level is the one taken when the savepoint really opened.
  marks_.emplace(level, pending_.size());
}

void ChangeLedger::release(int level) { marks_.erase(marks_.lower_bound(level), marks_.end()); }

void ChangeLedger::rollback_to(int level) {
  auto mark = marks_.find(level);
  // Ranges flushed since the mark are undone by SQLite itself (they are rows of the
  // same transaction); only what is still in memory needs forgetting.
  if (mark != marks_.end() && mark->second < pending_.size()) pending_.resize(mark->second);
  marks_.erase(marks_.upper_bound(level), marks_.end());
  next_recid_.clear();  // identities handed out after the mark may be free again
}

void ChangeLedger::flush(sqlite3 *db, const std::string &schema) {
  if (!txid_) return;
  // Housekeeping writes must not change what the application sees as its last rowid.
  sqlite3_int64 last_rowid = sqlite3_last_insert_rowid(db);
  std::string prefix = quote_identifier(schema) + ".";
  Statement tx(db, "INSERT OR IGNORE INTO " + prefix + "\"t$tx\" (txid, unix_time) VALUES (?1, ?2)");
  tx.bind(1, txid_).bind(2, static_cast<std::int64_t>(std::time(nullptr))).run();
  if (!pending_.empty()) {
    // Sorted as plain numbers (a table's place among the names, first, last): sorting
    // the ranges themselves, with their names, costs more than writing them.
    NameMap<int> table_ids;
    for (const Range &range : pending_) table_ids.emplace(range.table, 0);
    std::vector<const std::string *> names;
    for (auto &entry : table_ids) {
      entry.second = static_cast<int>(names.size());
      names.push_back(&entry.first);
    }
    struct Span {
      int table;
      std::int64_t first;
      std::int64_t last;
    };
    std::vector<Span> spans;
    spans.reserve(pending_.size());
    const std::string *last_name = nullptr;
    int last_id = 0;
    for (const Range &range : pending_) {
      if (!last_name || *last_name != range.table) {
        last_id = table_ids.find(range.table)->second;
        last_name = &range.table;
      }
      spans.push_back({last_id, range.first, range.last});
    }
    std::sort(spans.begin(), spans.end(), [](const Span &a, const Span &b) {
      return a.table != b.table ? a.table < b.table : a.first < b.first;
    });
    Statement dirty(db, "INSERT INTO " + prefix + "\"t$dirty\" (tbl, first, last, txid) VALUES (?1, ?2, ?3, ?4)");
    for (size_t i = 0; i < spans.size();) {
      Span merged = spans[i++];
      while (i < spans.size() && spans[i].table == merged.table &&
             (merged.last == INT64_MAX || spans[i].first <= merged.last + 1)) {
        merged.last = std::max(merged.last, spans[i].last);
        ++i;
      }
      const std::string &table = *names[static_cast<size_t>(merged.table)];
      dirty.bind(1, table).bind(2, merged.first).bind(3, merged.last).bind(4, txid_).run();
      flushed_.push_back({table, merged.first, merged.last});
    }
    pending_.clear();
  }
  for (auto &mark : marks_) mark.second = 0;
  sqlite3_set_last_insert_rowid(db, last_rowid);
}

void ChangeLedger::end() {
  txid_ = 0;
  pending_.clear();
  flushed_.clear();
  foreign_keys_checked_ = false;
  touched_.clear();
  marks_.clear();
  next_recid_.clear();
}

const std::vector<RowRange> &ChangeLedger::changed_ranges(std::vector<RowRange> &scratch) const {
  if (flushed_.empty()) return pending_;
  if (pending_.empty()) return flushed_;
  scratch = flushed_;
  scratch.insert(scratch.end(), pending_.begin(), pending_.end());
  return scratch;
}

std::vector<std::string> ChangeLedger::changed_tables() const {
  return std::vector<std::string>(touched_.begin(), touched_.end());
}

std::int64_t random_unused_recid(sqlite3 *db, const std::string &schema, const std::string &table) {
  Statement used(db, "SELECT (SELECT count(*) FROM " + qualified(schema, live_table_name(table)) +
                         " WHERE rowid = ?1) + (SELECT count(*) FROM " + qualified(schema, version_table_name(table)) +
                         " WHERE z_recid = ?1)");
  for (int attempt = 0; attempt < 1000; ++attempt) {
    std::int64_t candidate = 0;
    sqlite3_randomness(sizeof candidate, &candidate);
    candidate &= INT64_MAX;
    if (candidate == 0) continue;
    used.bind(1, candidate);
    bool taken = used.step() && used.column_int(0) > 0;
    used.reset();
    if (!taken) return candidate;
  }
  fail("invalid_argument", SQLITE_FULL);  // as SQLite's SQLITE_FULL for an exhausted rowid space
}

std::int64_t ChangeLedger::allocate_recid(sqlite3 *db, const std::string &schema, const std::string &table) {
  auto found = next_recid_.find(table);
  if (found == next_recid_.end()) {
    std::int64_t highest = query_int(db, highest_recid_sql(schema, table));
    NextRecid next;
    if (highest != INT64_MAX) next.next = highest + 1;
    found = next_recid_.emplace(table, next).first;
  }
  if (!found->second.next) return random_unused_recid(db, schema, table);
  std::int64_t recid = *found->second.next;
  if (recid == INT64_MAX) found->second.next.reset();
  else found->second.next = recid + 1;
  return recid;
}

void ChangeLedger::used_recid(const std::string &table, std::int64_t recid) {
  auto found = next_recid_.find(table);
  if (found == next_recid_.end() || !found->second.next) return;
  if (recid < *found->second.next) return;
  if (recid == INT64_MAX) found->second.next.reset();
  else found->second.next = recid + 1;
}

// ---- connection registry -------------------------------------------------------

namespace {
std::mutex registry_mutex;
std::map<sqlite3 *, std::weak_ptr<ConnectionState>> &registry() {
  static std::map<sqlite3 *, std::weak_ptr<ConnectionState>> states;
  return states;
}
}  // namespace

ConnectionState::~ConnectionState() {
  std::lock_guard<std::mutex> lock(registry_mutex);
  auto found = registry().find(db_);
  if (found != registry().end() && found->second.expired()) registry().erase(found);
}

std::shared_ptr<ConnectionState> ConnectionState::find(sqlite3 *db) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  auto found = registry().find(db);
  return found == registry().end() ? nullptr : found->second.lock();
}

std::shared_ptr<ConnectionState> ConnectionState::create(sqlite3 *db) {
  auto state = std::make_shared<ConnectionState>(db);
  std::lock_guard<std::mutex> lock(registry_mutex);
  registry()[db] = state;
  return state;
}

void *ConnectionState::new_handle(const std::shared_ptr<ConnectionState> &state) {
  return new std::shared_ptr<ConnectionState>(state);
}

void ConnectionState::release_handle(void *handle) { delete static_cast<std::shared_ptr<ConnectionState> *>(handle); }

ConnectionState &ConnectionState::from_handle(void *handle) {
  return **static_cast<std::shared_ptr<ConnectionState> *>(handle);
}

}  // namespace zumero
