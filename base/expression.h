// Expressions inside table definitions (DEFAULT, CHECK, and the indexes of an adopted
// table), parsed into a checked sequence of pieces and rendered again from them.
//
// Accepted: numeric, string and blob literals; NULL TRUE FALSE CURRENT_TIME CURRENT_DATE
// CURRENT_TIMESTAMP; the operators || * / % + - << >> & | ~ < <= > >= = == != <>; NOT
// AND OR IS [NOT] IN (list) BETWEEN LIKE GLOB ESCAPE CASE WHEN THEN ELSE END
// CAST(x AS type) COLLATE; parentheses; calls to SQLite's own scalar functions listed in
// expression.cpp; column names where the caller allows them.
//
// Errors (zumero::Error):
//   syntax_error      text that is not a well-formed expression
//   invalid_argument  a construct zumero refuses: subqueries (SELECT, EXISTS, IN (SELECT..),
//                     IN table), bind parameters, REGEXP, MATCH, RAISE, OVER, FILTER, ISNULL,
//                     NOTNULL, IS DISTINCT FROM, -> and ->>, ';', a function not in the list,
//                     DISTINCT or * arguments, a column where none is allowed, a string or
//                     name holding a NUL byte, more than kMaxExpressionPieces pieces;
//                     what SQLite would refuse when it compiles the expression: a call
//                     with an argument count SQLite does not take, likelihood() without a
//                     literal probability (0.0 to 1.0) second, a hex literal above 64 bits,
//                     nesting beyond kMaxExpressionNesting or a tree taller than
//                     kMaxExpressionHeight.
//
// Rendering: keywords upper-case, functions lower-case, names double-quoted, strings
// single-quoted, numbers as written. The pieces balance their parentheses, so rendered
// text placed inside "( ... )" cannot end that parenthesis early.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "base/sql_tokenizer.h"

namespace zumero {

constexpr size_t kMaxExpressionPieces = 10000;
constexpr size_t kMaxNameBytes = 128;  // for every name: tables, columns, collations, constraints
// SQLite 3.40 parses with a stack of 100 entries ("parser stack overflow") and refuses
// expression trees higher than 1000 ("Expression tree is too large"). The statements
// zumero wraps a definition's expressions in take up to about 20 entries themselves, so
// an expression may hold at most kMaxExpressionNesting entries of unfinished constructs
// at once: one for each open parenthesis or prefix operator, two for a pending binary
// operator, six for a CASE (see ExpressionParser in expression.cpp).
constexpr int kMaxExpressionNesting = 64;
constexpr int kMaxExpressionHeight = 250;
// SQLite's default SQLITE_MAX_FUNCTION_ARG is 127.
constexpr int kMaxFunctionArguments = 100;

class Expression {
public:
  enum class Kind { Keyword, Operator, Punctuation, Function, Column, Collation, String, Number, Blob, Type };
  struct Piece {
    Kind kind;
    std::string text;         // canonical: unquoted for names and strings
    bool glue_left = false;   // no space before
    bool glue_right = false;  // no space after
  };

  bool empty() const { return pieces_.empty(); }
  const std::vector<Piece> &pieces() const { return pieces_; }
  std::string sql() const;
  // Names of the columns the expression reads, as written.
  std::vector<std::string> column_references() const;

  void append(Piece piece);  // enforces kMaxExpressionPieces

private:
  std::vector<Piece> pieces_;
};

// Same meaning: the same pieces, names compared case-insensitively.
bool same_expression(const Expression &a, const Expression &b);

// Reads one expression from the cursor and stops before the first token that cannot
// continue it (the caller checks what follows). Column names only when allow_columns.
Expression parse_expression(TokenCursor &cursor, bool allow_columns);

// Reads the value after DEFAULT: "(expr)", a literal, a signed number, NULL, TRUE,
// FALSE or CURRENT_TIME/DATE/TIMESTAMP. Returns the expression without the parentheses.
Expression parse_default_value(TokenCursor &cursor);

// Reads a declared type in canonical form: type words upper-cased and separated by
// single spaces, optionally followed by "(n)" or "(n, m)". Type words are bare words
// that are not keywords. Empty when the next token is not a type word.
std::string parse_type_name(TokenCursor &cursor);

// True for the built-in scalar functions expressions may use (name in lower case), as
// SQLite's authorizer names them: the callable ones and CURRENT_DATE/TIME/TIMESTAMP.
bool is_allowed_function(std::string_view lower_name);
// BINARY, NOCASE and RTRIM, in any case: the collations every SQLite (the server's and
// every client's) has. Others are refused with invalid_argument.
bool is_builtin_collation(std::string_view name);

}  // namespace zumero
