#include "base/column_parser.h"

#include <algorithm>

#include "base/sql.h"

namespace zumero {
namespace {

void check_name(const std::string &name) {
  if (name.empty() || name.size() > kMaxNameBytes || name.find('\0') != std::string::npos) fail("invalid_argument");
}

std::string name_from(TokenCursor &cursor) {
  std::string name = cursor.identifier();
  check_name(name);
  return name;
}

std::string collation_from(TokenCursor &cursor) {
  std::string name = name_from(cursor);
  if (!is_builtin_collation(name)) fail("invalid_argument");
  return name;
}

void refuse_conflict_clause(const TokenCursor &cursor) {
  if (cursor.is_word("ON") && cursor.is_word("CONFLICT", 1)) fail("conflict_clauses_unsupported");
}

// Called where a clause was expected and none was found.
[[noreturn]] void unexpected(const TokenCursor &cursor) {
  refuse_conflict_clause(cursor);
  fail("syntax_error");
}

Expression parenthesised_check(TokenCursor &cursor) {
  cursor.expect_operator("(");
  Expression check = parse_expression(cursor, true);
  cursor.expect_operator(")");
  return check;
}

// REFERENCES table [(columns)] [DEFERRABLE [INITIALLY DEFERRED]]. Actions, MATCH and
// immediate checking are refused: zumero's references are always deferred.
ForeignKeyReference read_reference(TokenCursor &cursor) {
  ForeignKeyReference reference;
  reference.table = name_from(cursor);
  if (reference.table.find('$') != std::string::npos) fail("syntax_error");
  if (cursor.accept_operator("(")) {
    reference.columns.push_back(name_from(cursor));  // a column constraint names one column
    cursor.expect_operator(")");
  }
  if (cursor.accept_word("DEFERRABLE")) {
    if (cursor.accept_word("INITIALLY")) cursor.expect_word("DEFERRED");
  }
  if (cursor.is_word("ON") || cursor.is_word("MATCH") || cursor.is_word("INITIALLY") || cursor.is_word("DEFERRABLE") ||
      (cursor.is_word("NOT") && cursor.is_word("DEFERRABLE", 1)))
    fail("syntax_error");
  return reference;
}

void read_column_constraints(TokenCursor &cursor, ColumnDefinition &column) {
  bool has_default = false;
  while (!cursor.at_end()) {
    std::string name;
    if (cursor.accept_word("CONSTRAINT")) name = name_from(cursor);
    if (cursor.accept_word("PRIMARY")) {
      cursor.expect_word("KEY");
      if (column.primary_key) fail("syntax_error");
      column.primary_key = true;
      column.primary_key_name = name;
      if (cursor.accept_word("DESC")) column.primary_key_descending = true;
      else cursor.accept_word("ASC");
      refuse_conflict_clause(cursor);
      column.autoincrement = cursor.accept_word("AUTOINCREMENT");
    } else if (cursor.accept_word("NOT")) {
      cursor.expect_word("NULL");
      refuse_conflict_clause(cursor);
      column.not_null = true;
    } else if (cursor.accept_word("NULL")) {
      refuse_conflict_clause(cursor);
    } else if (cursor.accept_word("UNIQUE")) {
      refuse_conflict_clause(cursor);
      column.unique = true;
    } else if (cursor.accept_word("CHECK")) {
      column.checks.push_back(CheckConstraint{name, parenthesised_check(cursor)});
    } else if (cursor.accept_word("DEFAULT")) {
      if (has_default) fail("syntax_error");
      has_default = true;
      column.default_value = parse_default_value(cursor);
    } else if (cursor.accept_word("COLLATE")) {
      if (!column.collation.empty()) fail("syntax_error");
      column.collation = collation_from(cursor);
    } else if (cursor.accept_word("REFERENCES")) {
      if (column.reference) fail("syntax_error");
      column.reference = read_reference(cursor);
    } else {
      unexpected(cursor);  // GENERATED / AS columns and anything unknown
    }
  }
}

ColumnDefinition read_column(TokenCursor &cursor) {
  ColumnDefinition column;
  column.name = name_from(cursor);
  if (is_reserved_column_name(column.name)) fail("invalid_argument");
  column.type = parse_type_name(cursor);
  read_column_constraints(cursor, column);
  return column;
}

std::vector<IndexedColumn> read_indexed_columns(TokenCursor &cursor) {
  std::vector<IndexedColumn> columns;
  cursor.expect_operator("(");
  do {
    IndexedColumn column;
    column.name = name_from(cursor);
    if (cursor.accept_word("COLLATE")) column.collation = collation_from(cursor);
    if (cursor.accept_word("DESC")) column.descending = true;
    else cursor.accept_word("ASC");
    columns.push_back(std::move(column));
  } while (cursor.accept_operator(","));
  cursor.expect_operator(")");
  return columns;
}

bool starts_table_constraint(const TokenCursor &cursor) {
  for (const char *word : {"CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"})
    if (cursor.is_word(word)) return true;
  return false;
}

TableConstraint read_table_constraint(TokenCursor &cursor) {
  TableConstraint constraint;
  if (cursor.accept_word("CONSTRAINT")) constraint.name = name_from(cursor);
  if (cursor.accept_word("PRIMARY")) {
    cursor.expect_word("KEY");
    constraint.kind = TableConstraint::PrimaryKey;
    constraint.columns = read_indexed_columns(cursor);
  } else if (cursor.accept_word("UNIQUE")) {
    constraint.kind = TableConstraint::Unique;
    constraint.columns = read_indexed_columns(cursor);
  } else if (cursor.accept_word("CHECK")) {
    constraint.kind = TableConstraint::Check;
    constraint.check = parenthesised_check(cursor);
  } else {
    fail("syntax_error");  // FOREIGN KEY is only supported as a column constraint
  }
  refuse_conflict_clause(cursor);
  return constraint;
}

// One module argument (or one comma-separated part of a CREATE TABLE body).
void read_argument(TokenCursor &cursor, TableDefinition &table, bool first) {
  if (cursor.accept_operator("*")) {
    if (!first || !cursor.accept_word("WITH_STRICT_TYPES")) fail("syntax_error");
    table.strict_types = true;
  } else if (starts_table_constraint(cursor)) {
    table.constraints.push_back(read_table_constraint(cursor));
  } else {
    if (!table.constraints.empty()) fail("syntax_error");  // columns come first
    table.columns.push_back(read_column(cursor));
  }
  if (!cursor.at_end()) unexpected(cursor);
}

void check_references(const TableDefinition &table, const Expression &expression) {
  for (const std::string &name : expression.column_references())
    if (table.column_index(name) < 0) fail("invalid_argument");
}

void check_text_size(size_t bytes) {
  if (bytes > kMaxDefinitionBytes) fail("invalid_argument");
}

size_t expression_pieces(const TableDefinition &table) {
  size_t pieces = 0;
  for (const ColumnDefinition &column : table.columns) {
    pieces += column.default_value.pieces().size();
    for (const CheckConstraint &check : column.checks) pieces += check.expression.pieces().size();
  }
  for (const TableConstraint &constraint : table.constraints) {
    pieces += constraint.check.pieces().size();
  }
  return pieces;
}

// How deep the argument nests parentheses, those in quotes aside.
int parenthesis_depth(const std::string &argument) {
  int depth = 0;
  int deepest = 0;
  for (const Token &token : tokenize_sql(argument)) {
    if (token.kind != TokenKind::Operator) continue;
    if (token.text == "(") deepest = std::max(deepest, ++depth);
    if (token.text == ")") --depth;
  }
  return deepest;
}

// Checks the definition as a whole and finds its INTEGER PRIMARY KEY.
void finish(TableDefinition &table) {
  if (table.columns.empty()) fail("syntax_error");
  if (table.columns.size() > kMaxColumns) fail("invalid_argument");
  if (expression_pieces(table) > kMaxDefinitionPieces) fail("invalid_argument");
  for (const std::string &argument : table.arguments())
    if (parenthesis_depth(argument) > kMaxArgumentParentheses) fail("invalid_argument");
  table.integer_primary_key = -1;
  table.renumber_on_sync = true;
  int primary_keys = 0;
  for (size_t i = 0; i < table.columns.size(); ++i) {
    const ColumnDefinition &column = table.columns[i];
    check_name(column.name);
    if (is_reserved_column_name(column.name)) fail("invalid_argument");
    if (table.column_index(column.name) != static_cast<int>(i)) fail("invalid_argument");
    for (const CheckConstraint &check : column.checks) check_references(table, check.expression);
    if (!column.primary_key) continue;
    ++primary_keys;
    if (!column.primary_key_descending && column.type == "INTEGER") {
      table.integer_primary_key = static_cast<int>(i);
      table.renumber_on_sync = !iequals(column.primary_key_name, "z_ipk_no_change_on_sync");
    }
  }
  for (const TableConstraint &constraint : table.constraints) {
    check_references(table, constraint.check);
    for (const IndexedColumn &column : constraint.columns)
      if (table.column_index(column.name) < 0) fail("invalid_argument");
    if (constraint.kind != TableConstraint::PrimaryKey) continue;
    ++primary_keys;
    // As in SQLite, the table form makes an INTEGER column the rowid whatever its order.
    if (constraint.columns.size() == 1) {
      int index = table.column_index(constraint.columns[0].name);
      if (table.columns[index].type == "INTEGER") {
        table.integer_primary_key = index;
        table.renumber_on_sync = !iequals(constraint.name, "z_ipk_no_change_on_sync");
      }
    }
  }
  if (primary_keys > 1) fail("syntax_error");
  for (size_t i = 0; i < table.columns.size(); ++i)
    if (table.columns[i].autoincrement && static_cast<int>(i) != table.integer_primary_key) fail("syntax_error");
}

std::string constraint_prefix(const std::string &name) {
  return name.empty() ? std::string() : "CONSTRAINT " + quote_identifier(name) + " ";
}

std::string names_sql(const std::vector<std::string> &names) {
  std::string sql;
  for (const std::string &name : names) sql += (sql.empty() ? "" : ", ") + quote_identifier(name);
  return sql;
}

bool same_names(const std::vector<std::string> &a, const std::vector<std::string> &b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!iequals(a[i], b[i])) return false;
  return true;
}

bool same_constraint(const TableConstraint &a, const TableConstraint &b) {
  if (a.kind != b.kind || !iequals(a.name, b.name) || !same_expression(a.check, b.check)) return false;
  if (a.columns.size() != b.columns.size()) return false;
  for (size_t i = 0; i < a.columns.size(); ++i) {
    const IndexedColumn &x = a.columns[i];
    const IndexedColumn &y = b.columns[i];
    if (!iequals(x.name, y.name) || !iequals(x.collation, y.collation) || x.descending != y.descending) return false;
  }
  return true;
}

// The body of a CREATE TABLE, split at its top-level commas; the cursor is after "(".
// Returns the position of the closing parenthesis.
size_t read_body(const std::vector<Token> &tokens, size_t begin, TableDefinition &table) {
  size_t part = begin;
  int depth = 0;
  bool first = true;
  for (size_t i = begin; i < tokens.size(); ++i) {
    const Token &token = tokens[i];
    if (token.kind == TokenKind::End) break;
    if (token.kind != TokenKind::Operator) continue;
    if (token.text == "(") ++depth;
    bool closes = token.text == ")" && depth == 0;
    if (token.text == ")" && depth > 0) --depth;
    if (closes || (token.text == "," && depth == 0)) {
      TokenCursor cursor(tokens, part, i);
      read_argument(cursor, table, first);
      first = false;
      part = i + 1;
      if (closes) return i;
    }
  }
  fail("syntax_error");
}

// [schema.]name after CREATE ... TABLE / INDEX [IF NOT EXISTS].
std::string read_object_name(TokenCursor &cursor) {
  if (cursor.accept_word("IF")) {
    cursor.expect_word("NOT");
    cursor.expect_word("EXISTS");
  }
  std::string name = name_from(cursor);
  if (cursor.accept_operator(".")) name = name_from(cursor);
  return name;
}

}  // namespace

std::string ColumnDefinition::argument() const { return column_sql(*this, false); }

std::string column_sql(const ColumnDefinition &column, bool for_storage) {
  std::string sql = quote_identifier(column.name);
  if (!column.type.empty()) sql += " " + column.type;
  if (column.primary_key) {
    sql += " " + constraint_prefix(column.primary_key_name) + "PRIMARY KEY";
    if (column.primary_key_descending) sql += " DESC";
    if (column.autoincrement) sql += " AUTOINCREMENT";
  }
  if (column.not_null) sql += " NOT NULL";
  if (column.unique) sql += " UNIQUE";
  if (!column.default_value.empty()) sql += " DEFAULT (" + column.default_value.sql() + ")";
  if (!column.collation.empty()) sql += " COLLATE " + quote_identifier(column.collation);
  for (const CheckConstraint &check : column.checks)
    sql += " " + constraint_prefix(check.name) + "CHECK (" + check.expression.sql() + ")";
  if (column.reference) {
    const ForeignKeyReference &reference = *column.reference;
    sql += " REFERENCES " + quote_identifier(for_storage ? "z$" + reference.table : reference.table);
    if (!reference.columns.empty()) sql += " (" + names_sql(reference.columns) + ")";
    if (for_storage) sql += " DEFERRABLE INITIALLY DEFERRED";
  }
  return sql;
}

std::string TableConstraint::argument() const {
  std::string sql = constraint_prefix(name);
  if (kind == Check) return sql + "CHECK (" + check.sql() + ")";
  sql += kind == PrimaryKey ? "PRIMARY KEY (" : "UNIQUE (";
  for (size_t i = 0; i < columns.size(); ++i) {
    if (i) sql += ", ";
    sql += quote_identifier(columns[i].name);
    if (!columns[i].collation.empty()) sql += " COLLATE " + quote_identifier(columns[i].collation);
    if (columns[i].descending) sql += " DESC";
  }
  return sql + ")";
}

int TableDefinition::column_index(const std::string &name) const {
  for (size_t i = 0; i < columns.size(); ++i)
    if (iequals(columns[i].name, name)) return static_cast<int>(i);
  return -1;
}

std::vector<std::string> TableDefinition::arguments() const {
  std::vector<std::string> result;
  if (strict_types) result.push_back("* WITH_STRICT_TYPES");
  for (const ColumnDefinition &column : columns) result.push_back(column.argument());
  for (const TableConstraint &constraint : constraints) result.push_back(constraint.argument());
  return result;
}

bool is_reserved_column_name(const std::string &name) {
  static const char *const reserved[] = {"z_rv", "z_recid", "z_txid", "z_end_rv", "z_deleted",
                                         "rowid", "oid", "_rowid_"};
  for (const char *word : reserved)
    if (iequals(name, word)) return true;
  return false;
}

void validate_table_name(const std::string &name) {
  if (name.find('$') != std::string::npos) fail("no_dollar_sign_in_table_name");
  check_name(name);
  if (name == "*" || (name.size() >= 7 && iequals(name.substr(0, 7), "sqlite_"))) fail("invalid_argument");
}

ColumnDefinition parse_column_definition(const std::string &text) {
  check_text_size(text.size());
  std::vector<Token> tokens = tokenize_sql(text);
  TokenCursor cursor(tokens);
  ColumnDefinition column = read_column(cursor);
  return column;
}

TableDefinition parse_table_definition(const std::vector<std::string> &arguments) {
  TableDefinition table;
  size_t bytes = 0;
  for (const std::string &argument : arguments) bytes += argument.size();
  check_text_size(bytes);
  for (size_t i = 0; i < arguments.size(); ++i) {
    std::vector<Token> tokens = tokenize_sql(arguments[i]);
    TokenCursor cursor(tokens);
    read_argument(cursor, table, i == 0);
  }
  finish(table);
  return table;
}

TableDefinition add_column(const TableDefinition &table, const ColumnDefinition &column) {
  TableDefinition extended = table;
  extended.columns.push_back(column);
  finish(extended);
  return extended;
}

CreateTableStatement parse_create_table(const std::string &sql) {
  check_text_size(sql.size());
  std::vector<Token> tokens = tokenize_sql(sql);
  TokenCursor cursor(tokens);
  cursor.expect_word("CREATE");
  if (cursor.is_word("TEMP") || cursor.is_word("TEMPORARY") || cursor.is_word("VIRTUAL")) fail("invalid_argument");
  cursor.expect_word("TABLE");
  CreateTableStatement statement;
  statement.name = read_object_name(cursor);
  if (cursor.is_word("AS")) fail("invalid_argument");
  cursor.expect_operator("(");
  size_t close = read_body(tokens, cursor.position(), statement.definition);
  TokenCursor options(tokens, close + 1, tokens.size());
  if (options.is_word("WITHOUT") || options.is_word("STRICT")) fail("invalid_argument");
  if (!options.at_end()) fail("syntax_error");
  finish(statement.definition);
  return statement;
}

IndexDefinition parse_create_index(const std::string &sql) {
  std::vector<Token> tokens = tokenize_sql(sql);
  TokenCursor cursor(tokens);
  IndexDefinition index;
  cursor.expect_word("CREATE");
  index.unique = cursor.accept_word("UNIQUE");
  cursor.expect_word("INDEX");
  index.name = read_object_name(cursor);
  cursor.expect_word("ON");
  name_from(cursor);  // the table; the index is created again on another one
  cursor.expect_operator("(");
  do {
    IndexDefinition::Term term;
    term.expression = parse_expression(cursor, true);
    // 'a' as an indexed column is SQLite's relaxed quoting for a name, which zumero refuses.
    const auto &pieces = term.expression.pieces();
    if (pieces[0].kind == Expression::Kind::String &&
        (pieces.size() == 1 || (pieces.size() == 3 && pieces[1].text == "COLLATE")))
      fail("syntax_error");
    if (cursor.accept_word("DESC")) term.descending = true;
    else cursor.accept_word("ASC");
    index.terms.push_back(std::move(term));
  } while (cursor.accept_operator(","));
  cursor.expect_operator(")");
  if (cursor.accept_word("WHERE")) index.where = parse_expression(cursor, true);
  if (!cursor.at_end()) fail("syntax_error");
  return index;
}

bool same_column(const ColumnDefinition &a, const ColumnDefinition &b) {
  if (!iequals(a.name, b.name) || a.type != b.type || !iequals(a.collation, b.collation)) return false;
  if (!same_expression(a.default_value, b.default_value)) return false;
  if (a.not_null != b.not_null || a.unique != b.unique || a.primary_key != b.primary_key) return false;
  if (a.primary_key && (a.primary_key_descending != b.primary_key_descending || a.autoincrement != b.autoincrement ||
                        !iequals(a.primary_key_name, b.primary_key_name)))
    return false;
  if (a.checks.size() != b.checks.size()) return false;
  for (size_t i = 0; i < a.checks.size(); ++i) {
    if (!iequals(a.checks[i].name, b.checks[i].name)) return false;
    if (!same_expression(a.checks[i].expression, b.checks[i].expression)) return false;
  }
  if (a.reference.has_value() != b.reference.has_value()) return false;
  if (a.reference && (!iequals(a.reference->table, b.reference->table) ||
                      !same_names(a.reference->columns, b.reference->columns)))
    return false;
  return true;
}

bool same_definition(const TableDefinition &a, const TableDefinition &b) {
  if (a.strict_types != b.strict_types) return false;
  if (a.columns.size() != b.columns.size() || a.constraints.size() != b.constraints.size()) return false;
  for (size_t i = 0; i < a.columns.size(); ++i)
    if (!same_column(a.columns[i], b.columns[i])) return false;
  for (size_t i = 0; i < a.constraints.size(); ++i)
    if (!same_constraint(a.constraints[i], b.constraints[i])) return false;
  return true;
}

}  // namespace zumero
