#include "vtab/table_definition.h"

#include "vtab/sql.h"

namespace zumero {

const char *const kHistoryColumns = "z_recid, z_rv, z_end_rv, z_txid, z_deleted";

std::string live_table_name(const std::string &table) { return "z$" + table; }
std::string history_table_name(const std::string &table) { return "z$old$" + table; }
std::string version_table_name(const std::string &table) { return "z$rv$" + table; }

std::string qualified(const std::string &schema, const std::string &name) {
  return quote_identifier(schema) + "." + quote_identifier(name);
}

namespace {

std::string type_and_collation(const ColumnDefinition &column) {
  std::string text = quote_identifier(column.name);
  if (!column.type.empty()) text += " " + column.type;
  if (!column.collation.empty()) text += " COLLATE " + quote_identifier(column.collation);
  return text;
}

// SQLite's affinity rules (datatype3.html section 3.1), as the typeof() names a strict
// column accepts; empty when any value is accepted.
std::string strict_type_check(const ColumnDefinition &column) {
  std::string type = lower_ascii(column.type);
  const char *allowed = nullptr;
  if (type.find("int") != std::string::npos) allowed = "'integer'";
  else if (type.find("char") != std::string::npos || type.find("clob") != std::string::npos ||
           type.find("text") != std::string::npos) allowed = "'text'";
  else if (type.find("blob") != std::string::npos) allowed = "'blob'";
  else if (type.empty()) allowed = nullptr;
  else if (type.find("real") != std::string::npos || type.find("floa") != std::string::npos ||
           type.find("doub") != std::string::npos) allowed = "'real'";
  else allowed = "'integer','real'";
  if (!allowed) return std::string();
  std::string name = quote_identifier(column.name);
  return "CONSTRAINT " + quote_identifier("z_strict_" + column.name) + " CHECK (typeof(" + name + ") IN (" +
         allowed + ",'null'))";
}

}  // namespace

std::string virtual_table_declaration(const TableDefinition &table) {
  std::string sql = "CREATE TABLE x(";
  for (size_t i = 0; i < table.columns.size(); ++i) {
    const ColumnDefinition &column = table.columns[i];
    if (i) sql += ", ";
    sql += type_and_collation(column);
    if (!column.default_clause.empty() && static_cast<int>(i) != table.integer_primary_key)
      sql += " " + column.default_clause;
  }
  return sql + ")";
}

std::string column_list(const TableDefinition &table, const std::string &prefix) {
  std::string list;
  for (size_t i = 0; i < table.columns.size(); ++i) {
    if (i) list += ", ";
    list += prefix + quote_identifier(table.columns[i].name);
  }
  return list;
}

std::string storage_ddl(const std::string &schema, const std::string &name, const TableDefinition &table) {
  std::string live = "CREATE TABLE " + qualified(schema, live_table_name(name)) + " (";
  std::string history = "CREATE TABLE " + qualified(schema, history_table_name(name)) + " (";
  for (size_t i = 0; i < table.columns.size(); ++i) {
    if (i) live += ", ";
    live += table.columns[i].storage_text;
    history += type_and_collation(table.columns[i]) + ", ";
  }
  for (const std::string &constraint : table.table_constraints) live += ", " + constraint;
  if (table.strict_types) {
    for (const ColumnDefinition &column : table.columns) {
      std::string check = strict_type_check(column);
      if (!check.empty()) live += ", " + check;
    }
  }
  live += ");\n";
  history +=
      "z_recid INTEGER NOT NULL, z_rv INTEGER, z_end_rv INTEGER, z_txid INTEGER, "
      "z_deleted INTEGER NOT NULL DEFAULT 0);\n";
  std::string versions = "CREATE TABLE " + qualified(schema, version_table_name(name)) +
                         " (z_recid INTEGER PRIMARY KEY, z_rv INTEGER NOT NULL, z_deleted INTEGER NOT NULL DEFAULT 0);\n";
  // Rows that INSERT OR REPLACE / UPDATE OR REPLACE remove never pass through the
  // module; with recursive triggers on, this trigger sees them. It does nothing unless
  // the module is running a REPLACE statement (zumero_replacing returns the txid then).
  std::string trigger = "CREATE TRIGGER " + qualified(schema, "z$replace$" + name) + " AFTER DELETE ON " +
                        quote_identifier(live_table_name(name)) +
                        " WHEN zumero_replacing(" + quote_literal(name) + ", OLD.rowid) IS NOT NULL BEGIN INSERT INTO " +
                        quote_identifier(history_table_name(name)) + " (" + column_list(table) + ", " +
                        kHistoryColumns + ") VALUES (" + column_list(table, "OLD.") +
                        ", OLD.rowid, NULL, NULL, zumero_replacing(" + quote_literal(name) + ", NULL), 1); END;\n";
  return live + history + versions + trigger;
}

std::string add_column_ddl(const std::string &schema, const std::string &name, const ColumnDefinition &column,
                           bool strict_types) {
  std::string live_def = column.storage_text;
  if (strict_types) {
    std::string check = strict_type_check(column);
    if (!check.empty()) live_def += " " + check;
  }
  return "ALTER TABLE " + qualified(schema, live_table_name(name)) + " ADD COLUMN " + live_def + ";\n" +
         "ALTER TABLE " + qualified(schema, history_table_name(name)) + " ADD COLUMN " + type_and_collation(column) +
         ";\n";
}

}  // namespace zumero
