#include "base/catalog.h"

#include <nlohmann/json.hpp>

#include <map>
#include <mutex>

#include "base/sql.h"
#include "base/table_definition.h"

namespace zumero {

void ensure_housekeeping(sqlite3 *db, const std::string &schema) {
  if (has_housekeeping(db, schema)) return;
  std::string s = quote_identifier(schema) + ".";
  exec(db, "CREATE TABLE IF NOT EXISTS " + s + "\"t$tx\" (txid INTEGER PRIMARY KEY, unix_time INTEGER NOT NULL);"
           "CREATE TABLE IF NOT EXISTS " + s + "\"t$dirty\" (tbl TEXT NOT NULL, first INTEGER NOT NULL, "
           "last INTEGER NOT NULL, txid INTEGER NOT NULL);"
           "CREATE TABLE IF NOT EXISTS " + s + "\"t$tables\" (name TEXT PRIMARY KEY COLLATE NOCASE, "
           "definition TEXT NOT NULL);"
           "CREATE TABLE IF NOT EXISTS " + s + "\"t$schema\" (seq INTEGER PRIMARY KEY, rv INTEGER, "
           "kind TEXT NOT NULL, tbl TEXT, detail TEXT NOT NULL, origin INTEGER UNIQUE);"
           "CREATE TABLE IF NOT EXISTS " + s + "\"t$sync\" (key TEXT PRIMARY KEY, value);"
           "CREATE TABLE IF NOT EXISTS " + s + "\"t$q\" (qid INTEGER PRIMARY KEY, unix_time INTEGER NOT NULL, "
           "package BLOB NOT NULL);");
}

bool has_housekeeping(sqlite3 *db, const std::string &schema) {
  Statement statement(db, "SELECT 1 FROM " + quote_identifier(schema) +
                              ".sqlite_master WHERE type='table' AND name='t$schema'");
  return statement.step();
}

void require_attached(sqlite3 *db, const std::string &schema) {
  Statement statement(db, "SELECT 1 FROM pragma_database_list WHERE name = ?1");
  statement.bind(1, schema);
  if (!statement.step()) fail("invalid_argument");
}

std::string arguments_to_json(const std::vector<std::string> &arguments) {
  return nlohmann::json(arguments).dump();
}

std::vector<std::string> arguments_from_json(const std::string &json) {
  return nlohmann::json::parse(json).get<std::vector<std::string>>();
}

namespace {

// Parsing a definition is pure: the same stored text always gives the same definition.
// Servers and sync clients read the same few definitions for every request, so the
// parsed forms of recent texts are kept (a bounded number, shared by all connections).
TableDefinition parsed_definition(const std::string &json) {
  constexpr std::size_t kMaxKept = 256;
  static std::mutex mutex;
  static std::map<std::string, TableDefinition> parsed;
  {
    std::lock_guard<std::mutex> guard(mutex);
    auto found = parsed.find(json);
    if (found != parsed.end()) return found->second;
  }
  TableDefinition definition = parse_table_definition(arguments_from_json(json));
  std::lock_guard<std::mutex> guard(mutex);
  if (parsed.size() >= kMaxKept) parsed.clear();
  parsed.emplace(json, definition);
  return definition;
}

}  // namespace

std::optional<TableDefinition> load_table_definition(sqlite3 *db, const std::string &schema,
                                                     const std::string &name) {
  if (!has_housekeeping(db, schema)) return std::nullopt;
  Statement statement(db, "SELECT definition FROM " + quote_identifier(schema) + ".\"t$tables\" WHERE name = ?1");
  statement.bind(1, name);
  if (!statement.step()) return std::nullopt;
  return parsed_definition(statement.column_text(0));
}

void save_table_definition(sqlite3 *db, const std::string &schema, const std::string &name,
                           const TableDefinition &table) {
  Statement statement(db, "INSERT OR REPLACE INTO " + quote_identifier(schema) +
                              ".\"t$tables\" (name, definition) VALUES (?1, ?2)");
  statement.bind(1, name).bind(2, arguments_to_json(table.arguments())).run();
}

std::vector<std::string> zumero_table_names(sqlite3 *db, const std::string &schema) {
  std::vector<std::string> names;
  if (!has_housekeeping(db, schema)) return names;
  Statement statement(db, "SELECT name FROM " + quote_identifier(schema) + ".\"t$tables\" ORDER BY name");
  while (statement.step()) names.push_back(statement.column_text(0));
  return names;
}

std::optional<std::string> stored_table_name(sqlite3 *db, const std::string &schema, const std::string &name) {
  if (!has_housekeeping(db, schema)) return std::nullopt;
  Statement statement(db, "SELECT name FROM " + quote_identifier(schema) + ".\"t$tables\" WHERE name = ?1");
  statement.bind(1, name);
  if (!statement.step()) return std::nullopt;
  return statement.column_text(0);
}

void require_referenced_tables(sqlite3 *db, const std::string &schema, const std::string &name,
                               const TableDefinition &table) {
  for (const ColumnDefinition &column : table.columns) {
    if (!column.reference || iequals(column.reference->table, name)) continue;
    validate_table_name(column.reference->table);
    if (!load_table_definition(db, schema, column.reference->table)) fail("syntax_error");
  }
}

void record_schema_change(sqlite3 *db, const std::string &schema, const std::string &kind,
                          const std::optional<std::string> &table, const std::string &detail_json,
                          std::optional<std::int64_t> rv, std::optional<std::int64_t> origin) {
  Statement statement(db, "INSERT INTO " + quote_identifier(schema) +
                              ".\"t$schema\" (rv, kind, tbl, detail, origin) VALUES (?4, ?1, ?2, ?3, ?5)");
  statement.bind(1, kind);
  if (table) statement.bind(2, *table);
  if (rv) statement.bind(4, *rv);
  if (origin) statement.bind(5, *origin);
  statement.bind(3, detail_json).run();
}

std::optional<ForeignKeyViolation> find_foreign_key_violation(sqlite3 *db, const std::string &schema,
                                                              const std::vector<std::string> &changed_tables) {
  auto changed = [&](const std::string &name) {
    for (const std::string &table : changed_tables)
      if (iequals(table, name)) return true;
    return false;
  };
  for (const std::string &name : zumero_table_names(db, schema)) {
    auto definition = load_table_definition(db, schema, name);
    if (!definition) continue;
    bool involved = false;
    for (const ColumnDefinition &column : definition->columns)
      if (column.reference && (changed(name) || changed(column.reference->table))) involved = true;
    if (!involved) continue;
    Statement check(db, "PRAGMA " + quote_identifier(schema) + ".foreign_key_check(" +
                            quote_identifier(live_table_name(name)) + ")");
    if (check.step()) return ForeignKeyViolation{name, check.column_int(1)};
  }
  return std::nullopt;
}

namespace {

// The column a reference points at: the one it names, else the parent's single-column
// PRIMARY KEY. Empty when that is not one plain column (SQLite's own check decides).
std::string parent_key_column(const ForeignKeyReference &reference, const TableDefinition &parent) {
  if (!reference.columns.empty()) return reference.columns.front();
  for (const TableConstraint &constraint : parent.constraints)
    if (constraint.kind == TableConstraint::PrimaryKey) return std::string();
  for (const ColumnDefinition &column : parent.columns)
    if (column.primary_key) return column.name;
  return std::string();
}

std::optional<ForeignKeyViolation> whole_table_violation(sqlite3 *db, const std::string &schema,
                                                         const std::string &name) {
  Statement check(db, "PRAGMA " + quote_identifier(schema) + ".foreign_key_check(" +
                          quote_identifier(live_table_name(name)) + ")");
  if (check.step()) return ForeignKeyViolation{name, check.column_int(1)};
  return std::nullopt;
}

// A row of `ranges` whose reference finds no parent.
std::optional<ForeignKeyViolation> dangling_child(sqlite3 *db, const std::string &schema, const std::string &child,
                                                  const std::string &column, const std::string &parent,
                                                  const std::string &key, const std::vector<const RowRange *> &ranges) {
  std::string live = qualified(schema, live_table_name(child));
  Statement check(db, "SELECT c.rowid FROM " + live + " c WHERE c.rowid BETWEEN ?1 AND ?2 AND c." +
                          quote_identifier(column) + " IS NOT NULL AND NOT EXISTS (SELECT 1 FROM " +
                          qualified(schema, live_table_name(parent)) + " p WHERE p." + quote_identifier(key) +
                          " = c." + quote_identifier(column) + ") LIMIT 1");
  for (const RowRange *range : ranges) {
    check.bind(1, range->first).bind(2, range->last);
    bool found = check.step();
    std::int64_t recid = found ? check.column_int(0) : 0;
    check.reset();
    if (found) return ForeignKeyViolation{child, recid};
  }
  return std::nullopt;
}

// A child row still referencing a key that a changed parent row of `ranges` held
// before the transaction changed it, and that no parent row holds now.
std::optional<ForeignKeyViolation> orphaned_child(sqlite3 *db, const std::string &schema, const std::string &child,
                                                  const std::string &column, const std::string &parent,
                                                  const std::string &key, const std::vector<const RowRange *> &ranges,
                                                  std::int64_t txid) {
  Statement check(db, "SELECT c.rowid FROM " + qualified(schema, history_table_name(parent)) + " o, " +
                          qualified(schema, live_table_name(child)) + " c WHERE o.z_recid BETWEEN ?1 AND ?2 AND "
                          "o.z_txid = ?3 AND c." + quote_identifier(column) + " = o." + quote_identifier(key) +
                          " AND NOT EXISTS (SELECT 1 FROM " + qualified(schema, live_table_name(parent)) +
                          " p WHERE p." + quote_identifier(key) + " = c." + quote_identifier(column) + ") LIMIT 1");
  for (const RowRange *range : ranges) {
    check.bind(1, range->first).bind(2, range->last).bind(3, txid);
    bool found = check.step();
    std::int64_t recid = found ? check.column_int(0) : 0;
    check.reset();
    if (found) return ForeignKeyViolation{child, recid};
  }
  return std::nullopt;
}

}  // namespace

std::optional<ForeignKeyViolation> find_foreign_key_violation(sqlite3 *db, const std::string &schema,
                                                              const std::vector<RowRange> &changed,
                                                              std::int64_t txid) {
  if (changed.empty()) return std::nullopt;
  NameMap<std::vector<const RowRange *>> ranges;
  for (const RowRange &range : changed) ranges[range.table].push_back(&range);
  for (const std::string &name : zumero_table_names(db, schema)) {
    std::optional<TableDefinition> definition = load_table_definition(db, schema, name);
    if (!definition) continue;
    for (const ColumnDefinition &column : definition->columns) {
      if (!column.reference) continue;
      const std::string &parent = column.reference->table;
      auto child_rows = ranges.find(name);
      auto parent_rows = ranges.find(parent);
      if (child_rows == ranges.end() && parent_rows == ranges.end()) continue;
      std::optional<TableDefinition> parent_definition =
          iequals(parent, name) ? definition : load_table_definition(db, schema, parent);
      std::string key = parent_definition ? parent_key_column(*column.reference, *parent_definition) : std::string();
      if (key.empty()) {
        if (auto violation = whole_table_violation(db, schema, name)) return violation;
        continue;
      }
      if (child_rows != ranges.end())
        if (auto violation = dangling_child(db, schema, name, column.name, parent, key, child_rows->second))
          return violation;
      if (parent_rows != ranges.end())
        if (auto violation = orphaned_child(db, schema, name, column.name, parent, key, parent_rows->second, txid))
          return violation;
    }
  }
  return std::nullopt;
}

}  // namespace zumero
