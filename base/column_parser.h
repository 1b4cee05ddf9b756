// The definition of a zumero table as data: the module arguments of CREATE VIRTUAL
// TABLE ... USING zumero (...), a column given to zumero_alter_table_add_column, the
// definitions sync packages carry, and the CREATE TABLE of a table being adopted are all
// parsed into a TableDefinition. Every statement zumero runs is generated from that
// structure (table_definition.h); no text of a definition is ever pasted into SQL.
//
// Accepted:
//   [* WITH_STRICT_TYPES,] column, ... [, table constraint, ...]
//   column:  name [type] [column constraint ...]
//   column constraint, each after an optional CONSTRAINT name:
//     PRIMARY KEY [ASC|DESC] [AUTOINCREMENT]   NOT NULL   NULL   UNIQUE   CHECK (expr)
//     DEFAULT value   COLLATE name   REFERENCES table [(column)] [DEFERRABLE [INITIALLY DEFERRED]]
//   table constraint, after an optional CONSTRAINT name:
//     PRIMARY KEY (indexed column, ...)   UNIQUE (indexed column, ...)   CHECK (expr)
//   indexed column: name [COLLATE name] [ASC|DESC]
// Names are bare words that are not SQL keywords, or quoted with "", [] or ``; never with
// single quotes. Types are described with parse_type_name, expressions in expression.h.
//
// Errors (zumero::Error, message "zumero:<identifier>"):
//   syntax_error                  malformed text; table-level FOREIGN KEY; ON DELETE, ON
//                                 UPDATE, MATCH, NOT DEFERRABLE, INITIALLY IMMEDIATE; a
//                                 REFERENCES naming several columns or a table with '$';
//                                 GENERATED / AS columns; a clause given twice; more than one
//                                 PRIMARY KEY; AUTOINCREMENT off an INTEGER PRIMARY KEY;
//                                 columns after table constraints; no column at all
//   conflict_clauses_unsupported  ON CONFLICT anywhere
//   invalid_argument              names that are empty, longer than kMaxNameBytes or hold
//                                 NUL; column names used twice (case-insensitively) or
//                                 reserved (is_reserved_column_name); more than kMaxColumns
//                                 columns, kMaxDefinitionBytes of text or
//                                 kMaxDefinitionPieces expression pieces; an argument nesting
//                                 parentheses deeper than kMaxArgumentParentheses; constraints
//                                 naming unknown columns; every expression construct
//                                 expression.h refuses
// validate_table_name adds the rules for table names (no_dollar_sign_in_table_name,
// invalid_argument). Parsing has no state outside its arguments and throws only
// zumero::Error (or std::bad_alloc) on any input.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "base/expression.h"

namespace zumero {

// SQLite allows 2000 columns; z$old$T adds five, and headroom is kept for added columns.
constexpr size_t kMaxColumns = 1000;
// A definition's text, and the pieces of all its expressions together, are bounded so
// that a few bytes on the wire cannot make SQLite parse megabytes of schema.
constexpr size_t kMaxDefinitionBytes = 256 * 1024;
constexpr size_t kMaxDefinitionPieces = 50000;
// SQLite reads the module arguments of CREATE VIRTUAL TABLE with two entries of its
// 100-entry parser stack per open parenthesis (47 levels pass in 3.40); zumero writes
// that statement itself when a table arrives by sync or is adopted, so no canonical
// argument may nest parentheses deeper than this.
constexpr int kMaxArgumentParentheses = 32;

struct ForeignKeyReference {
  std::string table;                 // the zumero table referenced
  std::vector<std::string> columns;  // empty: its primary key; else one column
};

struct CheckConstraint {
  std::string name;  // CONSTRAINT name, may be empty
  Expression expression;
};

struct ColumnDefinition {
  std::string name;
  std::string type;       // canonical declared type (parse_type_name), may be empty
  std::string collation;  // COLLATE name, may be empty
  Expression default_value;
  bool not_null = false;
  bool unique = false;
  bool primary_key = false;
  bool primary_key_descending = false;
  bool autoincrement = false;
  std::string primary_key_name;  // from CONSTRAINT <name> PRIMARY KEY
  std::vector<CheckConstraint> checks;
  std::optional<ForeignKeyReference> reference;

  // The column as a canonical module argument: names quoted, keywords upper-case.
  std::string argument() const;
};

// The column as SQL. for_storage: REFERENCES point at the z$ table and are always
// DEFERRABLE INITIALLY DEFERRED (the z$T definition); else the canonical argument.
std::string column_sql(const ColumnDefinition &column, bool for_storage);

struct IndexedColumn {
  std::string name;
  std::string collation;
  bool descending = false;
};

struct TableConstraint {
  enum Kind { PrimaryKey, Unique, Check };
  Kind kind = Check;
  std::string name;                    // CONSTRAINT name, may be empty
  std::vector<IndexedColumn> columns;  // PRIMARY KEY and UNIQUE
  Expression check;                    // CHECK

  std::string argument() const;
};

struct TableDefinition {
  bool strict_types = false;
  std::vector<ColumnDefinition> columns;
  std::vector<TableConstraint> constraints;
  int integer_primary_key = -1;  // column that aliases the rowid, or -1
  bool renumber_on_sync = true;  // false: CONSTRAINT z_ipk_no_change_on_sync

  int column_index(const std::string &name) const;  // case-insensitive, -1 when absent
  // The canonical module arguments: what t$tables stores and packages carry.
  // parse_table_definition(arguments()) gives back an equal definition.
  std::vector<std::string> arguments() const;
};

TableDefinition parse_table_definition(const std::vector<std::string> &arguments);

// Parses one column definition, as passed to zumero_alter_table_add_column. References
// to other columns (in CHECK) are checked by add_column.
ColumnDefinition parse_column_definition(const std::string &text);

// The table with one more column, checked as a whole (names, limits, CHECK references).
TableDefinition add_column(const TableDefinition &table, const ColumnDefinition &column);

// A CREATE TABLE statement as sqlite_master holds it, for zumero_adopt_existing_table.
// WITHOUT ROWID and STRICT tables, temporary tables and CREATE TABLE ... AS are
// invalid_argument.
struct CreateTableStatement {
  std::string name;
  TableDefinition definition;
};
CreateTableStatement parse_create_table(const std::string &sql);

// A CREATE INDEX statement as sqlite_master holds it, parsed so it can be created again
// on another table (the indexes of an adopted table move to z$T).
struct IndexDefinition {
  std::string name;
  bool unique = false;
  struct Term {
    Expression expression;  // a column name or an expression over the table's columns
    bool descending = false;
  };
  std::vector<Term> terms;
  Expression where;  // partial index condition, may be empty
};
IndexDefinition parse_create_index(const std::string &sql);

// Equal when they mean the same: names compared case-insensitively, keywords and
// spacing normalized.
bool same_column(const ColumnDefinition &a, const ColumnDefinition &b);
bool same_definition(const TableDefinition &a, const TableDefinition &b);

// True when name is one zumero keeps for its own columns (z_rv, z_recid, z_txid,
// z_end_rv, z_deleted) or one SQLite gives the row identity (rowid, oid, _rowid_).
bool is_reserved_column_name(const std::string &name);

// Throws unless name may be a zumero table's name: no_dollar_sign_in_table_name for '$',
// invalid_argument when empty, longer than kMaxNameBytes, holding NUL, "*" or starting
// with sqlite_.
void validate_table_name(const std::string &name);

}  // namespace zumero
