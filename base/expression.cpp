#include "base/expression.h"

#include <cctype>
#include <cstring>

#include <algorithm>

#include "base/sql.h"

namespace zumero {
namespace {

// SQLite's own scalar functions that neither reach outside the database nor depend on
// the connection (no load_extension, no application or zumero functions), each with the
// argument counts SQLite 3.40 registers for it: a call with another count is refused by
// SQLite when it compiles the expression ("wrong number of arguments"), or runs into an
// error every time it is evaluated. random and randomblob are there for the guide's
// DEFAULT (random()) and UUID examples. Only functions every supported SQLite has
// (3.40 on): unhex, for one, arrived in 3.41.
struct CallableFunction {
  std::string_view name;
  int min_arguments;
  int max_arguments;  // kVariadic: up to kMaxFunctionArguments
};
constexpr int kVariadic = -1;

const CallableFunction kCallableFunctions[] = {
    {"abs", 1, 1}, {"char", 0, kVariadic}, {"coalesce", 2, kVariadic}, {"format", 0, kVariadic}, {"glob", 2, 2},
    {"hex", 1, 1}, {"ifnull", 2, 2}, {"iif", 3, 3}, {"instr", 2, 2}, {"length", 1, 1}, {"like", 2, 3},
    {"likelihood", 2, 2}, {"likely", 1, 1}, {"lower", 1, 1}, {"ltrim", 1, 2},
    // with one argument, max and min are the aggregates, which a definition cannot use
    {"max", 2, kVariadic}, {"min", 2, kVariadic}, {"nullif", 2, 2}, {"printf", 0, kVariadic}, {"quote", 1, 1},
    {"random", 0, 0}, {"randomblob", 1, 1}, {"replace", 3, 3}, {"round", 1, 2}, {"rtrim", 1, 2}, {"sign", 1, 1},
    {"substr", 2, 3}, {"substring", 2, 3}, {"trim", 1, 2}, {"typeof", 1, 1}, {"unicode", 1, 1},
    {"unlikely", 1, 1}, {"upper", 1, 1}, {"zeroblob", 1, 1},
    // date and time
    {"date", 0, kVariadic}, {"time", 0, kVariadic}, {"datetime", 0, kVariadic}, {"julianday", 0, kVariadic},
    {"strftime", 0, kVariadic}, {"unixepoch", 0, kVariadic},
    // math
    {"acos", 1, 1}, {"acosh", 1, 1}, {"asin", 1, 1}, {"asinh", 1, 1}, {"atan", 1, 1}, {"atan2", 2, 2},
    {"atanh", 1, 1}, {"ceil", 1, 1}, {"ceiling", 1, 1}, {"cos", 1, 1}, {"cosh", 1, 1}, {"degrees", 1, 1},
    {"exp", 1, 1}, {"floor", 1, 1}, {"ln", 1, 1}, {"log", 1, 2}, {"log10", 1, 1}, {"log2", 1, 1}, {"mod", 2, 2},
    {"pi", 0, 0}, {"pow", 2, 2}, {"power", 2, 2}, {"radians", 1, 1}, {"sin", 1, 1}, {"sinh", 1, 1},
    {"sqrt", 1, 1}, {"tan", 1, 1}, {"tanh", 1, 1}, {"trunc", 1, 1},
    // JSON; json_object takes name/value pairs and fails on an odd count when it runs
    {"json", 1, 1}, {"json_array", 0, kVariadic}, {"json_extract", 0, kVariadic}, {"json_object", 0, kVariadic},
    {"json_quote", 1, 1}, {"json_type", 1, 2}, {"json_valid", 1, 1},
};

// CURRENT_DATE, CURRENT_TIME and CURRENT_TIMESTAMP, as SQLite's authorizer names them.
// They are keywords, never called with parentheses.
const std::string_view kKeywordFunctions[] = {"current_date", "current_time", "current_timestamp"};

const CallableFunction *callable_function(std::string_view lower_name) {
  for (const CallableFunction &function : kCallableFunctions)
    if (function.name == lower_name) return &function;
  return nullptr;
}

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

// A hex literal SQLite can hold in 64 bits: at most 16 digits after leading zeros.
// A longer one makes every statement that uses it fail to compile ("hex literal too big").
bool hex_literal_fits(const std::string &text) {
  if (text.size() < 2 || (text[1] != 'x' && text[1] != 'X')) return true;
  std::size_t first = text.find_first_not_of('0', 2);
  return first == std::string::npos || text.size() - first <= 16;
}

// True for a floating-point literal whose value is at most 1: what SQLite accepts as the
// second argument of likelihood() (exprProbability in resolve.c). The value is compared
// in decimal, exactly, so no rounding (and no locale) decides.
bool is_probability_literal(const std::string &text) {
  if (text.size() > 1 && (text[1] == 'x' || text[1] == 'X')) return false;
  const std::size_t exponent_at = text.find_first_of("eE");
  const std::string mantissa = text.substr(0, exponent_at);
  if (mantissa.find('.') == std::string::npos && exponent_at == std::string::npos) return false;  // an integer
  // value = digits * 10^scale, with digits free of leading and trailing zeros
  long long scale = 0;
  if (exponent_at != std::string::npos) {
    std::size_t i = exponent_at + 1;
    bool negative = i < text.size() && text[i] == '-';
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
    for (; i < text.size(); ++i) scale = std::min(scale * 10 + (text[i] - '0'), 1000000000LL);
    if (negative) scale = -scale;
  }
  std::string digits;
  bool after_point = false;
  for (char c : mantissa) {
    if (c == '.') {
      after_point = true;
    } else {
      if (after_point) --scale;
      if (!digits.empty() || c != '0') digits += c;
    }
  }
  while (!digits.empty() && digits.back() == '0') {
    digits.pop_back();
    ++scale;
  }
  if (digits.empty()) return true;  // zero
  // digits * 10^scale lies in [10^top, 10^(top+1)): below 1 when top < 0; 1 itself only as "1".
  const long long top = static_cast<long long>(digits.size()) - 1 + scale;
  return top < 0 || (top == 0 && digits == "1");
}

// Recursive descent over SQLite's precedence levels, from OR (lowest) to the unary
// operators. The pieces are emitted in input order; the levels only decide where an
// operand may stand, so the rendered text groups exactly as the input did.
//
// Two of SQLite's limits are followed on the way. Each parse function returns the height
// of the tree SQLite builds for what it read (a node per operator, call, CASE, CAST and
// COLLATE; parentheses add none), bounded by kMaxExpressionHeight. And while an inner
// expression is read, Nested charges what SQLite's parser keeps on its stack for the
// unfinished construct around it (for "a + (", the "a", the "+" and the "("), bounded by
// kMaxExpressionNesting; the charges are those of SQLite's grammar (parse.y).
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
  // Parser stack entries SQLite holds while the inner expression of a construct is read.
  static constexpr int kOperatorRight = 2;        // expr OP
  static constexpr int kIsNotRight = 3;           // expr IS NOT
  static constexpr int kPrefix = 1;               // NOT, -, +, ~
  static constexpr int kParenthesis = 1;          // (
  static constexpr int kCastOperand = 2;          // CAST (
  static constexpr int kCaseBranch = 6;           // CASE operand branches WHEN expr THEN
  static constexpr int kInListItem = 5;           // expr IN ( items ,
  static constexpr int kBetweenLower = 2;         // expr BETWEEN
  static constexpr int kBetweenUpper = 4;         // expr BETWEEN expr AND
  static constexpr int kLikePattern = 2;          // expr LIKE
  static constexpr int kLikeEscape = 4;           // expr LIKE expr ESCAPE
  static constexpr int kPostfix = 2;              // expr COLLATE name, expr NOT NULL
  static constexpr int kCastType = 8;             // (CAST ( then) expr AS type ( n , m
  static constexpr int kCall = 5;                 // name ( distinct arguments , or )

  class Nested {
  public:
    Nested(ExpressionParser &parser, int entries) : parser_(parser), entries_(entries) {
      parser_.nesting_ += entries_;
      if (parser_.nesting_ > kMaxExpressionNesting) fail("invalid_argument");
    }
    ~Nested() { parser_.nesting_ -= entries_; }
    Nested(const Nested &) = delete;
    Nested &operator=(const Nested &) = delete;

  private:
    ExpressionParser &parser_;
    int entries_;
  };

  // The height of a node above children of height `below`.
  static int node(int below) {
    if (below + 1 > kMaxExpressionHeight) fail("invalid_argument");
    return below + 1;
  }

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

  void refuse_construct(const Token &token) {
    if (token.kind == TokenKind::Variable || is_refused_word(token)) fail("invalid_argument");
    if (token.kind == TokenKind::Operator) {
      if (token.text == ";") fail("invalid_argument");
      for (const char *op : kRefusedOperators)
        if (token.text == op) fail("invalid_argument");
    }
  }

  int disjunction() {
    int height = conjunction();
    while (cursor_.accept_word("OR")) {
      keyword("OR");
      Nested nested(*this, kOperatorRight);
      height = node(std::max(height, conjunction()));
    }
    return height;
  }

  int conjunction() {
    int height = negation();
    while (cursor_.accept_word("AND")) {
      keyword("AND");
      Nested nested(*this, kOperatorRight);
      height = node(std::max(height, negation()));
    }
    return height;
  }

  int negation() {
    if (cursor_.accept_word("NOT")) {
      keyword("NOT");
      Nested nested(*this, kPrefix);
      return node(negation());
    }
    return equality();
  }

  bool negated_operator_follows() const {
    if (!cursor_.is_word("NOT")) return false;
    for (const char *word : {"IN", "LIKE", "GLOB", "BETWEEN", "NULL", "MATCH", "REGEXP"})
      if (cursor_.is_word(word, 1)) return true;
    return false;
  }

  // comparison() with `entries` charged while it is read.
  int nested_comparison(int entries) {
    Nested nested(*this, entries);
    return comparison();
  }

  // = == != <> IS [NOT], [NOT] IN, [NOT] LIKE/GLOB [ESCAPE], [NOT] BETWEEN .. AND .., NOT NULL
  int equality() {
    int height = comparison();
    for (;;) {
      const Token &token = cursor_.peek();
      if (token.kind == TokenKind::Operator &&
          (token.text == "=" || token.text == "==" || token.text == "!=" || token.text == "<>")) {
        emit(Expression::Kind::Operator, cursor_.next().text);
        height = node(std::max(height, nested_comparison(kOperatorRight)));
      } else if (cursor_.accept_word("IS")) {
        keyword("IS");
        bool negated = cursor_.accept_word("NOT");
        if (negated) keyword("NOT");
        height = node(std::max(height, nested_comparison(negated ? kIsNotRight : kOperatorRight)));
      } else if (negated_operator_follows() || cursor_.is_word("IN") || cursor_.is_word("LIKE") ||
                 cursor_.is_word("GLOB") || cursor_.is_word("BETWEEN")) {
        if (cursor_.accept_word("NOT")) keyword("NOT");
        if (cursor_.accept_word("NULL")) {
          Nested nested(*this, kPostfix);
          keyword("NULL");
          height = node(height);
        } else if (cursor_.accept_word("IN")) {
          keyword("IN");
          height = node(std::max(height, in_list()));
        } else if (cursor_.accept_word("BETWEEN")) {
          keyword("BETWEEN");
          int lower = nested_comparison(kBetweenLower);
          cursor_.expect_word("AND");
          keyword("AND");
          int upper = nested_comparison(kBetweenUpper);
          height = node(std::max({height, lower, upper}));
        } else if (cursor_.is_word("LIKE") || cursor_.is_word("GLOB")) {
          bool like = cursor_.is_word("LIKE");
          cursor_.next();
          keyword(like ? "LIKE" : "GLOB");
          int pattern = nested_comparison(kLikePattern);
          int escape = 0;
          // GLOB takes no ESCAPE: SQLite would call glob() with three arguments.
          if (!like && cursor_.is_word("ESCAPE")) fail("invalid_argument");
          if (cursor_.accept_word("ESCAPE")) {
            keyword("ESCAPE");
            escape = nested_comparison(kLikeEscape);
          }
          height = node(std::max({height, pattern, escape}));
        } else {
          refuse_construct(cursor_.peek());  // NOT MATCH, NOT REGEXP
          fail("syntax_error");
        }
      } else {
        refuse_construct(token);
        return height;
      }
    }
  }

  // A parenthesised list of values; never a subquery or a table. Returns the height of
  // its highest value (0 for an empty list).
  int in_list() {
    if (!cursor_.is_operator("(")) {
      refuse_construct(cursor_.peek());
      if (cursor_.at_identifier()) fail("invalid_argument");  // IN table, IN table-function(...)
      fail("syntax_error");
    }
    cursor_.next();
    punctuation("(", false, true);
    Nested nested(*this, kInListItem);
    refuse_construct(cursor_.peek());
    int height = 0;
    if (!cursor_.is_operator(")")) {
      height = disjunction();
      while (cursor_.accept_operator(",")) {
        punctuation(",", true, false);
        height = std::max(height, disjunction());
      }
    }
    close_parenthesis();
    return height;
  }

  void close_parenthesis() {
    refuse_construct(cursor_.peek());
    cursor_.expect_operator(")");
    punctuation(")", true, false);
  }

  template <typename Next>
  int binary(const std::initializer_list<const char *> &operators, Next next) {
    int height = next();
    for (;;) {
      const Token &token = cursor_.peek();
      if (token.kind != TokenKind::Operator ||
          std::none_of(operators.begin(), operators.end(), [&](const char *op) { return token.text == op; }))
        return height;
      emit(Expression::Kind::Operator, cursor_.next().text);
      Nested nested(*this, kOperatorRight);
      height = node(std::max(height, next()));
    }
  }

  int comparison() { return binary({"<", "<=", ">", ">="}, [this] { return bitwise(); }); }
  int bitwise() { return binary({"&", "|", "<<", ">>"}, [this] { return additive(); }); }
  int additive() { return binary({"+", "-"}, [this] { return multiplicative(); }); }
  int multiplicative() { return binary({"*", "/", "%"}, [this] { return concatenation(); }); }
  int concatenation() { return binary({"||"}, [this] { return collated(); }); }

  int collated() {
    int height = unary();
    while (cursor_.accept_word("COLLATE")) {
      Nested nested(*this, kPostfix);
      keyword("COLLATE");
      std::string name = cursor_.identifier();
      check_name(name);
      if (!is_builtin_collation(name)) fail("invalid_argument");
      emit(Expression::Kind::Collation, name);
      height = node(height);
    }
    return height;
  }

  int unary() {
    const Token &token = cursor_.peek();
    if (token.kind == TokenKind::Operator && (token.text == "-" || token.text == "+" || token.text == "~")) {
      emit(Expression::Kind::Operator, cursor_.next().text, false, true);
      Nested nested(*this, kPrefix);
      return node(unary());
    }
    return primary();
  }

  int literal() {
    const Token &token = cursor_.next();
    switch (token.kind) {
      case TokenKind::Number:
        if (!hex_literal_fits(token.text)) fail("invalid_argument");
        emit(Expression::Kind::Number, token.text);
        break;
      case TokenKind::String:
        check_text(token.text);
        emit(Expression::Kind::String, token.text);
        break;
      case TokenKind::Blob: emit(Expression::Kind::Blob, token.text); break;
      default: fail("syntax_error");
    }
    return 1;
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

  int primary() {
    const Token &token = cursor_.peek();
    refuse_construct(token);
    switch (token.kind) {
      case TokenKind::Number:
      case TokenKind::String:
      case TokenKind::Blob: return literal();
      case TokenKind::Operator: {
        if (token.text != "(") fail("syntax_error");
        cursor_.next();
        punctuation("(", false, true);
        Nested nested(*this, kParenthesis);
        refuse_construct(cursor_.peek());
        int height = disjunction();
        close_parenthesis();
        return height;
      }
      case TokenKind::QuotedIdentifier:
        if (cursor_.is_operator("(", 1)) return function_call();
        return column();
      case TokenKind::Word: break;
      default: fail("syntax_error");
    }
    if (cursor_.is_word("CASE")) return case_expression();
    if (cursor_.is_word("CAST")) return cast();
    if (cursor_.is_operator("(", 1)) return function_call();
    if (keyword_literal()) return 1;
    if (!is_sql_keyword(token.text)) return column();
    fail("syntax_error");
  }

  int column() {
    if (!allow_columns_) fail("invalid_argument");
    std::string name = cursor_.next().text;
    check_name(name);
    emit(Expression::Kind::Column, name);
    return 1;
  }

  int function_call() {
    std::string name = lower_ascii(cursor_.next().text);
    const CallableFunction *function = callable_function(name);
    if (!function) fail("invalid_argument");
    emit(Expression::Kind::Function, name, false, true);
    cursor_.expect_operator("(");
    punctuation("(", true, true);
    const Token &first = cursor_.peek();
    if (first.kind == TokenKind::Operator && first.text == "*") fail("invalid_argument");
    if (first.kind == TokenKind::Word && iequals(first.text, "ALL")) fail("invalid_argument");
    refuse_construct(first);
    if (name == "printf" || name == "format") check_format(first);
    Nested call(*this, kCall);
    int arguments = 0;
    int height = 0;
    if (!cursor_.is_operator(")")) {
      do {
        if (arguments > 0) punctuation(",", true, false);
        if (++arguments > kMaxFunctionArguments) fail("invalid_argument");
        const std::size_t argument_start = out_.pieces().size();
        height = std::max(height, disjunction());
        if (name == "likelihood" && arguments == 2) check_probability(argument_start);
      } while (cursor_.accept_operator(","));
    }
    close_parenthesis();
    check_argument_count(*function, arguments);
    refuse_construct(cursor_.peek());  // FILTER (...), OVER (...)
    return node(height);
  }

  static void check_argument_count(const CallableFunction &function, int arguments) {
    int most = function.max_arguments == kVariadic ? kMaxFunctionArguments : function.max_arguments;
    if (arguments < function.min_arguments || arguments > most) fail("invalid_argument");
    if (function.name == "json_object" && arguments % 2 != 0) fail("invalid_argument");
  }

  // The pieces from `start` on, likelihood()'s second argument, must be a literal SQLite
  // takes as a probability, in parentheses or not.
  void check_probability(std::size_t start) const {
    const auto &pieces = out_.pieces();
    int literals = 0;
    for (std::size_t i = start; i < pieces.size(); ++i) {
      const Expression::Piece &piece = pieces[i];
      if (piece.kind == Expression::Kind::Punctuation && (piece.text == "(" || piece.text == ")")) continue;
      if (piece.kind != Expression::Kind::Number || !is_probability_literal(piece.text)) fail("invalid_argument");
      ++literals;
    }
    if (literals != 1) fail("invalid_argument");
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

  int case_expression() {
    cursor_.next();
    keyword("CASE");
    Nested nested(*this, kCaseBranch);
    int height = 0;
    if (!cursor_.is_word("WHEN")) height = disjunction();
    if (!cursor_.is_word("WHEN")) fail("syntax_error");
    while (cursor_.accept_word("WHEN")) {
      keyword("WHEN");
      height = std::max(height, disjunction());
      cursor_.expect_word("THEN");
      keyword("THEN");
      height = std::max(height, disjunction());
    }
    if (cursor_.accept_word("ELSE")) {
      keyword("ELSE");
      height = std::max(height, disjunction());
    }
    cursor_.expect_word("END");
    keyword("END");
    return node(height);
  }

  int cast() {
    cursor_.next();
    emit(Expression::Kind::Keyword, "CAST", false, true);
    cursor_.expect_operator("(");
    punctuation("(", true, true);
    Nested nested(*this, kCastOperand);
    int height = disjunction();
    cursor_.expect_word("AS");
    keyword("AS");
    Nested type_name(*this, kCastType);
    std::string type = parse_type_name(cursor_);
    if (type.empty()) fail("syntax_error");
    emit(Expression::Kind::Type, type);
    close_parenthesis();
    return node(height);
  }

  TokenCursor &cursor_;
  bool allow_columns_;
  Expression out_;
  int nesting_ = 0;
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
  return callable_function(lower_name) ||
         std::find(std::begin(kKeywordFunctions), std::end(kKeywordFunctions), lower_name) !=
             std::end(kKeywordFunctions);
}

}  // namespace zumero
