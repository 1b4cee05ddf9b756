#include "base/json_text.h"
#include "sync/schema_apply.h"

#include <nlohmann/json.hpp>

#include "base/catalog.h"
#include "base/column_parser.h"
#include "base/sql.h"
#include "base/table_definition.h"
#include "base/conflict_actions.h"
#include "vtab/table_changes.h"

namespace zumero::sync {
namespace {

std::vector<std::string> definition_arguments(const std::string &detail) {
  nlohmann::json parsed = parse_json(detail);
  if (!parsed.is_array() || parsed.empty()) fail("invalid_argument");
  std::vector<std::string> arguments;
  for (const auto &item : parsed) {
    if (!item.is_string()) fail("invalid_argument");
    arguments.push_back(item.get<std::string>());
  }
  return arguments;
}

std::string column_text(const std::string &detail) {
  nlohmann::json parsed = parse_json(detail);
  if (!parsed.is_object() || !parsed.contains("definition") || !parsed["definition"].is_string())
    fail("invalid_argument");
  return parsed["definition"].get<std::string>();
}

// Raised as a Rejection-like error by callers: the entry contradicts the database.
[[noreturn]] void mismatch() { fail("column_definition_mismatch", SQLITE_CONSTRAINT); }

// The table as created, before columns were added to it, is the same definition.
bool same_created_part(const TableDefinition &existing, const TableDefinition &created) {
  if (existing.strict_types != created.strict_types || existing.columns.size() < created.columns.size()) return false;
  for (size_t i = 0; i < created.columns.size(); ++i)
    if (!same_column(existing.columns[i], created.columns[i])) return false;
  return true;
}

struct RemoteApply {
  ConnectionState &connection;
  bool saved;
  explicit RemoteApply(ConnectionState &state) : connection(state), saved(state.applying_remote) {
    connection.applying_remote = true;
  }
  ~RemoteApply() { connection.applying_remote = saved; }
};

SchemaOutcome create_table(sqlite3 *db, ConnectionState &connection, const std::string &schema,
                           const SchemaEntry &entry, std::string &detail) {
  validate_table_name(entry.table);
  TableDefinition definition = parse_table_definition(definition_arguments(entry.detail));
  check_reserved_table(entry.table, definition);
  detail = arguments_to_json(definition.arguments());
  std::optional<std::string> existing_name = stored_table_name(db, schema, entry.table);
  if (existing_name) {
    std::optional<TableDefinition> existing = load_table_definition(db, schema, *existing_name);
    if (!existing) fail("invalid_argument");
    // The table may have grown columns since: the created part must agree.
    if (!same_created_part(*existing, definition)) mismatch();
    return SchemaOutcome::AlreadyThere;
  }
  RemoteApply remote(connection);
  exec(db, create_virtual_table_sql(schema, entry.table, definition));
  return SchemaOutcome::Applied;
}

SchemaOutcome add_column(sqlite3 *db, ConnectionState &connection, const std::string &schema,
                         const SchemaEntry &entry, std::string &detail) {
  std::string text = column_text(entry.detail);
  ColumnDefinition column = parse_column_definition(text);
  detail = nlohmann::json{{"definition", column.argument()}}.dump();
  std::optional<std::string> table = stored_table_name(db, schema, entry.table);
  if (!table) mismatch();
  std::optional<TableDefinition> existing = load_table_definition(db, schema, *table);
  if (!existing) fail("invalid_argument");
  int index = existing->column_index(column.name);
  if (index >= 0) {
    if (!same_column(existing->columns[index], column)) mismatch();
    return SchemaOutcome::AlreadyThere;
  }
  RemoteApply remote(connection);
  add_table_column(db, connection, schema, *table, text);
  return SchemaOutcome::Applied;
}

}  // namespace

bool schema_entry_known(sqlite3 *db, const std::string &schema, std::int64_t origin) {
  Statement known(db, "SELECT 1 FROM " + qualified(schema, "t$schema") + " WHERE origin = ?1");
  known.bind(1, origin);
  return known.step();
}

SchemaOutcome apply_schema_entry(sqlite3 *db, ConnectionState &connection, const std::string &schema,
                                 const SchemaEntry &entry, std::int64_t rv, std::optional<std::int64_t> origin) {
  SchemaOutcome outcome = SchemaOutcome::Applied;
  std::optional<std::string> table;
  std::string detail;  // canonical: what the server records and sends on
  if (entry.kind == "create_table") {
    outcome = create_table(db, connection, schema, entry, detail);
    table = stored_table_name(db, schema, entry.table);
  } else if (entry.kind == "add_column") {
    outcome = add_column(db, connection, schema, entry, detail);
    table = stored_table_name(db, schema, entry.table);
  } else if (entry.kind == "row_rule" || entry.kind == "column_rule") {
    std::optional<conflict::RuleDetail> rule = conflict::parse_rule_detail(entry.kind, entry.detail);
    if (!rule) fail("invalid_argument");
    detail = rule->json();
    if (!entry.table.empty()) {
      validate_table_name(entry.table);
      table = entry.table;
    }
  } else {
    fail("invalid_argument");
  }
  // A server keeps one entry per table or column; a client keeps every entry the
  // server sent, so that it can tell which it has already seen.
  if (outcome == SchemaOutcome::Applied || origin)
    record_schema_change(db, schema, entry.kind, table, detail, rv, origin);
  return outcome;
}

}  // namespace zumero::sync
