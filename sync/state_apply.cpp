#include "sync/state_apply.h"

#include <memory>
#include <set>

#include "base/catalog.h"
#include "base/sql.h"
#include "base/table_definition.h"
#include "sync/package.h"
#include "sync/row_store.h"
#include "sync/schema_apply.h"

namespace zumero::sync {
namespace {

using Key = std::pair<std::string, std::int64_t>;

struct KeyLess {
  bool operator()(const Key &a, const Key &b) const {
    int order = compare_names(a.first, b.first);
    return order != 0 ? order < 0 : a.second < b.second;
  }
};

class ChangeApplier {
public:
  ChangeApplier(sqlite3 *db, ConnectionState &connection, const std::string &schema,
                const std::vector<std::string> &packages, bool first_is_reply, std::int64_t exclude)
      : db_(db), connection_(connection), schema_(schema), packages_(packages), has_reply_(first_is_reply),
        exclude_(exclude) {}

  Renumbered run() {
    apply_schema();
    find_overridden_reply_rows();
    for (size_t i = 0; i < packages_.size(); ++i) remove_rows(packages_[i]);
    if (RowProgress *progress = connection_.apply_progress) progress->expect(rows_to_write_);
    for (size_t i = 0; i < packages_.size(); ++i) write_rows(packages_[i], has_reply_ && i == 0);
    return std::move(renumbered_);
  }

private:
  RowStore &store(const std::string &table) {
    auto found = stores_.find(table);
    if (found != stores_.end()) return *found->second;
    if (!stored_table_name(db_, schema_, table)) fail("invalid_argument");
    return *stores_.emplace(table, std::make_unique<RowStore>(db_, schema_, table)).first->second;
  }

  void apply_schema() {
    for (const std::string &package : packages_) {
      PackageReader reader(package);
      for (auto section = reader.next(); section != PackageReader::Section::End; section = reader.next()) {
        if (section != PackageReader::Section::Schema) continue;
        const SchemaEntry &entry = reader.schema();
        if (entry.seq <= 0 || entry.rv <= 0) fail("invalid_argument");
        if (schema_entry_known(db_, schema_, entry.seq)) continue;
        apply_schema_entry(db_, connection_, schema_, entry, entry.rv, entry.seq);
        stores_.clear();  // a table may have changed shape
      }
    }
  }

  // A row the reply describes and a pull part describes again: the pull is newer.
  void find_overridden_reply_rows() {
    if (!has_reply_ || packages_.size() < 2) return;
    std::set<Key, KeyLess> in_reply;
    each_row(packages_[0], [&](const std::string &table, const std::vector<int> &, RowState &row) {
      in_reply.insert({table, row.recid});
    });
    if (in_reply.empty()) return;
    for (size_t i = 1; i < packages_.size(); ++i)
      each_row(packages_[i], [&](const std::string &table, const std::vector<int> &, RowState &row) {
        if (row.kind != RowState::History && in_reply.count({table, row.recid})) overridden_.insert({table, row.recid});
      });
  }

  template <typename Visit>
  void each_row(const std::string &package, Visit &&visit) {
    PackageReader reader(package);
    for (auto section = reader.next(); section != PackageReader::Section::End; section = reader.next()) {
      if (section != PackageReader::Section::Table) continue;
      RowStore &rows = store(reader.table());
      std::vector<int> columns = rows.map_columns(reader.columns());
      RowState row;
      while (reader.next_row(row)) {
        if (row.restored()) fail("invalid_argument");
        visit(rows.name(), columns, row);
      }
    }
  }

  // The identities table held before anything was removed: a row outside them is not
  // there to remove (a new client pulling a dbfile removes nothing). Removing rows
  // keeps the bounds true.
  struct Bounds {
    std::int64_t lowest = 0;
    std::int64_t highest = -1;  // empty when below lowest
  };
  bool might_hold(RowStore &rows, std::int64_t recid) {
    auto found = bounds_.find(rows.name());
    if (found == bounds_.end()) {
      Bounds bounds;
      Statement range(db_, "SELECT min(rowid), max(rowid) FROM " + qualified(schema_, live_table_name(rows.name())));
      if (range.step() && !range.is_null(0)) bounds = {range.column_int(0), range.column_int(1)};
      found = bounds_.emplace(rows.name(), bounds).first;
    }
    return recid >= found->second.lowest && recid <= found->second.highest;
  }

  // Every row the server sends a state for goes first, so swapped unique values fit.
  void remove_rows(const std::string &package) {
    each_row(package, [&](const std::string &table, const std::vector<int> &, RowState &row) {
      ++rows_to_write_;
      if (row.kind == RowState::History) return;
      RowStore &rows = store(table);
      if (might_hold(rows, row.recid)) rows.delete_live(row.recid);
    });
    PackageReader reader(package);
    for (auto section = reader.next(); section != PackageReader::Section::End; section = reader.next()) {
      if (section != PackageReader::Section::Renumbered) continue;
      RowStore &rows = store(reader.table());
      Renumbering pair;
      while (reader.next_renumbering(pair)) {
        rows.delete_live(pair.sent);  // the server holds it under another identity now
        renumbered_[rows.name()][pair.sent] = pair.stored;
      }
    }
  }

  void write_rows(const std::string &package, bool reply) {
    PackageReader reader(package);
    for (auto section = reader.next(); section != PackageReader::Section::End; section = reader.next()) {
      if (section == PackageReader::Section::Table) {
        RowStore &rows = store(reader.table());
        std::vector<int> columns = rows.map_columns(reader.columns());
        RowState row;
        while (reader.next_row(row)) {
          write_row(rows, columns, row, reply);
          if (RowProgress *progress = connection_.apply_progress) progress->row_done();
        }
      } else if (section == PackageReader::Section::Echoed) {
        if (!reply) fail("invalid_argument");
        RowStore &rows = store(reader.table());
        IdRange range;
        while (reader.next_range(range)) rows.set_version_range(range.first, range.last, exclude_);
      }
    }
  }

  void write_row(RowStore &rows, const std::vector<int> &columns, const RowState &row, bool reply) {
    if (row.kind == RowState::History) {
      if (reply) fail("invalid_argument");
      rows.insert_history(row, columns);
      return;
    }
    if (reply && overridden_.count({rows.name(), row.recid})) return;
    if (row.kind == RowState::Live) {
      insert_replacing_earlier(rows, columns, row);
    } else if (wrote_any_) {
      rows.delete_live(row.recid);  // a state an earlier package may have written
    }
    rows.set_version(row.recid, row.rv, row.kind == RowState::Deleted);
  }

  // Every row the packages describe was removed first, so the identity is free unless
  // an earlier package of this apply wrote it: then that state gives way.
  void insert_replacing_earlier(RowStore &rows, const std::vector<int> &columns, const RowState &row) {
    wrote_any_ = true;
    try {
      rows.insert_live_named(row.recid, columns, row.values);
      return;
    } catch (const Error &error) {
      if ((error.code() & 0xff) != SQLITE_CONSTRAINT || !rows.live_row(row.recid)) throw;
    }
    rows.delete_live(row.recid);
    rows.insert_live_named(row.recid, columns, row.values);
  }

  sqlite3 *db_;
  ConnectionState &connection_;
  const std::string &schema_;
  const std::vector<std::string> &packages_;
  bool has_reply_;
  std::int64_t exclude_;
  NameMap<std::unique_ptr<RowStore>> stores_;
  NameMap<Bounds> bounds_;
  bool wrote_any_ = false;
  std::set<Key, KeyLess> overridden_;
  Renumbered renumbered_;
  std::int64_t rows_to_write_ = 0;  // every row state and history entry of the packages
};

}  // namespace

Renumbered apply_server_changes(sqlite3 *db, ConnectionState &connection, const std::string &schema,
                                const std::vector<std::string> &packages, bool first_is_reply,
                                std::int64_t exclude) {
  return ChangeApplier(db, connection, schema, packages, first_is_reply, exclude).run();
}

}  // namespace zumero::sync
