#include "base/sql_tokenizer.h"

#include "base/sql.h"

namespace zumero {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex_digit(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
// As in SQLite: letters, '_' and every byte of a multi-byte UTF-8 sequence start a word;
// digits and '$' may follow.
bool starts_word(char c) { return is_letter(c) || c == '_' || (static_cast<unsigned char>(c) & 0x80); }
bool continues_word(char c) { return starts_word(c) || is_digit(c) || c == '$'; }

char upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

// Reads a quoted run whose opening quote is at pos; returns the position after the
// closing quote. A doubled closing quote stands for itself, except in [brackets].
size_t read_quoted(std::string_view text, size_t pos, char close, std::string &value) {
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
  fail("syntax_error");  // unterminated
}

size_t read_digits(std::string_view text, size_t i) {
  while (i < text.size() && is_digit(text[i])) ++i;
  return i;
}

// Numbers as SQLite reads them: 12, 1.5, .5, 1., 1e10, 2.5E-3, 0x1F. A number running
// straight into a word character is an error, as it is for SQLite.
size_t read_number(std::string_view text, size_t i) {
  if (text[i] == '0' && i + 2 < text.size() && (text[i + 1] == 'x' || text[i + 1] == 'X') &&
      is_hex_digit(text[i + 2])) {
    i += 2;
    while (i < text.size() && is_hex_digit(text[i])) ++i;
  } else {
    i = read_digits(text, i);
    if (i < text.size() && text[i] == '.') i = read_digits(text, i + 1);
    if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
      size_t exponent = i + 1;
      if (exponent < text.size() && (text[exponent] == '+' || text[exponent] == '-')) ++exponent;
      if (exponent >= text.size() || !is_digit(text[exponent])) fail("syntax_error");
      i = read_digits(text, exponent);
    }
  }
  if (i < text.size() && (continues_word(text[i]) || text[i] == '.')) fail("syntax_error");
  return i;
}

// Operators of two or three characters, longest first.
const char *const kLongOperators[] = {"->>", "||", "<<", ">>", "<=", ">=", "==", "!=", "<>", "->"};
const char kSingleOperators[] = "(),;.+-*/%&|~<>=";

}  // namespace

std::vector<Token> tokenize_sql(std::string_view text) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (is_space(c)) {
      ++i;
      continue;
    }
    if (c == '-' && i + 1 < text.size() && text[i + 1] == '-') {
      while (i < text.size() && text[i] != '\n') ++i;
      continue;
    }
    if (c == '/' && i + 1 < text.size() && text[i + 1] == '*') {
      size_t close = text.find("*/", i + 2);
      i = close == std::string_view::npos ? text.size() : close + 2;
      continue;
    }
    Token token;
    if (c == '"' || c == '`' || c == '[') {
      token.kind = TokenKind::QuotedIdentifier;
      i = read_quoted(text, i, c == '[' ? ']' : c, token.text);
    } else if (c == '\'') {
      token.kind = TokenKind::String;
      i = read_quoted(text, i, '\'', token.text);
    } else if ((c == 'x' || c == 'X') && i + 1 < text.size() && text[i + 1] == '\'') {
      token.kind = TokenKind::Blob;
      size_t close = text.find('\'', i + 2);
      if (close == std::string_view::npos) fail("syntax_error");
      for (size_t k = i + 2; k < close; ++k) {
        if (!is_hex_digit(text[k])) fail("syntax_error");
        token.text += upper(text[k]);
      }
      if (token.text.size() % 2) fail("syntax_error");
      i = close + 1;
    } else if (is_digit(c) || (c == '.' && i + 1 < text.size() && is_digit(text[i + 1]))) {
      token.kind = TokenKind::Number;
      size_t end = read_number(text, i);
      token.text = std::string(text.substr(i, end - i));
      i = end;
    } else if (starts_word(c)) {
      token.kind = TokenKind::Word;
      size_t end = i;
      while (end < text.size() && continues_word(text[end])) ++end;
      token.text = std::string(text.substr(i, end - i));
      i = end;
    } else if (c == '?') {
      token.kind = TokenKind::Variable;
      size_t end = read_digits(text, i + 1);
      token.text = std::string(text.substr(i, end - i));
      i = end;
    } else if (c == ':' || c == '@' || c == '$' || c == '#') {
      token.kind = TokenKind::Variable;
      size_t end = i + 1;
      while (end < text.size() && (continues_word(text[end]) || text[end] == ':')) ++end;
      token.text = std::string(text.substr(i, end - i));
      i = end;
    } else {
      token.kind = TokenKind::Operator;
      for (const char *op : kLongOperators) {
        if (text.substr(i).substr(0, std::char_traits<char>::length(op)) == op) {
          token.text = op;
          break;
        }
      }
      if (token.text.empty()) {
        if (c == '\0' || std::string_view(kSingleOperators).find(c) == std::string_view::npos) fail("syntax_error");
        token.text = std::string(1, c);
      }
      i += token.text.size();
    }
    tokens.push_back(std::move(token));
  }
  tokens.push_back(Token{});
  return tokens;
}

bool is_sql_keyword(std::string_view word) {
  return sqlite3_keyword_check(word.data(), static_cast<int>(word.size())) != 0;
}

TokenCursor::TokenCursor(const std::vector<Token> &tokens, size_t begin, size_t end)
    : tokens_(tokens), position_(begin), end_(end) {}

TokenCursor::TokenCursor(const std::vector<Token> &tokens) : TokenCursor(tokens, 0, tokens.size()) {}

const Token &TokenCursor::peek(size_t ahead) const {
  static const Token end_token;
  size_t at = position_ + ahead;
  return at < end_ && at < tokens_.size() ? tokens_[at] : end_token;
}

const Token &TokenCursor::next() {
  const Token &token = peek();
  if (token.kind != TokenKind::End) ++position_;
  return token;
}

bool TokenCursor::is_word(const char *word, size_t ahead) const {
  const Token &token = peek(ahead);
  return token.kind == TokenKind::Word && iequals(token.text, word);
}

bool TokenCursor::accept_word(const char *word) {
  if (!is_word(word)) return false;
  next();
  return true;
}

void TokenCursor::expect_word(const char *word) {
  if (!accept_word(word)) fail("syntax_error");
}

bool TokenCursor::is_operator(const char *op, size_t ahead) const {
  const Token &token = peek(ahead);
  return token.kind == TokenKind::Operator && token.text == op;
}

bool TokenCursor::accept_operator(const char *op) {
  if (!is_operator(op)) return false;
  next();
  return true;
}

void TokenCursor::expect_operator(const char *op) {
  if (!accept_operator(op)) fail("syntax_error");
}

bool TokenCursor::at_identifier(size_t ahead) const {
  const Token &token = peek(ahead);
  return token.kind == TokenKind::QuotedIdentifier || (token.kind == TokenKind::Word && !is_sql_keyword(token.text));
}

std::string TokenCursor::identifier() {
  if (!at_identifier()) fail("syntax_error");
  return next().text;
}

}  // namespace zumero
