// A tokenizer for the SQL fragments zumero accepts as table definitions, and a cursor
// over its tokens. It follows SQLite's own tokenizer (tokenize.c) closely enough that
// text rendered from the tokens means what the input meant, and is strict where
// SQLite would be lenient: NUL bytes, unterminated quotes and unknown characters are
// errors. Pure functions of their input: no global state, no database.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace zumero {

enum class TokenKind {
  Word,              // bare identifier or keyword, as written
  QuotedIdentifier,  // "x", [x] or `x`; text is the unquoted name
  String,            // 'x'; text is the unquoted value
  Blob,              // X'..'; text is the hex digits, upper-cased
  Number,            // as written
  Variable,          // ?, ?1, :x, @x, $x, #x: never accepted, kept so callers can say so
  Operator,          // punctuation and operators: ( ) , ; . || << >> <= >= == != <> -> ->> and single characters
  End,
};

struct Token {
  TokenKind kind = TokenKind::End;
  std::string text;
};

// Throws zumero:syntax_error on text SQLite could not tokenize (or that zumero refuses to).
// The result always ends with one End token.
std::vector<Token> tokenize_sql(std::string_view text);

// True for words SQLite reserves (sqlite3_keyword_check); those must be quoted to be names.
bool is_sql_keyword(std::string_view word);

// Reads tokens [begin, end) of a token vector; past the end it shows an End token.
class TokenCursor {
public:
  TokenCursor(const std::vector<Token> &tokens, size_t begin, size_t end);
  explicit TokenCursor(const std::vector<Token> &tokens);

  const Token &peek(size_t ahead = 0) const;
  const Token &next();
  bool at_end() const { return peek().kind == TokenKind::End; }
  size_t position() const { return position_; }

  bool is_word(const char *word, size_t ahead = 0) const;  // a bare word, case-insensitive
  bool accept_word(const char *word);
  void expect_word(const char *word);  // else syntax_error
  bool is_operator(const char *op, size_t ahead = 0) const;
  bool accept_operator(const char *op);
  void expect_operator(const char *op);  // else syntax_error

  // A name: a bare word that is not a keyword, or a quoted identifier (never a 'string').
  bool at_identifier(size_t ahead = 0) const;
  std::string identifier();  // else syntax_error

private:
  const std::vector<Token> &tokens_;
  size_t position_;
  size_t end_;
};

}  // namespace zumero
