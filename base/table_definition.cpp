#include "base/table_definition.h"

#include "base/sql.h"

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

std::string highest_recid_sql(const std::string &schema, const std::string &name) {
  return "SELECT max(coalesce((SELECT max(rowid) FROM " + qualified(schema, live_table_name(name)) +
         "), 0), coalesce((SELECT max(z_recid) FROM " + qualified(schema, version_table_name(name)) + "), 0))";
}

std::string create_table_sql(const std::string &schema, const std::string &name,
                             const std::vector<std::string> &arguments) {
  std::string joined;
  for (const std::string &argument : arguments) joined += (joined.empty() ? "" : ", ") + argument;
  return "CREATE VIRTUAL TABLE " + qualified(schema, name) + " USING zumero (" + joined + ")";
}

std::string user_facing_message(const std::string &table, std::string message) {
  std::string storage = live_table_name(table) + ".";
  for (size_t at = message.find(storage); at != std::string::npos; at = message.find(storage, at))
    message.replace(at, storage.size(), table + ".");
  return message;
}

std::string default_expression(const ColumnDefinition &column) {
  if (column.default_clause.size() <= 7) return std::string();
  return column.default_clause.substr(7);  // after "DEFAULT"
}

std::string live_table_ddl(const std::string &schema, const std::string &name, const TableDefinition &table) {
  std::string live = "CREATE TABLE " + qualified(schema, live_table_name(name)) + " (";
  for (size_t i = 0; i < table.columns.size(); ++i) {
    if (i) live += ", ";
    live += table.columns[i].storage_text;
  }
  for (const std::string &constraint : table.table_constraints) live += ", " + constraint;
  if (table.strict_types) {
    for (const ColumnDefinition &column : table.columns) {
      std::string check = strict_type_check(column);
      if (!check.empty()) live += ", " + check;
    }
  }
  return live + ");\n";
}

std::string support_ddl(const std::string &schema, const std::string &name, const TableDefinition &table) {
  std::string history = "CREATE TABLE " + qualified(schema, history_table_name(name)) + " (";
  for (const ColumnDefinition &column : table.columns) history += type_and_collation(column) + ", ";
  history +=
      "z_recid INTEGER NOT NULL, z_rv INTEGER, z_end_rv INTEGER, z_txid INTEGER, "
      "z_deleted INTEGER NOT NULL DEFAULT 0);\n";
  std::string versions = "CREATE TABLE " + qualified(schema, version_table_name(name)) +
                         " (z_recid INTEGER PRIMARY KEY, z_rv INTEGER NOT NULL, z_deleted INTEGER NOT NULL DEFAULT 0);\n";
  return history + versions + history_triggers_ddl(schema, name, table);
}

std::string history_triggers_ddl(const std::string &schema, const std::string &name, const TableDefinition &table) {
  // History is written by triggers inside the module's own statements. Updates are
  // always recorded (sync never updates z$T in place). Deletions are recorded only
  // while the module deletes, directly or through OR REPLACE: zumero_recording() then
  // returns the local txid (and notes the row as changed); sync's own deletes are not
  // history.
  std::string pending_txid = "zumero_txid(" + quote_literal(schema) + ")";
  std::string insert_history = "INSERT INTO " + quote_identifier(history_table_name(name)) + " (" +
                               column_list(table) + ", " + kHistoryColumns + ") VALUES (" +
                               column_list(table, "OLD.") + ", OLD.rowid, NULL, NULL, ";
  std::string trigger =
      "CREATE TRIGGER " + qualified(schema, "z$update$" + name) + " AFTER UPDATE ON " +
      quote_identifier(live_table_name(name)) + " BEGIN " + insert_history + pending_txid +
      ", NEW.rowid <> OLD.rowid); END;\n" + "CREATE TRIGGER " + qualified(schema, "z$delete$" + name) +
      " AFTER DELETE ON " + quote_identifier(live_table_name(name)) + " WHEN zumero_recording(" +
      quote_literal(name) + ", OLD.rowid) IS NOT NULL BEGIN " + insert_history + "zumero_recording(" +
      quote_literal(name) + ", NULL), 1); END;\n";
  return "DROP TRIGGER IF EXISTS " + qualified(schema, "z$update$" + name) + ";\nDROP TRIGGER IF EXISTS " +
         qualified(schema, "z$delete$" + name) + ";\n" + trigger;
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
