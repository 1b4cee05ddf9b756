#include "base/expression.h"

#include <cctype>
#include <cstring>

#include <algorithm>

#include "base/sql.h"

namespace zumero {
namespace {

// SQLite's own scalar functions that neither reach outside the database nor depend on
// the connection (no load_extension, no application or zumero functions). random and
// randomblob are there for the guide's DEFAULT (random()) and UUID examples.
const std::string_view kAllowedFunctions[] = {
    "abs", "char", "coalesce", "format", "glob", "hex", "ifnull", "iif", "instr", "length", "like",
    "likelihood", "likely", "lower", "ltrim", "max", "min", "nullif", "printf", "quote", "random",
    "randomblob", "replace", "round", "rtrim", "sign", "substr", "substring", "trim", "typeof", "unhex",
    "unicode", "unlikely", "upper", "zeroblob",
    // date and time
    "date", "time", "datetime", "julianday", "strftime", "unixepoch",
    // CURRENT_DATE, CURRENT_TIME and CURRENT_TIMESTAMP, as SQLite's authorizer names them
    "current_date", "current_time", "current_timestamp",
    // math
    "acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "ceil", "ceiling", "cos", "cosh",
    "degrees", "exp", "floor", "ln", "log", "log10", "log2", "mod", "pi", "pow", "power", "radians",
    "sin", "sinh", "sqrt", "tan", "tanh", "trunc",
    // JSON
    "json", "json_array", "json_extract", "json_object", "json_quote", "json_type", "json_valid",
};

const char *const kRefusedOperators[] = {"->", "->>"};
const char *const kRefusedWords[] = {"SELECT", "EXISTS", "VALUES", "WITH", "RAISE", "REGEXP", "MATCH",
                                     "ISNULL", "NOTNULL", "OVER", "FILTER", "DISTINCT"};

bool is_refused_word(const Token &token) {
  if (token.kind != TokenKind::Word) return false;
  for (const char *word : kRefusedWords)
    if (iequals(token.text, word)) return true;
  return false;
}

void check_text(const std::string &text) {
  if (text.find('\0') != std::string::npos) fail("invalid_argument");
}

void check_name(const std::string &name) {
  if (name.empty() || name.size() > kMaxNameBytes) fail("invalid_argument");
  check_text(name);
}

std::string upper_ascii(std::string text) {
  for (char &c : text)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return text;
}

// Two characters that, side by side, would read as one operator or start a comment.
bool would_merge(char last, char first) {
  static const char *const pairs[] = {"--", "/*", "*/", "||", "<<", ">>", "<=", ">=", "==", "!=", "<>", "->"};
  for (const char *pair : pairs)
    if (pair[0] == last && pair[1] == first) return true;
  return false;
}

// Recursive descent over SQLite's precedence levels, from OR (lowest) to the unary
// operators. The pieces are emitted in input order; the levels only decide where an
// operand may stand, so the rendered text groups exactly as the input did.
class ExpressionParser {
public:
  ExpressionParser(TokenCursor &cursor, bool allow_columns) : cursor_(cursor), allow_columns_(allow_columns) {}

  Expression parse() {
    disjunction();
    finish();
    return std::move(out_);
  }

  // The unparenthesised forms of DEFAULT: a literal or keyword value, or a signed number.
  Expression default_value() {
    const Token &token = cursor_.peek();
    bool is_name = token.kind == TokenKind::QuotedIdentifier ||
                   (token.kind == TokenKind::Word && !is_sql_keyword(token.text) && !iequals(token.text, "TRUE") &&
                    !iequals(token.text, "FALSE"));
    if (token.kind == TokenKind::Variable || is_name || is_refused_word(token)) fail("invalid_argument");
    if (token.kind == TokenKind::Operator && (token.text == "+" || token.text == "-")) {
      emit(Expression::Kind::Operator, cursor_.next().text, false, true);
      if (cursor_.peek().kind != TokenKind::Number) fail("syntax_error");
      literal();
    } else if (!keyword_literal()) {
      literal();
    }
    return std::move(out_);
  }

private:
  void finish() {
    if (cursor_.is_operator(";")) fail("invalid_argument");
  }

  void emit(Expression::Kind kind, std::string text, bool glue_left = false, bool glue_right = false) {
    out_.append(Expression::Piece{kind, std::move(text), glue_left, glue_right});
  }
  void keyword(const char *word) { emit(Expression::Kind::Keyword, word); }
  void punctuation(const char *text, bool glue_left, bool glue_right) {
    emit(Expression::Kind::Punctuation, text, glue_left, glue_right);
  }

  void enter() {
    if (++depth_ > kMaxExpressionDepth) fail("invalid_argument");
  }
  void leave() { --depth_; }

  void refuse_construct(const Token &token) {
    if (token.kind == TokenKind::Variable || is_refused_word(token)) fail("invalid_argument");
    if (token.kind == TokenKind::Operator) {
      if (token.text == ";") fail("invalid_argument");
      for (const char *op : kRefusedOperators)
        if (token.text == op) fail("invalid_argument");
    }
  }

  void disjunction() {
    conjunction();
    while (cursor_.accept_word("OR")) {
      keyword("OR");
      conjunction();
    }
  }

  void conjunction() {
    negation();
    while (cursor_.accept_word("AND")) {
      keyword("AND");
      negation();
    }
  }

  void negation() {
    if (cursor_.accept_word("NOT")) {
      keyword("NOT");
      enter();
      negation();
      leave();
      return;
    }
    equality();
  }

  bool negated_operator_follows() const {
    if (!cursor_.is_word("NOT")) return false;
    for (const char *word : {"IN", "LIKE", "GLOB", "BETWEEN", "NULL", "MATCH", "REGEXP"})
      if (cursor_.is_word(word, 1)) return true;
    return false;
  }

  // = == != <> IS [NOT], [NOT] IN, [NOT] LIKE/GLOB [ESCAPE], [NOT] BETWEEN .. AND .., NOT NULL
  void equality() {
    comparison();
    for (;;) {
      const Token &token = cursor_.peek();
      if (token.kind == TokenKind::Operator &&
          (token.text == "=" || token.text == "==" || token.text == "!=" || token.text == "<>")) {
        emit(Expression::Kind::Operator, cursor_.next().text);
        comparison();
      } else if (cursor_.accept_word("IS")) {
        keyword("IS");
        if (cursor_.accept_word("NOT")) keyword("NOT");
        comparison();
      } else if (negated_operator_follows() || cursor_.is_word("IN") || cursor_.is_word("LIKE") ||
                 cursor_.is_word("GLOB") || cursor_.is_word("BETWEEN")) {
        if (cursor_.accept_word("NOT")) keyword("NOT");
        if (cursor_.accept_word("NULL")) {
          keyword("NULL");
        } else if (cursor_.accept_word("IN")) {
          keyword("IN");
          in_list();
        } else if (cursor_.accept_word("BETWEEN")) {
          keyword("BETWEEN");
          comparison();
          cursor_.expect_word("AND");
          keyword("AND");
          comparison();
        } else if (cursor_.is_word("LIKE") || cursor_.is_word("GLOB")) {
          bool like = cursor_.is_word("LIKE");
          cursor_.next();
          keyword(like ? "LIKE" : "GLOB");
          comparison();
          if (cursor_.accept_word("ESCAPE")) {
            keyword("ESCAPE");
            comparison();
          }
        } else {
          refuse_construct(cursor_.peek());  // NOT MATCH, NOT REGEXP
          fail("syntax_error");
        }
      } else {
        refuse_construct(token);
        return;
      }
    }
  }

  // A parenthesised list of values; never a subquery or a table.
  void in_list() {
    if (!cursor_.is_operator("(")) {
      refuse_construct(cursor_.peek());
      if (cursor_.at_identifier()) fail("invalid_argument");  // IN table, IN table-function(...)
      fail("syntax_error");
    }
    cursor_.next();
    punctuation("(", false, true);
    enter();
    refuse_construct(cursor_.peek());
    if (!cursor_.is_operator(")")) {
      disjunction();
      while (cursor_.accept_operator(",")) {
        punctuation(",", true, false);
        disjunction();
      }
    }
    close_parenthesis();
    leave();
  }

  void close_parenthesis() {
    refuse_construct(cursor_.peek());
    cursor_.expect_operator(")");
    punctuation(")", true, false);
  }

  template <typename Next>
  void binary(const std::initializer_list<const char *> &operators, Next next) {
    next();
    for (;;) {
      const Token &token = cursor_.peek();
      if (token.kind != TokenKind::Operator ||
          std::none_of(operators.begin(), operators.end(), [&](const char *op) { return token.text == op; }))
        return;
      emit(Expression::Kind::Operator, cursor_.next().text);
      next();
    }
  }

  void comparison() { binary({"<", "<=", ">", ">="}, [this] { bitwise(); }); }
  void bitwise() { binary({"&", "|", "<<", ">>"}, [this] { additive(); }); }
  void additive() { binary({"+", "-"}, [this] { multiplicative(); }); }
  void multiplicative() { binary({"*", "/", "%"}, [this] { concatenation(); }); }
  void concatenation() { binary({"||"}, [this] { collated(); }); }

  void collated() {
    unary();
    while (cursor_.accept_word("COLLATE")) {
      keyword("COLLATE");
      std::string name = cursor_.identifier();
      check_name(name);
      if (!is_builtin_collation(name)) fail("invalid_argument");
      emit(Expression::Kind::Collation, name);
    }
  }

  void unary() {
    const Token &token = cursor_.peek();
    if (token.kind == TokenKind::Operator && (token.text == "-" || token.text == "+" || token.text == "~")) {
      emit(Expression::Kind::Operator, cursor_.next().text, false, true);
      enter();
      unary();
      leave();
      return;
    }
    primary();
  }

  void literal() {
    const Token &token = cursor_.next();
    switch (token.kind) {
      case TokenKind::Number: emit(Expression::Kind::Number, token.text); break;
      case TokenKind::String:
        check_text(token.text);
        emit(Expression::Kind::String, token.text);
        break;
      case TokenKind::Blob: emit(Expression::Kind::Blob, token.text); break;
      default: fail("syntax_error");
    }
  }

  bool keyword_literal() {
    for (const char *word : {"NULL", "TRUE", "FALSE", "CURRENT_TIME", "CURRENT_DATE", "CURRENT_TIMESTAMP"}) {
      if (cursor_.accept_word(word)) {
        keyword(word);
        return true;
      }
    }
    return false;
  }

  void primary() {
    const Token &token = cursor_.peek();
    refuse_construct(token);
    switch (token.kind) {
      case TokenKind::Number:
      case TokenKind::String:
      case TokenKind::Blob: literal(); return;
      case TokenKind::Operator:
        if (token.text != "(") fail("syntax_error");
        cursor_.next();
        punctuation("(", false, true);
        enter();
        refuse_construct(cursor_.peek());
        disjunction();
        close_parenthesis();
        leave();
        return;
      case TokenKind::QuotedIdentifier:
        if (cursor_.is_operator("(", 1)) function_call();
        else column();
        return;
      case TokenKind::Word: break;
      default: fail("syntax_error");
    }
    if (cursor_.is_word("CASE")) return case_expression();
    if (cursor_.is_word("CAST")) return cast();
    if (cursor_.is_operator("(", 1)) return function_call();
    if (keyword_literal()) return;
    if (!is_sql_keyword(token.text)) return column();
    fail("syntax_error");
  }

  void column() {
    if (!allow_columns_) fail("invalid_argument");
    std::string name = cursor_.next().text;
    check_name(name);
    emit(Expression::Kind::Column, name);
  }

  void function_call() {
    std::string name = lower_ascii(cursor_.next().text);
    if (!is_allowed_function(name)) fail("invalid_argument");
    emit(Expression::Kind::Function, name, false, true);
    cursor_.expect_operator("(");
    punctuation("(", true, true);
    enter();
    const Token &first = cursor_.peek();
    if (first.kind == TokenKind::Operator && first.text == "*") fail("invalid_argument");
    if (first.kind == TokenKind::Word && iequals(first.text, "ALL")) fail("invalid_argument");
    refuse_construct(first);
    if (name == "printf" || name == "format") check_format(first);
    if (!cursor_.is_operator(")")) {
      disjunction();
      while (cursor_.accept_operator(",")) {
        punctuation(",", true, false);
        disjunction();
      }
    }
    close_parenthesis();
    leave();
    refuse_construct(cursor_.peek());  // FILTER (...), OVER (...)
  }

  // printf and format cut a result at SQLite's length limit instead of failing, so a
  // width or precision could fill a row with megabytes from a few bytes of definition:
  // the format must be a literal, and its widths and precisions small numbers.
  static void check_format(const Token &format) {
    if (format.kind != TokenKind::String) fail("invalid_argument");
    const std::string &text = format.text;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] != '%') continue;
      std::size_t digits = 0;
      for (++i; i < text.size() && std::strchr("-+ #0123456789.*,!l", text[i]); ++i) {
        if (text[i] == '*') fail("invalid_argument");
        digits = std::isdigit(static_cast<unsigned char>(text[i])) ? digits + 1 : 0;
        if (digits > 3) fail("invalid_argument");
      }
    }
  }

  void case_expression() {
    cursor_.next();
    keyword("CASE");
    enter();
    if (!cursor_.is_word("WHEN")) disjunction();
    if (!cursor_.is_word("WHEN")) fail("syntax_error");
    while (cursor_.accept_word("WHEN")) {
      keyword("WHEN");
      disjunction();
      cursor_.expect_word("THEN");
      keyword("THEN");
      disjunction();
    }
    if (cursor_.accept_word("ELSE")) {
      keyword("ELSE");
      disjunction();
    }
    cursor_.expect_word("END");
    keyword("END");
    leave();
  }

  void cast() {
    cursor_.next();
    emit(Expression::Kind::Keyword, "CAST", false, true);
    cursor_.expect_operator("(");
    punctuation("(", true, true);
    enter();
    disjunction();
    cursor_.expect_word("AS");
    keyword("AS");
    std::string type = parse_type_name(cursor_);
    if (type.empty()) fail("syntax_error");
    emit(Expression::Kind::Type, type);
    close_parenthesis();
    leave();
  }

  TokenCursor &cursor_;
  bool allow_columns_;
  Expression out_;
  int depth_ = 0;
};

}  // namespace

void Expression::append(Piece piece) {
  if (pieces_.size() >= kMaxExpressionPieces) fail("invalid_argument");
  pieces_.push_back(std::move(piece));
}

std::string Expression::sql() const {
  std::string out;
  for (size_t i = 0; i < pieces_.size(); ++i) {
    const Piece &piece = pieces_[i];
    std::string text;
    switch (piece.kind) {
      case Kind::Column:
      case Kind::Collation: text = quote_identifier(piece.text); break;
      case Kind::String: text = quote_literal(piece.text); break;
      case Kind::Blob: text = "X'" + piece.text + "'"; break;
      default: text = piece.text;
    }
    if (i > 0) {
      const Piece &previous = pieces_[i - 1];
      bool glued = previous.glue_right || piece.glue_left;
      // "- -1" must not become the comment "--1".
      if (!glued || (!out.empty() && !text.empty() && would_merge(out.back(), text[0]))) out += ' ';
    }
    out += text;
  }
  return out;
}

std::vector<std::string> Expression::column_references() const {
  std::vector<std::string> names;
  for (const Piece &piece : pieces_)
    if (piece.kind == Kind::Column) names.push_back(piece.text);
  return names;
}

bool same_expression(const Expression &a, const Expression &b) {
  const auto &left = a.pieces();
  const auto &right = b.pieces();
  if (left.size() != right.size()) return false;
  for (size_t i = 0; i < left.size(); ++i) {
    if (left[i].kind != right[i].kind) return false;
    bool is_name = left[i].kind == Expression::Kind::Column || left[i].kind == Expression::Kind::Collation;
    if (is_name ? !iequals(left[i].text, right[i].text) : left[i].text != right[i].text) return false;
  }
  return true;
}

Expression parse_expression(TokenCursor &cursor, bool allow_columns) {
  return ExpressionParser(cursor, allow_columns).parse();
}

Expression parse_default_value(TokenCursor &cursor) {
  if (cursor.accept_operator("(")) {
    Expression value = parse_expression(cursor, false);
    cursor.expect_operator(")");
    return value;
  }
  return ExpressionParser(cursor, false).default_value();
}

namespace {

// A signed number inside a type's parentheses, as SQLite's grammar allows.
std::string type_argument(TokenCursor &cursor) {
  std::string sign;
  if (cursor.is_operator("+") || cursor.is_operator("-")) sign = cursor.next().text;
  if (cursor.peek().kind != TokenKind::Number) fail("syntax_error");
  return sign + cursor.next().text;
}

}  // namespace

std::string parse_type_name(TokenCursor &cursor) {
  std::string type;
  while (cursor.peek().kind == TokenKind::Word && !is_sql_keyword(cursor.peek().text)) {
    if (!type.empty()) type += ' ';
    type += upper_ascii(cursor.next().text);
  }
  if (type.empty() || !cursor.accept_operator("(")) return type;
  type += "(" + type_argument(cursor);
  if (cursor.accept_operator(",")) type += ", " + type_argument(cursor);
  cursor.expect_operator(")");
  return type + ")";
}

bool is_builtin_collation(std::string_view name) {
  return iequals(name, "BINARY") || iequals(name, "NOCASE") || iequals(name, "RTRIM");
}

bool is_allowed_function(std::string_view lower_name) {
  return std::find(std::begin(kAllowedFunctions), std::end(kAllowedFunctions), lower_name) !=
         std::end(kAllowedFunctions);
}

}  // namespace zumero
