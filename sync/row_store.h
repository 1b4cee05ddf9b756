// Row-level access to one zumero table for sync, shared by client and server:
// reading current states, writing states that come from (or are decided by) the
// server, the version table z$rv$T, and history. Writes here bypass the module on
// purpose: they are not local changes.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/column_parser.h"
#include "base/sql.h"
#include "sync/package.h"

namespace zumero::sync {

struct VersionInfo {
  std::int64_t rv = 0;
  bool deleted = false;
};

class RowStore {
public:
  RowStore(sqlite3 *db, std::string schema, std::string name);

  // The table's name as the catalog spells it.
  const std::string &name() const { return name_; }
  const TableDefinition &definition() const { return definition_; }
  const std::vector<std::string> &column_names() const { return columns_; }

  std::optional<Row> live_row(std::int64_t recid);
  // Calls emit with the state of every recid in [first, last]: live rows, the others
  // deleted, in ascending order.
  void read_range(std::int64_t first, std::int64_t last, const std::function<void(RowState &)> &emit);
  std::optional<VersionInfo> version(std::int64_t recid);
  // The row as it was before the first local transaction newer than txid changed it,
  // from local history (nothing when that transaction inserted it, or history was purged).
  std::optional<Row> local_version_before(std::int64_t recid, std::int64_t txid);
  void set_version(std::int64_t recid, std::int64_t rv, bool deleted);
  // Every recid in [first, last] now has version rv: live rows as live, others deleted.
  void set_version_range(std::int64_t first, std::int64_t last, std::int64_t rv);
  std::int64_t max_recid();
  bool recid_taken(std::int64_t recid);

  void delete_live(std::int64_t recid);
  // values has one entry per column of the table.
  void insert_live(std::int64_t recid, const Row &values);
  // values has one entry per name in columns (a subset of the table's, in any order);
  // the table's other columns take their DEFAULT.
  void insert_live_named(std::int64_t recid, const std::vector<int> &table_columns, const Row &values);
  // Copies the live version to history as ended at end_rv (server side).
  void archive_live(std::int64_t recid, std::int64_t rv, std::int64_t end_rv, bool deleted);
  void insert_history(const RowState &entry, const std::vector<int> &table_columns);

  // The state of recid as of server version at: a live row with the version that
  // produced it, a deletion, or nothing when the row did not exist yet.
  std::optional<RowState> state_as_of(std::int64_t recid, std::int64_t at);

  // Maps the column names of a package section to this table's columns; throws
  // zumero:invalid_argument for an unknown or repeated name.
  std::vector<int> map_columns(const std::vector<std::string> &names) const;

  // Server indexes that make pulls and as-of lookups O(changes).
  void ensure_server_indexes();

  // The statement cached under key; make_sql builds its SQL the first time only.
  template <typename MakeSql>
  Statement &statement(const std::string &key, MakeSql &&make_sql) {
    auto found = statements_.find(key);
    if (found != statements_.end()) return found->second;
    return statements_.emplace(key, Statement(db_, make_sql(), true)).first->second;
  }

private:
  sqlite3 *db_;
  std::string schema_;
  std::string name_;
  TableDefinition definition_;
  std::vector<std::string> columns_;
  std::string live_;
  std::string history_;
  std::string versions_;
  std::map<std::string, Statement> statements_;
};

}  // namespace zumero::sync
