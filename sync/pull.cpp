#include "sync/pull.h"

#include "sync/row_store.h"
#include "base/catalog.h"
#include "base/table_definition.h"

namespace zumero::sync {
namespace {

std::size_t estimated_size(const RowState &row) {
  std::size_t size = 12;
  for (const Value &value : row.values) size += 2 + value.bytes.size() + (value.type == Value::Real ? 8 : 0);
  return size;
}

class PullBuilder {
public:
  PullBuilder(sqlite3 *db, const PullRequest &request, std::int64_t target)
      : db_(db), request_(request), target_(target) {}

  PullResult run() {
    PullResult result;
    result.target = target_;
    const PullCursor &cursor = request_.cursor;
    if (cursor.phase == 0) add_schema(result.package);
    std::vector<std::string> tables = zumero_table_names(db_, "main");
    for (int phase = std::max(cursor.phase, 1); phase <= 2; ++phase) {
      if (phase == 2 && !request_.history) break;
      for (const std::string &table : tables) {
        if (phase == cursor.phase && table < cursor.table) continue;
        std::int64_t after = (phase == cursor.phase && table == cursor.table) ? cursor.after : 0;
        std::int64_t last = phase == 1 ? add_rows(result.package, table, after) : add_history(result.package, table, after);
        if (last != 0) {
          result.partial = true;
          result.next = PullCursor{phase, table, last};
          return result;
        }
      }
    }
    return result;
  }

private:
  void add_schema(Package &package) {
    Statement select(db_, "SELECT rv, kind, coalesce(tbl, ''), detail FROM \"t$schema\" WHERE rv > ?1 AND rv <= ?2 ORDER BY seq");
    select.bind(1, request_.base).bind(2, target_);
    while (select.step())
      package.schema.push_back({select.column_int(0), select.column_text(1), select.column_text(2), select.column_text(3)});
  }

  bool full() const { return bytes_ >= request_.chunk_bytes; }

  // Adds changed rows of table after recid `after`; returns the last recid added when
  // the part is full (more may follow), else 0.
  std::int64_t add_rows(Package &package, const std::string &table, std::int64_t after) {
    RowStore store(db_, "main", table);
    TableSection section{table, store.column_names(), {}};
    // The version index keeps this proportional to the changes since the base.
    std::string index = "z$rv$" + table + "$rv";
    bool indexed = query_int(db_, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = " +
                                      quote_literal(index)) > 0;
    // Rows last changed by the client's own version are skipped inside the index scan.
    Statement select(db_, "SELECT z_recid FROM " + qualified("main", version_table_name(table)) +
                              (indexed ? " INDEXED BY " + quote_identifier(index) : std::string()) +
                              " WHERE z_rv > ?1 AND z_rv <> ?3 AND z_recid > ?2 ORDER BY z_recid");
    select.bind(1, request_.base).bind(2, after).bind(3, request_.exclude);
    std::int64_t last = 0;
    while (select.step()) {
      std::int64_t recid = select.column_int(0);
      std::optional<RowState> state = store.state_as_of(recid, target_);
      if (!state || state->rv <= request_.base || state->rv == request_.exclude) continue;
      bytes_ += estimated_size(*state);
      section.rows.push_back(std::move(*state));
      last = recid;
      if (full()) break;
    }
    bool more = full() && select.step();
    if (!section.rows.empty()) package.tables.push_back(std::move(section));
    return more ? last : 0;
  }

  std::int64_t add_history(Package &package, const std::string &table, std::int64_t after) {
    RowStore store(db_, "main", table);
    TableSection section{table, store.column_names(), {}};
    std::size_t count = section.columns.size();
    std::string index = "z$old$" + table + "$end";
    bool indexed = query_int(db_, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = " +
                                      quote_literal(index)) > 0;
    Statement select(db_, "SELECT " + column_list(store.definition()) + ", z_recid, z_rv, z_end_rv, z_deleted, rowid FROM " +
                              qualified("main", history_table_name(table)) +
                              (indexed ? " INDEXED BY " + quote_identifier(index) : std::string()) +
                              " WHERE z_end_rv > ?1 AND z_end_rv <= ?2 AND z_end_rv <> ?3 AND rowid > ?4 ORDER BY rowid");
    select.bind(1, request_.base).bind(2, target_).bind(3, request_.exclude).bind(4, after);
    std::int64_t last = 0;
    while (select.step()) {
      RowState entry;
      entry.kind = RowState::History;
      for (std::size_t i = 0; i < count; ++i) entry.values.push_back(Value::from_column(select.get(), static_cast<int>(i)));
      entry.recid = select.column_int(static_cast<int>(count));
      entry.rv = select.column_int(static_cast<int>(count) + 1);
      entry.end_rv = select.column_int(static_cast<int>(count) + 2);
      entry.deleted_after = select.column_int(static_cast<int>(count) + 3) != 0;
      last = select.column_int(static_cast<int>(count) + 4);
      bytes_ += estimated_size(entry);
      section.rows.push_back(std::move(entry));
      if (full()) break;
    }
    bool more = full() && select.step();
    // History rows are ordered by position, not identity: keep the codec's deltas valid.
    if (!section.rows.empty()) package.tables.push_back(std::move(section));
    return more ? last : 0;
  }

  sqlite3 *db_;
  const PullRequest &request_;
  std::int64_t target_;
  std::size_t bytes_ = 0;
};

}  // namespace

PullResult build_pull(sqlite3 *db, const PullRequest &request, std::int64_t current_version) {
  std::int64_t target = request.target ? std::min(request.target, current_version) : current_version;
  return PullBuilder(db, request, target).run();
}

}  // namespace zumero::sync
