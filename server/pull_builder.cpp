#include "server/pull_builder.h"

#include "base/catalog.h"
#include "base/sql.h"
#include "base/table_definition.h"
#include "sync/row_store.h"

namespace zumero::server {
namespace {

using sync::PackageWriter;
using sync::RowState;
using sync::RowStore;
using sync::Value;

// The dbfile's tables that exist at version `target`, in the order they were created.
std::vector<std::string> tables_at(sqlite3 *db, std::int64_t target) {
  std::vector<std::string> names;
  Statement select(db, "SELECT tbl FROM \"t$schema\" WHERE kind = 'create_table' AND rv <= ?1 ORDER BY seq");
  select.bind(1, target);
  while (select.step()) names.push_back(select.column_text(0));
  return names;
}

bool has_index(sqlite3 *db, const std::string &name) {
  Statement select(db, "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?1");
  select.bind(1, name);
  return select.step();
}

class PullBuilder {
public:
  PullBuilder(sqlite3 *db, const PullRequest &request, std::int64_t target)
      : db_(db), request_(request), target_(target) {}

  PullResult run() {
    PullResult result;
    result.target = target_;
    const PullCursor &cursor = request_.cursor;
    if (cursor.phase == 0) add_schema();
    std::vector<std::string> tables = tables_at(db_, target_);
    for (int phase = std::max(cursor.phase, 1); phase <= 2; ++phase) {
      if (phase == 2 && !request_.history) break;
      std::int64_t first = phase == cursor.phase ? cursor.table : 0;
      for (std::int64_t t = first; t < static_cast<std::int64_t>(tables.size()); ++t) {
        std::optional<std::int64_t> after = (phase == cursor.phase && t == cursor.table) ? cursor.after : std::nullopt;
        std::optional<std::int64_t> last = phase == 1 ? add_rows(tables[t], after) : add_history(tables[t], after);
        if (last) {
          result.partial = true;
          result.next = PullCursor{phase, t, last};
          result.package = writer_.take();
          result.rows = rows_;
          return result;
        }
      }
    }
    result.package = writer_.take();
    result.rows = rows_;
    return result;
  }

private:
  void add_schema() {
    Statement select(db_, "SELECT seq, rv, kind, coalesce(tbl, ''), detail FROM \"t$schema\" "
                          "WHERE rv > ?1 AND rv <= ?2 ORDER BY seq");
    select.bind(1, request_.base).bind(2, target_);
    while (select.step())
      writer_.schema({select.column_int(0), select.column_int(1), select.column_text(2), select.column_text(3),
                      select.column_text(4)});
  }

  bool full() const { return writer_.size() >= request_.chunk_bytes; }

  // Adds changed rows of table after identity `after`; returns the last identity added
  // when the part is full and more may follow.
  std::optional<std::int64_t> add_rows(const std::string &table, std::optional<std::int64_t> after) {
    RowStore store(db_, "main", table);
    std::string index = "z$rv$" + store.name() + "$rv";
    // Rows last changed by the client's own version are skipped inside the index scan.
    Statement select(db_, "SELECT z_recid FROM " + qualified("main", version_table_name(store.name())) +
                              (has_index(db_, index) ? " INDEXED BY " + quote_identifier(index) : std::string()) +
                              " WHERE z_rv > ?1 AND z_rv <> ?3 AND (?2 IS NULL OR z_recid > ?2) ORDER BY z_recid");
    select.bind(1, request_.base).bind(3, request_.exclude);
    if (after) select.bind(2, *after);
    bool opened = false;
    while (select.step()) {
      std::int64_t recid = select.column_int(0);
      std::optional<RowState> state = store.state_as_of(recid, target_);
      if (!state || state->rv <= request_.base || state->rv == request_.exclude) continue;
      if (!opened) writer_.begin_table(store.name(), store.column_names());
      opened = true;
      writer_.row(*state);
      ++rows_;
      if (full()) return select.step() ? std::optional<std::int64_t>(recid) : std::nullopt;
    }
    return std::nullopt;
  }

  std::optional<std::int64_t> add_history(const std::string &table, std::optional<std::int64_t> after) {
    RowStore store(db_, "main", table);
    int count = static_cast<int>(store.column_names().size());
    std::string index = "z$old$" + store.name() + "$end";
    Statement select(db_, "SELECT " + column_list(store.definition()) +
                              ", z_recid, z_rv, z_end_rv, z_deleted, rowid FROM " +
                              qualified("main", history_table_name(store.name())) +
                              (has_index(db_, index) ? " INDEXED BY " + quote_identifier(index) : std::string()) +
                              " WHERE z_end_rv > ?1 AND z_end_rv <= ?2 AND z_end_rv <> ?3 AND (?4 IS NULL OR rowid > ?4)"
                              " ORDER BY rowid");
    select.bind(1, request_.base).bind(2, target_).bind(3, request_.exclude);
    if (after) select.bind(4, *after);
    bool opened = false;
    RowState entry;
    entry.kind = RowState::History;
    while (select.step()) {
      entry.values.clear();
      for (int i = 0; i < count; ++i) entry.values.push_back(Value::from_column(select.get(), i));
      entry.recid = select.column_int(count);
      entry.rv = select.column_int(count + 1);
      entry.end_rv = select.column_int(count + 2);
      entry.deleted_after = select.column_int(count + 3) != 0;
      std::int64_t position = select.column_int(count + 4);
      if (!opened) writer_.begin_table(store.name(), store.column_names());
      opened = true;
      writer_.row(entry);
      if (full()) return select.step() ? std::optional<std::int64_t>(position) : std::nullopt;
    }
    return std::nullopt;
  }

  sqlite3 *db_;
  const PullRequest &request_;
  std::int64_t target_;
  PackageWriter writer_;
  std::size_t rows_ = 0;
};

}  // namespace

PullResult build_pull(sqlite3 *db, const PullRequest &request, std::int64_t current_version) {
  std::int64_t target = request.target ? std::min(request.target, current_version) : current_version;
  return PullBuilder(db, request, target).run();
}

nlohmann::json cursor_json(const PullCursor &cursor) {
  nlohmann::json json = {{"phase", cursor.phase}, {"table", cursor.table}};
  json["after"] = cursor.after ? nlohmann::json(*cursor.after) : nlohmann::json(nullptr);
  return json;
}

PullCursor parse_cursor(const nlohmann::json &json) {
  PullCursor cursor;
  if (json.is_null()) return cursor;
  if (!json.is_object() || json.size() != 3) fail("invalid_argument");
  const auto phase = json.find("phase");
  const auto table = json.find("table");
  const auto after = json.find("after");
  if (phase == json.end() || table == json.end() || after == json.end()) fail("invalid_argument");
  if (!phase->is_number_integer() || !table->is_number_integer()) fail("invalid_argument");
  std::int64_t phase_number = phase->get<std::int64_t>();
  std::int64_t table_number = table->get<std::int64_t>();
  if (phase_number < 1 || phase_number > 2 || table_number < 0 || table_number > INT32_MAX) fail("invalid_argument");
  cursor.phase = static_cast<int>(phase_number);
  cursor.table = table_number;
  if (!after->is_null()) {
    if (!after->is_number_integer()) fail("invalid_argument");
    if (after->is_number_unsigned() && after->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
      fail("invalid_argument");
    cursor.after = after->get<std::int64_t>();
  }
  return cursor;
}

}  // namespace zumero::server
