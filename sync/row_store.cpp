#include "sync/row_store.h"

#include "base/catalog.h"
#include "base/table_definition.h"

namespace zumero::sync {
namespace {

Row read_row(Statement &select, int first, int count) {
  Row row;
  row.reserve(count);
  for (int i = 0; i < count; ++i) row.push_back(Value::from_column(select.get(), first + i));
  return row;
}

std::string key_of(const std::vector<int> &columns) {
  std::string key;
  for (int column : columns) key += std::to_string(column) + ",";
  return key;
}

}  // namespace

RowStore::RowStore(sqlite3 *db, std::string schema, std::string name) : db_(db), schema_(std::move(schema)) {
  std::optional<std::string> stored = stored_table_name(db_, schema_, name);
  if (!stored) fail("invalid_argument");
  name_ = *stored;
  auto definition = load_table_definition(db_, schema_, name_);
  if (!definition) fail("invalid_argument");
  definition_ = *definition;
  for (const ColumnDefinition &column : definition_.columns) columns_.push_back(column.name);
  live_ = qualified(schema_, live_table_name(name_));
  history_ = qualified(schema_, history_table_name(name_));
  versions_ = qualified(schema_, version_table_name(name_));
}

std::vector<int> RowStore::map_columns(const std::vector<std::string> &names) const {
  std::vector<int> mapped;
  std::vector<bool> used(columns_.size(), false);
  for (const std::string &name : names) {
    int index = definition_.column_index(name);
    if (index < 0 || used[index]) fail("invalid_argument");
    used[index] = true;
    mapped.push_back(index);
  }
  return mapped;
}

std::optional<Row> RowStore::live_row(std::int64_t recid) {
  Statement &select = statement("live", [&] { return "SELECT " + column_list(definition_) + " FROM " + live_ + " WHERE rowid = ?1"; });
  select.bind(1, recid);
  std::optional<Row> row;
  if (select.step()) row = read_row(select, 0, static_cast<int>(columns_.size()));
  select.reset();
  return row;
}

void RowStore::read_range(std::int64_t first, std::int64_t last, const std::function<void(RowState &)> &emit) {
  Statement &select = statement("range", [&] {
    return "SELECT rowid, " + column_list(definition_) + " FROM " + live_ + " WHERE rowid BETWEEN ?1 AND ?2 ORDER BY rowid";
  });
  select.bind(1, first).bind(2, last);
  // Identities in [next, end) have no live row: they were deleted. `done` guards the
  // end of the int64 range, where next cannot move past last.
  std::int64_t next = first;
  bool done = false;
  RowState gone;
  gone.kind = RowState::Deleted;
  auto deleted_before = [&](std::int64_t end) {
    for (; !done && next < end; ++next) {
      gone.recid = next;
      emit(gone);
    }
  };
  const int count = static_cast<int>(columns_.size());
  RowState row;
  row.kind = RowState::Live;
  while (select.step()) {
    std::int64_t recid = select.column_int(0);
    deleted_before(recid);
    row.recid = recid;
    row.values = read_row(select, 1, count);
    emit(row);
    if (recid == last) done = true;
    else next = recid + 1;
  }
  select.reset();
  if (!done) {
    deleted_before(last);
    if (!done) {
      gone.recid = last;
      emit(gone);
    }
  }
}

std::optional<Row> RowStore::local_version_before(std::int64_t recid, std::int64_t txid) {
  Statement &select = statement("before", [&] {
    return "SELECT " + column_list(definition_) + " FROM " + history_ +
           " WHERE z_recid = ?1 AND z_txid > ?2 ORDER BY rowid LIMIT 1";
  });
  select.bind(1, recid).bind(2, txid);
  std::optional<Row> row;
  if (select.step()) row = read_row(select, 0, static_cast<int>(columns_.size()));
  select.reset();
  return row;
}

std::optional<VersionInfo> RowStore::version(std::int64_t recid) {
  Statement &select = statement("version", [&] { return "SELECT z_rv, z_deleted FROM " + versions_ + " WHERE z_recid = ?1"; });
  select.bind(1, recid);
  std::optional<VersionInfo> info;
  if (select.step()) info = VersionInfo{select.column_int(0), select.column_int(1) != 0};
  select.reset();
  return info;
}

void RowStore::set_version(std::int64_t recid, std::int64_t rv, bool deleted) {
  statement("set_version", [&] { return "INSERT OR REPLACE INTO " + versions_ + " (z_recid, z_rv, z_deleted) VALUES (?1, ?2, ?3)"; })
      .bind(1, recid)
      .bind(2, rv)
      .bind(3, static_cast<std::int64_t>(deleted))
      .run();
}

void RowStore::set_version_range(std::int64_t first, std::int64_t last, std::int64_t rv) {
  statement("range_live", [&] { return "INSERT OR REPLACE INTO " + versions_ + " (z_recid, z_rv, z_deleted) SELECT rowid, ?3, 0 FROM " +
                              live_ + " WHERE rowid BETWEEN ?1 AND ?2"; })
      .bind(1, first)
      .bind(2, last)
      .bind(3, rv)
      .run();
  statement("range_gone", [&] { return "UPDATE " + versions_ + " SET z_rv = ?3, z_deleted = 1 WHERE z_recid BETWEEN ?1 AND ?2 AND z_rv <> ?3"; })
      .bind(1, first)
      .bind(2, last)
      .bind(3, rv)
      .run();
}

std::int64_t RowStore::max_recid() { return query_int(db_, highest_recid_sql(schema_, name_)); }

bool RowStore::recid_taken(std::int64_t recid) {
  Statement &select = statement("taken", [&] {
    return "SELECT (SELECT count(*) FROM " + live_ + " WHERE rowid = ?1) + (SELECT count(*) FROM " + versions_ +
           " WHERE z_recid = ?1)";
  });
  select.bind(1, recid);
  bool taken = select.step() && select.column_int(0) > 0;
  select.reset();
  return taken;
}

void RowStore::delete_live(std::int64_t recid) {
  statement("delete", [&] { return "DELETE FROM " + live_ + " WHERE rowid = ?1"; }).bind(1, recid).run();
}

void RowStore::insert_live(std::int64_t recid, const Row &values) {
  std::vector<int> all(columns_.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int>(i);
  insert_live_named(recid, all, values);
}

void RowStore::insert_live_named(std::int64_t recid, const std::vector<int> &table_columns, const Row &values) {
  const int ipk = definition_.integer_primary_key;
  Statement &insert = statement("insert:" + key_of(table_columns), [&] {
    std::string names = "rowid";
    std::string params = "?1";
    for (size_t j = 0; j < table_columns.size(); ++j) {
      if (table_columns[j] == ipk) continue;  // the rowid itself
      names += ", " + quote_identifier(columns_[table_columns[j]]);
      params += ", ?" + std::to_string(j + 2);
    }
    return "INSERT INTO " + live_ + " (" + names + ") VALUES (" + params + ")";
  });
  insert.bind(1, recid);
  for (size_t j = 0; j < table_columns.size() && j < values.size(); ++j)
    if (table_columns[j] != ipk) values[j].bind(insert.get(), static_cast<int>(j) + 2);
  insert.run();
}

void RowStore::archive_live(std::int64_t recid, std::int64_t rv, std::int64_t end_rv, bool deleted) {
  statement("archive", [&] { return "INSERT INTO " + history_ + " (" + column_list(definition_) + ", " + kHistoryColumns +
                           ") SELECT " + column_list(definition_) + ", rowid, ?2, ?3, NULL, ?4 FROM " + live_ +
                           " WHERE rowid = ?1"; })
      .bind(1, recid)
      .bind(2, rv)
      .bind(3, end_rv)
      .bind(4, static_cast<std::int64_t>(deleted))
      .run();
}

void RowStore::insert_history(const RowState &entry, const std::vector<int> &table_columns) {
  Statement &insert = statement("history:" + key_of(table_columns), [&] {
    std::string names, params;
    for (size_t j = 0; j < table_columns.size(); ++j) {
      names += quote_identifier(columns_[table_columns[j]]) + ", ";
      params += "?" + std::to_string(j + 6) + ", ";
    }
    return "INSERT INTO " + history_ + " (" + names + kHistoryColumns + ") VALUES (" + params + "?1, ?2, ?3, NULL, ?4)";
  });
  insert.bind(1, entry.recid).bind(2, entry.rv).bind(3, entry.end_rv).bind(4, static_cast<std::int64_t>(entry.deleted_after));
  for (size_t j = 0; j < table_columns.size() && j < entry.values.size(); ++j)
    entry.values[j].bind(insert.get(), static_cast<int>(j) + 6);
  insert.run();
}

std::optional<RowState> RowStore::state_as_of(std::int64_t recid, std::int64_t at) {
  std::optional<VersionInfo> current = version(recid);
  if (!current) return std::nullopt;
  RowState state;
  state.recid = recid;
  if (current->rv <= at) {
    state.rv = current->rv;
    if (current->deleted) {
      state.kind = RowState::Deleted;
    } else {
      std::optional<Row> row = live_row(recid);
      if (!row) return std::nullopt;
      state.values = std::move(*row);
    }
    return state;
  }
  Statement &select = statement("as_of", [&] { return "SELECT " + column_list(definition_) + ", z_rv, z_end_rv, z_deleted FROM " +
                                             history_ + " WHERE z_recid = ?1 AND z_rv <= ?2 ORDER BY z_rv DESC LIMIT 1"; });
  select.bind(1, recid).bind(2, at);
  if (!select.step()) {
    select.reset();
    return std::nullopt;
  }
  int count = static_cast<int>(columns_.size());
  std::int64_t rv = select.column_int(count);
  std::int64_t end_rv = select.column_int(count + 1);
  if (end_rv <= at) {
    state.kind = RowState::Deleted;  // ended before `at`, and no later version had started
    state.rv = end_rv;
  } else {
    state.rv = rv;
    state.values = read_row(select, 0, count);
  }
  select.reset();
  return state;
}

void RowStore::ensure_server_indexes() {
  std::string prefix = quote_identifier(schema_) + ".";
  // One statement per exec: a connection that keeps its statements prepares each once.
  exec(db_, "CREATE INDEX IF NOT EXISTS " + prefix + quote_identifier("z$rv$" + name_ + "$rv") + " ON " +
                quote_identifier(version_table_name(name_)) + " (z_rv)");
  exec(db_, "CREATE INDEX IF NOT EXISTS " + prefix + quote_identifier("z$old$" + name_ + "$recid") + " ON " +
                quote_identifier(history_table_name(name_)) + " (z_recid, z_rv)");
  exec(db_, "CREATE INDEX IF NOT EXISTS " + prefix + quote_identifier("z$old$" + name_ + "$end") + " ON " +
                quote_identifier(history_table_name(name_)) + " (z_end_rv)");
}

}  // namespace zumero::sync
