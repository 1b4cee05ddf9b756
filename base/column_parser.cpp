#include "base/column_parser.h"

#include <cctype>

#include "base/sql.h"

namespace zumero {
namespace {

enum class TokenKind { Word, QuotedIdentifier, String, Number, Symbol, End };

struct Token {
  TokenKind kind = TokenKind::End;
  std::string value;  // unquoted text for identifiers and strings, raw text otherwise
  size_t begin = 0;
  size_t end = 0;
};

bool is_word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' || (c & 0x80); }

// Reads a quoted run starting at pos (the opening quote); returns the unquoted value.
size_t read_quoted(const std::string &text, size_t pos, char close, std::string &value) {
  size_t i = pos + 1;
  while (i < text.size()) {
    if (text[i] == close) {
      if (close != ']' && i + 1 < text.size() && text[i + 1] == close) {
        value += close;
        i += 2;
        continue;
      }
      return i + 1;
    }
    value += text[i++];
  }
  fail("syntax_error");
}

std::vector<Token> tokenize(const std::string &text) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    if (c == '-' && i + 1 < text.size() && text[i + 1] == '-') {
      while (i < text.size() && text[i] != '\n') ++i;
      continue;
    }
    if (c == '/' && i + 1 < text.size() && text[i + 1] == '*') {
      size_t close = text.find("*/", i + 2);
      i = close == std::string::npos ? text.size() : close + 2;
      continue;
    }
    Token token;
    token.begin = i;
    if (c == '"' || c == '`' || c == '[') {
      token.kind = TokenKind::QuotedIdentifier;
      i = read_quoted(text, i, c == '[' ? ']' : c, token.value);
    } else if (c == '\'') {
      token.kind = TokenKind::String;
      i = read_quoted(text, i, '\'', token.value);
    } else if (std::isdigit(static_cast<unsigned char>(c)) || (c == '.' && i + 1 < text.size() && std::isdigit(static_cast<unsigned char>(text[i + 1])))) {
      token.kind = TokenKind::Number;
      while (i < text.size() && (std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '.' ||
                                 ((text[i] == '+' || text[i] == '-') && (text[i - 1] == 'e' || text[i - 1] == 'E'))))
        ++i;
      token.value = text.substr(token.begin, i - token.begin);
    } else if (is_word_char(c)) {
      token.kind = TokenKind::Word;
      while (i < text.size() && is_word_char(text[i])) ++i;
      token.value = text.substr(token.begin, i - token.begin);
    } else {
      token.kind = TokenKind::Symbol;
      ++i;
      token.value = std::string(1, c);
    }
    token.end = i;
    tokens.push_back(token);
  }
  Token end;
  end.begin = end.end = text.size();
  tokens.push_back(end);
  return tokens;
}

bool is_keyword(const std::string &word) {
  return sqlite3_keyword_check(word.c_str(), static_cast<int>(word.size())) != 0;
}

// A cursor over the tokens of one module argument.
class Parser {
public:
  explicit Parser(const std::string &text) : text_(text), tokens_(tokenize(text)) {}

  const Token &peek(size_t ahead = 0) const {
    size_t i = pos_ + ahead;
    return tokens_[i < tokens_.size() ? i : tokens_.size() - 1];
  }
  bool at_end() const { return peek().kind == TokenKind::End; }
  const Token &next() {
    const Token &token = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return token;
  }
  bool is_word(const char *word, size_t ahead = 0) const {
    const Token &token = peek(ahead);
    return token.kind == TokenKind::Word && iequals(token.value, word);
  }
  bool accept_word(const char *word) {
    if (!is_word(word)) return false;
    next();
    return true;
  }
  void expect_word(const char *word) {
    if (!accept_word(word)) fail("syntax_error");
  }
  bool accept_symbol(char symbol) {
    if (peek().kind != TokenKind::Symbol || peek().value[0] != symbol) return false;
    next();
    return true;
  }
  // An identifier: bare non-keyword words, or "", [], `` quoted. Single quotes are refused.
  std::string identifier() {
    const Token &token = peek();
    if (token.kind == TokenKind::QuotedIdentifier) return next().value;
    if (token.kind == TokenKind::Word && !is_keyword(token.value)) return next().value;
    fail("syntax_error");
  }
  // Skips a parenthesised group, the current token being "(".
  void skip_group() {
    if (!accept_symbol('(')) fail("syntax_error");
    int depth = 1;
    while (depth > 0) {
      if (at_end()) fail("syntax_error");
      const Token &token = next();
      if (token.kind != TokenKind::Symbol) continue;
      if (token.value[0] == '(') ++depth;
      if (token.value[0] == ')') --depth;
    }
  }
  std::vector<std::string> identifier_list() {
    std::vector<std::string> names;
    if (!accept_symbol('(')) fail("syntax_error");
    do {
      names.push_back(identifier());
      if (accept_word("COLLATE")) identifier();
      if (!accept_word("ASC")) accept_word("DESC");
    } while (accept_symbol(','));
    if (!accept_symbol(')')) fail("syntax_error");
    return names;
  }
  void refuse_conflict_clause() {
    if (is_word("ON") && is_word("CONFLICT", 1)) fail("conflict_clauses_unsupported");
  }
  size_t position() const { return peek().begin; }
  size_t previous_end() const { return pos_ == 0 ? 0 : tokens_[pos_ - 1].end; }
  const std::string &text() const { return text_; }

private:
  const std::string &text_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
};

bool starts_constraint(const Parser &parser) {
  static const char *const words[] = {"CONSTRAINT", "PRIMARY", "NOT", "NULL", "UNIQUE", "CHECK",
                                      "DEFAULT", "COLLATE", "REFERENCES", "GENERATED", "AS"};
  for (const char *word : words)
    if (parser.is_word(word)) return true;
  return false;
}

std::string read_type(Parser &parser) {
  std::string type;
  while (!parser.at_end() && !starts_constraint(parser)) {
    const Token &token = parser.peek();
    if (token.kind == TokenKind::Word || token.kind == TokenKind::QuotedIdentifier) {
      if (!type.empty()) type += ' ';
      type += parser.next().value;
    } else if (token.kind == TokenKind::Symbol && token.value == "(") {
      size_t begin = parser.position();
      parser.skip_group();
      type += parser.text().substr(begin, parser.previous_end() - begin);
    } else {
      fail("syntax_error");
    }
  }
  return type;
}

void read_default(Parser &parser, ColumnDefinition &column, size_t clause_begin) {
  const Token &token = parser.peek();
  if (token.kind == TokenKind::Symbol && token.value == "(") {
    parser.skip_group();
  } else if (token.kind == TokenKind::Symbol && (token.value == "+" || token.value == "-")) {
    parser.next();
    if (parser.peek().kind != TokenKind::Number) fail("syntax_error");
    parser.next();
  } else if (token.kind == TokenKind::Number || token.kind == TokenKind::String || token.kind == TokenKind::Word) {
    parser.next();
  } else {
    fail("syntax_error");
  }
  column.default_clause = parser.text().substr(clause_begin, parser.previous_end() - clause_begin);
}

// REFERENCES table [(columns)] [DEFERRABLE [INITIALLY DEFERRED]]; other clauses are refused.
void read_reference(Parser &parser, ColumnDefinition &column, std::string &storage) {
  size_t table_begin = parser.position();
  ForeignKeyReference reference;
  reference.table = parser.identifier();
  if (reference.table.find('$') != std::string::npos) fail("syntax_error");
  size_t table_end = parser.previous_end();
  if (parser.peek().kind == TokenKind::Symbol && parser.peek().value == "(")
    reference.columns = parser.identifier_list();
  bool deferred = false;
  if (parser.accept_word("DEFERRABLE")) {
    if (parser.accept_word("INITIALLY")) parser.expect_word("DEFERRED");
    deferred = true;
  } else if (parser.is_word("ON") || parser.is_word("MATCH") || parser.is_word("NOT") || parser.is_word("INITIALLY")) {
    if (parser.is_word("NOT") && !parser.is_word("DEFERRABLE", 1)) {
      // NOT NULL after the reference: leave it to the caller
    } else {
      fail("syntax_error");
    }
  }
  size_t clause_end = parser.previous_end();
  const std::string &text = parser.text();
  storage = text.substr(0, table_begin) + quote_identifier("z$" + reference.table) +
            text.substr(table_end, clause_end - table_end) + (deferred ? "" : " DEFERRABLE INITIALLY DEFERRED") +
            text.substr(clause_end);
  column.reference = reference;
}

void read_column_constraints(Parser &parser, ColumnDefinition &column) {
  std::string constraint_name;
  while (!parser.at_end()) {
    size_t clause_begin = parser.position();
    if (parser.accept_word("CONSTRAINT")) {
      constraint_name = parser.identifier();
      continue;
    }
    if (parser.accept_word("PRIMARY")) {
      parser.expect_word("KEY");
      column.primary_key = true;
      column.primary_key_name = constraint_name;
      if (parser.accept_word("DESC")) column.primary_key_descending = true;
      else parser.accept_word("ASC");
      parser.refuse_conflict_clause();
      parser.accept_word("AUTOINCREMENT");
    } else if (parser.accept_word("NOT")) {
      parser.expect_word("NULL");
      parser.refuse_conflict_clause();
    } else if (parser.accept_word("NULL")) {
      parser.refuse_conflict_clause();
    } else if (parser.accept_word("UNIQUE")) {
      parser.refuse_conflict_clause();
    } else if (parser.accept_word("CHECK")) {
      parser.skip_group();
    } else if (parser.accept_word("DEFAULT")) {
      read_default(parser, column, clause_begin);
    } else if (parser.accept_word("COLLATE")) {
      column.collation = parser.identifier();
    } else if (parser.accept_word("REFERENCES")) {
      if (column.reference) fail("syntax_error");
      read_reference(parser, column, column.storage_text);
    } else {
      // GENERATED / AS columns and anything unknown
      fail("syntax_error");
    }
    constraint_name.clear();
  }
}

}  // namespace

bool is_reserved_column_name(const std::string &name) {
  static const char *const reserved[] = {"z_rv", "z_recid", "z_txid", "z_end_rv", "z_deleted"};
  for (const char *word : reserved)
    if (iequals(name, word)) return true;
  return false;
}

ColumnDefinition parse_column_definition(const std::string &text) {
  Parser parser(text);
  ColumnDefinition column;
  if (parser.peek().kind == TokenKind::String) fail("syntax_error");
  column.name = parser.identifier();
  if (is_reserved_column_name(column.name)) fail("invalid_argument");
  column.type = read_type(parser);
  column.storage_text = text;
  read_column_constraints(parser, column);
  return column;
}

namespace {

bool is_table_constraint(const std::string &text) {
  Parser parser(text);
  static const char *const words[] = {"CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"};
  for (const char *word : words)
    if (parser.is_word(word)) return true;
  return false;
}

// Validates a table constraint; records an INTEGER PRIMARY KEY declared as PRIMARY KEY(x).
void read_table_constraint(const std::string &text, TableDefinition &table) {
  Parser parser(text);
  std::string name;
  if (parser.accept_word("CONSTRAINT")) name = parser.identifier();
  if (parser.accept_word("PRIMARY")) {
    parser.expect_word("KEY");
    std::vector<std::string> columns = parser.identifier_list();
    parser.refuse_conflict_clause();
    if (columns.size() == 1) {
      int index = table.column_index(columns[0]);
      if (index >= 0 && iequals(table.columns[index].type, "INTEGER")) {
        table.integer_primary_key = index;
        table.renumber_on_sync = !iequals(name, "z_ipk_no_change_on_sync");
      }
    }
  } else if (parser.accept_word("UNIQUE")) {
    parser.identifier_list();
    parser.refuse_conflict_clause();
  } else if (parser.accept_word("CHECK")) {
    parser.skip_group();
  } else {
    fail("syntax_error");  // FOREIGN KEY is only supported as a column constraint
  }
  if (!parser.at_end()) fail("syntax_error");
}

}  // namespace

int TableDefinition::column_index(const std::string &name) const {
  for (size_t i = 0; i < columns.size(); ++i)
    if (iequals(columns[i].name, name)) return static_cast<int>(i);
  return -1;
}

TableDefinition parse_table_definition(const std::vector<std::string> &arguments) {
  TableDefinition table;
  table.arguments = arguments;
  for (size_t i = 0; i < arguments.size(); ++i) {
    const std::string &argument = arguments[i];
    Parser parser(argument);
    if (parser.accept_symbol('*')) {
      if (i != 0 || !parser.accept_word("WITH_STRICT_TYPES") || !parser.at_end()) fail("syntax_error");
      table.strict_types = true;
      continue;
    }
    if (is_table_constraint(argument)) {
      table.table_constraints.push_back(argument);
      continue;
    }
    if (!table.table_constraints.empty()) fail("syntax_error");  // columns come first
    table.columns.push_back(parse_column_definition(argument));
  }
  if (table.columns.empty()) fail("syntax_error");
  for (size_t i = 0; i < table.columns.size(); ++i) {
    const ColumnDefinition &column = table.columns[i];
    if (table.column_index(column.name) != static_cast<int>(i)) fail("invalid_argument");
    if (column.primary_key && !column.primary_key_descending && iequals(column.type, "INTEGER")) {
      table.integer_primary_key = static_cast<int>(i);
      table.renumber_on_sync = !iequals(column.primary_key_name, "z_ipk_no_change_on_sync");
    }
  }
  for (const std::string &constraint : table.table_constraints) read_table_constraint(constraint, table);
  return table;
}

std::vector<std::string> split_top_level(const std::string &text) {
  std::vector<std::string> parts;
  std::string current;
  int depth = 0;
  char quote = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quote) {
      current += c;
      if (c == quote) quote = 0;
      continue;
    }
    if (c == '\'' || c == '"' || c == '`') quote = c;
    if (c == '[') quote = ']';
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      parts.push_back(current);
      current.clear();
      continue;
    }
    current += c;
  }
  parts.push_back(current);
  for (std::string &part : parts) {
    size_t begin = part.find_first_not_of(" \t\r\n");
    size_t end = part.find_last_not_of(" \t\r\n");
    part = begin == std::string::npos ? std::string() : part.substr(begin, end - begin + 1);
  }
  return parts;
}

}  // namespace zumero
