#include "base/table_definition.h"

#include <new>

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

// A user column as z$old$T holds it: no constraints, but the DEFAULT, which is what an
// old version reads for a column added after it was superseded.
std::string history_column(const ColumnDefinition &column) {
  std::string text = type_and_collation(column);
  std::string fallback = default_expression(column);
  if (!fallback.empty()) text += " DEFAULT (" + fallback + ")";
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

std::string joined(const std::vector<std::string> &parts) {
  std::string text;
  for (const std::string &part : parts) text += (text.empty() ? "" : ", ") + part;
  return text;
}

std::string trigger_name(const std::string &kind, const std::string &name) { return "z$" + kind + "$" + name; }

// An empty in-memory database of its own: no file, and extension loading stays off.
class ScratchDatabase {
public:
  ScratchDatabase() {
    if (sqlite3_open_v2(":memory:", &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_MEMORY, nullptr) !=
        SQLITE_OK) {
      sqlite3_close(db_);
      throw std::bad_alloc();
    }
  }
  ~ScratchDatabase() { sqlite3_close(db_); }
  ScratchDatabase(const ScratchDatabase &) = delete;
  ScratchDatabase &operator=(const ScratchDatabase &) = delete;
  sqlite3 *get() const { return db_; }

private:
  sqlite3 *db_ = nullptr;
};

// Prepares one statement and, when run, steps it to the end; false when SQLite refuses.
bool sqlite_accepts(sqlite3 *db, const std::string &sql, bool run) {
  sqlite3_stmt *statement = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &statement, nullptr);
  if (rc == SQLITE_OK && statement && run) {
    while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
    }
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
  }
  sqlite3_finalize(statement);
  return rc == SQLITE_OK;
}

}  // namespace

std::string virtual_table_declaration(const TableDefinition &table) {
  std::vector<std::string> columns;
  for (const ColumnDefinition &column : table.columns) columns.push_back(type_and_collation(column));
  return "CREATE TABLE x(" + joined(columns) + ")";
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

std::string create_virtual_table_sql(const std::string &schema, const std::string &name,
                                     const TableDefinition &table) {
  return "CREATE VIRTUAL TABLE " + qualified(schema, name) + " USING zumero (" + joined(table.arguments()) + ")";
}

std::string user_facing_message(const std::string &table, std::string message) {
  std::string storage = live_table_name(table) + ".";
  for (size_t at = message.find(storage); at != std::string::npos; at = message.find(storage, at))
    message.replace(at, storage.size(), table + ".");
  return message;
}

std::string default_expression(const ColumnDefinition &column) { return column.default_value.sql(); }

std::string live_table_ddl(const std::string &schema, const std::string &name, const TableDefinition &table) {
  std::vector<std::string> parts;
  for (const ColumnDefinition &column : table.columns) parts.push_back(column_sql(column, true));
  for (const TableConstraint &constraint : table.constraints) parts.push_back(constraint.argument());
  if (table.strict_types) {
    for (const ColumnDefinition &column : table.columns) {
      std::string check = strict_type_check(column);
      if (!check.empty()) parts.push_back(check);
    }
  }
  return "CREATE TABLE " + qualified(schema, live_table_name(name)) + " (" + joined(parts) + ");\n";
}

std::string history_table_ddl(const std::string &schema, const std::string &name, const TableDefinition &table) {
  std::string history = "CREATE TABLE " + qualified(schema, history_table_name(name)) + " (";
  for (const ColumnDefinition &column : table.columns) history += history_column(column) + ", ";
  return history +
         "z_recid INTEGER NOT NULL, z_rv INTEGER, z_end_rv INTEGER, z_txid INTEGER, "
         "z_deleted INTEGER NOT NULL DEFAULT 0);\n";
}

std::string version_table_ddl(const std::string &schema, const std::string &name) {
  return "CREATE TABLE " + qualified(schema, version_table_name(name)) +
         " (z_recid INTEGER PRIMARY KEY, z_rv INTEGER NOT NULL, z_deleted INTEGER NOT NULL DEFAULT 0);\n";
}

std::string support_ddl(const std::string &schema, const std::string &name, const TableDefinition &table) {
  return history_table_ddl(schema, name, table) + version_table_ddl(schema, name) +
         history_triggers_ddl(schema, name, table);
}

std::string history_triggers_ddl(const std::string &schema, const std::string &name, const TableDefinition &table) {
  // The old version goes to history while zumero_recording() returns the local txid,
  // which it does while the module writes this table (and it notes the row as changed).
  // Sync's own writes run without it and leave no local history. An update that gives
  // the row a new identity ends the old one like a deletion.
  // OR FAIL: the insert cannot fail (its values are never NULL), and without an ABORT
  // constraint in the trigger SQLite runs the module's single-row statements without a
  // statement journal (a copy of every page they touch).
  std::string recording = "zumero_recording(" + quote_literal(name) + ", ";
  std::string insert_history = "INSERT OR FAIL INTO " + quote_identifier(history_table_name(name)) + " (" +
                               column_list(table) + ", " + kHistoryColumns + ") VALUES (" +
                               column_list(table, "OLD.") + ", OLD.rowid, NULL, NULL, " + recording + "NULL), ";
  auto trigger = [&](const char *kind, const char *event, const char *deleted) {
    return "CREATE TRIGGER " + qualified(schema, trigger_name(kind, name)) + " AFTER " + event + " ON " +
           quote_identifier(live_table_name(name)) + " WHEN " + recording + "OLD.rowid) IS NOT NULL BEGIN " +
           insert_history + deleted + "); END;\n";
  };
  return "DROP TRIGGER IF EXISTS " + qualified(schema, trigger_name("update", name)) + ";\n" +
         "DROP TRIGGER IF EXISTS " + qualified(schema, trigger_name("delete", name)) + ";\n" +
         trigger("update", "UPDATE", "NEW.rowid <> OLD.rowid") + trigger("delete", "DELETE", "1");
}

std::string add_column_ddl(const std::string &schema, const std::string &name, const ColumnDefinition &column,
                           bool strict_types) {
  std::string live = column_sql(column, true);
  if (strict_types) {
    std::string check = strict_type_check(column);
    if (!check.empty()) live += " " + check;
  }
  return "ALTER TABLE " + qualified(schema, live_table_name(name)) + " ADD COLUMN " + live + ";\n" +
         "ALTER TABLE " + qualified(schema, history_table_name(name)) + " ADD COLUMN " + history_column(column) +
         ";\n";
}

std::string index_ddl(const std::string &schema, const std::string &table, const IndexDefinition &index) {
  std::vector<std::string> terms;
  for (const IndexDefinition::Term &term : index.terms)
    terms.push_back(term.expression.sql() + (term.descending ? " DESC" : ""));
  std::string sql = std::string("CREATE ") + (index.unique ? "UNIQUE " : "") + "INDEX " + qualified(schema, index.name) +
                    " ON " + quote_identifier(table) + " (" + joined(terms) + ")";
  if (!index.where.empty()) sql += " WHERE " + index.where.sql();
  return sql + ";\n";
}

const std::vector<std::string> &audit_table_arguments() {
  static const std::vector<std::string> arguments = {"tbl TEXT NOT NULL", "ancestor TEXT NOT NULL", "already TEXT",
                                                     "incoming TEXT", "result TEXT"};
  return arguments;
}

const std::vector<std::string> &acl_table_arguments() {
  static const std::vector<std::string> arguments = {
      "* WITH_STRICT_TYPES",
      "scheme TEXT NOT NULL",
      "who TEXT NOT NULL",
      "tbl TEXT NOT NULL",
      "op TEXT NOT NULL",
      "result TEXT NOT NULL",
      "CHECK (result IN ('allow', 'deny'))",
      "CHECK (who IN ('anyone', 'any_authenticated_user') OR who LIKE 'user:_%' OR who LIKE 'group:_%')",
      "CHECK (op IN ('*', 'pull', 'auth_add_user', 'auth_set_password', 'auth_set_acl_entry', "
      "'create_table', 'tbl_add_row', 'tbl_modify_row', 'tbl_add_column', 'add_rule', "
      "'create_dbfile', 'get_storage_usage'))",
      "CHECK (op <> '*' OR tbl = '')",
  };
  return arguments;
}

void check_definition_compiles(const std::string &name, const TableDefinition &table) {
  ScratchDatabase scratch;
  // Only prepared: running it would need the module, and parsing is what can fail.
  if (!sqlite_accepts(scratch.get(), create_virtual_table_sql("main", name, table), false)) fail("invalid_argument");
  for (const std::string &ddl : {live_table_ddl("main", name, table), history_table_ddl("main", name, table)})
    if (!sqlite_accepts(scratch.get(), ddl, true)) fail("invalid_argument");
  for (const std::string &stored : {live_table_name(name), history_table_name(name)})
    if (!sqlite_accepts(scratch.get(), "INSERT INTO " + qualified("main", stored) + " DEFAULT VALUES", false))
      fail("invalid_argument");
}

void check_reserved_table(const std::string &name, const TableDefinition &table) {
  if (iequals(name, "z_audit")) {
    if (!same_definition(table, parse_table_definition(audit_table_arguments()))) fail("invalid_argument");
  } else if (iequals(name, "z_acl")) {
    static const std::vector<std::string> illustration = {"scheme TEXT NOT NULL", "who TEXT NOT NULL",
                                                          "tbl TEXT NOT NULL", "op TEXT NOT NULL",
                                                          "result TEXT NOT NULL"};
    if (!same_definition(table, parse_table_definition(acl_table_arguments())) &&
        !same_definition(table, parse_table_definition(illustration)))
      fail("invalid_argument");
  }
}

}  // namespace zumero
