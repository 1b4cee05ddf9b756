// Parses the arguments of CREATE VIRTUAL TABLE ... USING zumero(...) into a table
// definition. Zumero is stricter than SQLite: identifiers may be bare (not keywords)
// or quoted with "", [] or ``, never with single quotes; conflict clauses are
// refused; foreign keys are column constraints that reference zumero tables.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace zumero {

struct ForeignKeyReference {
  std::string table;                 // the zumero table referenced
  std::vector<std::string> columns;  // empty: its primary key
};

struct ColumnDefinition {
  std::string name;
  std::string type;            // declared type as written, may be empty
  std::string collation;       // COLLATE name, may be empty
  std::string default_clause;  // "DEFAULT ..." as written, may be empty
  bool primary_key = false;
  bool primary_key_descending = false;
  std::string primary_key_name;  // from CONSTRAINT <name> PRIMARY KEY
  std::optional<ForeignKeyReference> reference;
  std::string storage_text;  // definition for the z$ table: references point at z$ tables, deferred
};

struct TableDefinition {
  std::vector<std::string> arguments;  // the module arguments, persisted and re-parsed on connect
  bool strict_types = false;
  std::vector<ColumnDefinition> columns;
  std::vector<std::string> table_constraints;  // as written
  int integer_primary_key = -1;                // column that aliases the rowid, or -1
  bool renumber_on_sync = true;                // false: CONSTRAINT z_ipk_no_change_on_sync

  int column_index(const std::string &name) const;  // case-insensitive, -1 when absent
};

// Throws zumero::Error (syntax_error, conflict_clauses_unsupported, invalid_argument).
TableDefinition parse_table_definition(const std::vector<std::string> &arguments);

// Parses one column definition, as passed to zumero_alter_table_add_column.
ColumnDefinition parse_column_definition(const std::string &text);

// Splits "a, b(c, d), 'e,f'" at top-level commas, trimming each part.
std::vector<std::string> split_top_level(const std::string &text);

// True when name is one zumero keeps for its own columns.
bool is_reserved_column_name(const std::string &name);

}  // namespace zumero
