// The definition parser on its own (linked from the static library): the canonical
// arguments parse back to the same definition, equality ignores spelling, each refusal
// has its error, limits hold, and no input makes it do anything but return or throw
// zumero::Error.
#include <sqlite3.h>

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "base/column_parser.h"
#include "base/sql.h"
#include "base/table_definition.h"

using namespace zumero;

namespace {

using Arguments = std::vector<std::string>;

// The zumero error message the call throws, or "" when it returns.
template <typename Call>
std::string error_of(Call &&call) {
  try {
    call();
  } catch (const Error &error) {
    return error.what();
  }
  return "";
}

template <size_t N>
std::string bytes(const char (&text)[N]) {
  return std::string(text, N - 1);  // keeps embedded NUL bytes
}

bool contains_text(const std::string &text, const std::string &part) { return text.find(part) != std::string::npos; }

std::string table_error(const Arguments &arguments) {
  return error_of([&] { parse_table_definition(arguments); });
}

// Definitions of every shape the parser accepts.
const std::vector<Arguments> &accepted_definitions() {
  static const std::vector<Arguments> definitions = {
      {"a"},
      {"id INTEGER PRIMARY KEY", "name TEXT NOT NULL DEFAULT 'x'", "qty INT CHECK (qty >= 0)", "UNIQUE (name, qty)"},
      {"* WITH_STRICT_TYPES", "a INT", "b TEXT", "UNIQUE (a,b)"},
      {"x INTEGER CONSTRAINT z_ipk_no_change_on_sync PRIMARY KEY", "y text"},
      {"x TEXT PRIMARY KEY NOT NULL DEFAULT ( lower(hex(randomblob(16))) )", "y text"},
      {"x INT PRIMARY KEY DEFAULT ( random() )", "y text"},
      {"a int", "b int", "c int", "CHECK (c > (a + b))"},
      {"b text REFERENCES foo (a)"},
      {"b text REFERENCES foo DEFERRABLE INITIALLY DEFERRED", "c REFERENCES self_table (b) DEFERRABLE"},
      {"k INTEGER NOT NULL", "v TEXT COLLATE NOCASE", "CONSTRAINT pk PRIMARY KEY (k DESC, v COLLATE binary ASC)"},
      {"\"select\" TEXT", "[weird name] INT", "`order` NUMERIC UNIQUE", "\"quote\"\"d\" BLOB"},
      {"d DECIMAL(10, 2)", "v VARCHAR ( 255 )", "u UNSIGNED BIG INT", "p DOUBLE PRECISION", "n NUMERIC(-3, +4)"},
      {"ts TEXT DEFAULT CURRENT_TIMESTAMP", "d DEFAULT CURRENT_DATE", "t DEFAULT current_time"},
      {"n INT DEFAULT -5", "r REAL DEFAULT +1.5e-3", "h BLOB DEFAULT x'00Ff'", "z DEFAULT NULL", "b DEFAULT true"},
      {"s TEXT DEFAULT 'it''s ) -- not a comment'", "t TEXT DEFAULT ('/* nor this */')"},
      {"a INT CONSTRAINT positive CHECK (a > 0) CONSTRAINT small CHECK (a < 100)", "CONSTRAINT both CHECK (a <> 50)"},
      {"a TEXT CHECK (a LIKE 'x!%' ESCAPE '!' OR a GLOB '*y' OR a NOT LIKE 'z%')",
       "b INT CHECK (b BETWEEN -1 AND 1 AND b NOT BETWEEN 5 AND 6)",
       "c INT CHECK (c IN (1, 2, 3) AND c NOT IN () AND c IS NOT NULL AND c NOT NULL)"},
      {"a INT CHECK (CASE WHEN a > 0 THEN 1 WHEN a < 0 THEN -1 ELSE 0 END <> 2)",
       "b INT CHECK (CASE b WHEN 1 THEN 'one' END IS NULL OR CAST(b AS TEXT) <> '')",
       "c TEXT CHECK (c COLLATE NOCASE = 'x' OR ~c = - -1 OR NOT (c || 'x') = 'y')"},
      {"a INT CHECK (a & 1 | 2 << 1 >> 1 = a % 3 * 4 / 2 + 1 - 1)", "b INT CHECK (b == 1 OR b != 2 OR b <= 3 OR b >= 4)"},
      {"j TEXT CHECK (json_valid(j) AND json_type(j, '$.a') IS NOT 'null')",
       "m REAL DEFAULT (round(pi() * power(2, 3), 2))", "w DEFAULT (strftime('%s', 'now'))",
       "x DEFAULT (printf('%d-%s', 1, 'a'))", "y DEFAULT (iif(1, coalesce(NULL, 2), nullif(3, 3)))"},
      {"h TEXT DEFAULT (upper(substr(hex(zeroblob(4)), 1, 2)))", "i INT DEFAULT (0x1F)", "f REAL DEFAULT (.5)"},
      {"id INTEGER PRIMARY KEY AUTOINCREMENT", "v"},
      {"id INTEGER", "v", "PRIMARY KEY (id)"},
      {"id INTEGER", "PRIMARY KEY (id DESC)"},
      {"id INTEGER PRIMARY KEY DESC", "v"},
      {"a NULL UNIQUE NOT NULL", "b CONSTRAINT ignored NOT NULL CONSTRAINT c2 DEFAULT 1"},
      {"名前 TEXT", "\"with\nnewline\" TEXT", "[a\"b] INT"},
      {"a TEXT /* a comment */ NOT NULL -- and another\n"},
  };
  return definitions;
}

// Prepares a generated statement in an empty database. Returns false when SQLite
// refuses it (an unknown collation, say); when it accepts it, nothing may follow it.
bool prepares_as_one_statement(const std::string &sql) {
  static sqlite3 *db = [] {
    sqlite3 *opened = nullptr;
    sqlite3_open(":memory:", &opened);
    return opened;
  }();
  sqlite3_stmt *stmt = nullptr;
  const char *tail = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &stmt, &tail);
  sqlite3_finalize(stmt);
  if (rc != SQLITE_OK) return false;
  INFO("statement: " << sql);
  CHECK(std::string(tail).find_first_not_of(" \t\r\n") == std::string::npos);
  return true;
}

// Returns whether SQLite accepted the generated z$T statement.
bool check_round_trip(const Arguments &arguments, bool must_prepare = true) {
  INFO("definition: " << ::Catch::Detail::stringify(arguments));
  TableDefinition first = parse_table_definition(arguments);
  Arguments canonical = first.arguments();
  INFO("canonical: " << ::Catch::Detail::stringify(canonical));
  TableDefinition second = parse_table_definition(canonical);
  CHECK(same_definition(first, second));
  CHECK(second.arguments() == canonical);
  CHECK(second.integer_primary_key == first.integer_primary_key);
  CHECK(second.renumber_on_sync == first.renumber_on_sync);
  CHECK(second.strict_types == first.strict_types);
  // The statements generated from it are the same too.
  CHECK(live_table_ddl("main", "t", first) == live_table_ddl("main", "t", second));
  CHECK(support_ddl("main", "t", first) == support_ddl("main", "t", second));
  bool live = prepares_as_one_statement(live_table_ddl("main", "t", first));
  bool history = prepares_as_one_statement(history_table_ddl("main", "t", first));
  if (must_prepare) {
    CHECK(live);
    CHECK(history);
  }
  return live;
}

bool same(const Arguments &a, const Arguments &b) {
  return same_definition(parse_table_definition(a), parse_table_definition(b));
}

// A small deterministic generator, so a failure can be reproduced.
struct Random {
  std::uint64_t state;
  std::uint64_t next() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  }
  size_t below(size_t n) { return static_cast<size_t>(next() % n); }
};

std::string mutate(std::string text, Random &random) {
  static const char *const fragments[] = {"(", ")", ",", ";", "'", "\"", "[", "]", "`", "--", "/*", "*/",
                                          "SELECT ", " NOT ", " IN ", "?", "$x", "x'", "0x", "1e", ".",
                                          " CASE ", " END ", " AND ", "-", "\\", " load_extension("};
  int edits = 1 + static_cast<int>(random.below(4));
  for (int i = 0; i < edits; ++i) {
    size_t at = text.empty() ? 0 : random.below(text.size() + 1);
    switch (random.below(4)) {
      case 0:
        if (!text.empty() && at < text.size()) text.erase(at, 1 + random.below(3));
        break;
      case 1: text.insert(at, 1, static_cast<char>(random.below(256))); break;
      case 2: text.insert(at, fragments[random.below(sizeof fragments / sizeof fragments[0])]); break;
      default:
        if (!text.empty() && at < text.size()) text[at] = static_cast<char>(random.below(128));
    }
  }
  return text;
}

}  // namespace

TEST_CASE("parser: canonical arguments parse back to the same definition", "[parser]") {
  for (const Arguments &arguments : accepted_definitions()) check_round_trip(arguments);
}

TEST_CASE("parser: the canonical form", "[parser]") {
  TableDefinition table = parse_table_definition(
      {"* with_strict_types", "id integer primary key", "[Name] varchar ( 20 ) not null collate nocase",
       "n int default(1+2) check(n>=0)", "r references other deferrable initially deferred",
       "s text default 'it''s'", "unique(\"Name\" collate binary desc, n asc)"});
  CHECK(table.arguments() ==
        Arguments{"* WITH_STRICT_TYPES", "\"id\" INTEGER PRIMARY KEY", "\"Name\" VARCHAR(20) NOT NULL COLLATE \"nocase\"",
                  "\"n\" INT DEFAULT (1 + 2) CHECK (\"n\" >= 0)", "\"r\" REFERENCES \"other\"",
                  "\"s\" TEXT DEFAULT ('it''s')", "UNIQUE (\"Name\" COLLATE \"binary\" DESC, \"n\")"});
  CHECK(table.integer_primary_key == 0);
  CHECK(table.columns[1].type == "VARCHAR(20)");
  CHECK(default_expression(table.columns[2]) == "1 + 2");
  CHECK(default_expression(table.columns[0]).empty());
  CHECK(parse_table_definition({"a DEFAULT (- -1)"}).arguments() == Arguments{"\"a\" DEFAULT (- -1)"});
  CHECK(parse_table_definition({"a DEFAULT (-(-1))"}).arguments() == Arguments{"\"a\" DEFAULT (-(-1))"});
  CHECK(parse_table_definition({"a CHECK(a=-1 or a=~+2)"}).arguments() ==
        Arguments{"\"a\" CHECK (\"a\" = -1 OR \"a\" = ~+2)"});
  CHECK(create_virtual_table_sql("main", "t", parse_table_definition({"a INT", "\"b\"\"\" TEXT"})) ==
        "CREATE VIRTUAL TABLE \"main\".\"t\" USING zumero (\"a\" INT, \"b\"\"\" TEXT)");
}

TEST_CASE("parser: definitions that mean the same compare equal", "[parser]") {
  CHECK(same({"id integer primary key"}, {"id INTEGER PRIMARY KEY"}));
  CHECK(same({"\"Id\" INTEGER"}, {"id integer"}));
  CHECK(same({"[a] text   not null"}, {"`A` TEXT NOT NULL"}));
  CHECK(same({"a DEFAULT 1"}, {"a DEFAULT (1)"}));
  CHECK(same({"a DEFAULT -1"}, {"a DEFAULT (-1)"}));
  CHECK(same({"a CHECK(a>0)"}, {"a CHECK ( \"A\" > 0 )"}));
  CHECK(same({"a COLLATE nocase"}, {"a COLLATE NOCASE"}));
  CHECK(same({"a REFERENCES t"}, {"a REFERENCES \"T\" DEFERRABLE INITIALLY DEFERRED"}));
  CHECK(same({"a", "UNIQUE (a ASC)"}, {"a", "unique(A)"}));
  CHECK(same({"a", "b", "PRIMARY KEY (a, b)"}, {"A", "B", "primary key (\"a\",\"b\")"}));
  CHECK(same({"x INTEGER CONSTRAINT z_ipk_no_change_on_sync PRIMARY KEY"},
             {"x integer constraint \"Z_IPK_NO_CHANGE_ON_SYNC\" primary key"}));

  CHECK_FALSE(same({"a INT"}, {"a INTEGER"}));
  CHECK_FALSE(same({"a INT"}, {"b INT"}));
  CHECK_FALSE(same({"a"}, {"a NOT NULL"}));
  CHECK_FALSE(same({"a"}, {"a UNIQUE"}));
  CHECK_FALSE(same({"a DEFAULT 1"}, {"a DEFAULT 2"}));
  CHECK_FALSE(same({"a DEFAULT 1"}, {"a DEFAULT '1'"}));
  CHECK_FALSE(same({"a DEFAULT 'x'"}, {"a DEFAULT 'X'"}));
  CHECK_FALSE(same({"a DEFAULT (1 + 2)"}, {"a DEFAULT ((1 + 2))"}));
  CHECK_FALSE(same({"a PRIMARY KEY"}, {"a PRIMARY KEY DESC"}));
  CHECK_FALSE(same({"a CHECK (a > 0)"}, {"a CONSTRAINT named CHECK (a > 0)"}));
  CHECK_FALSE(same({"a", "b"}, {"b", "a"}));
  CHECK_FALSE(same({"a"}, {"* WITH_STRICT_TYPES", "a"}));
  CHECK_FALSE(same({"a REFERENCES t"}, {"a REFERENCES t (a)"}));
  CHECK_FALSE(same({"a", "UNIQUE (a)"}, {"a", "UNIQUE (a DESC)"}));
  CHECK_FALSE(same({"a", "UNIQUE (a)"}, {"a UNIQUE"}));

  CHECK(same_column(parse_column_definition("whatever"), parse_column_definition("\"WhatEver\"")));
  CHECK_FALSE(same_column(parse_column_definition("d INT DEFAULT 7"), parse_column_definition("d INT DEFAULT 8")));
}

TEST_CASE("parser: each refusal has its error", "[parser][errors]") {
  struct Case {
    Arguments arguments;
    const char *message;
  };
  const std::vector<Case> cases = {
      {{"x) ; DELETE FROM \"z$t\"; CREATE TABLE pwned(a); --"}, "zumero:syntax_error"},
      {{"a TEXT, b TEXT"}, "zumero:syntax_error"},
      {{}, "zumero:syntax_error"},
      {{""}, "zumero:syntax_error"},
      {{"'a' TEXT"}, "zumero:syntax_error"},
      {{"select TEXT"}, "zumero:syntax_error"},
      {{"a TEXT 'x'"}, "zumero:syntax_error"},
      {{"a \"TEXT\""}, "zumero:syntax_error"},
      {{"a", "* WITH_STRICT_TYPES"}, "zumero:syntax_error"},
      {{"* WITH_STRICT_TYPES"}, "zumero:syntax_error"},
      {{"* WITH_LAX_TYPES", "a"}, "zumero:syntax_error"},
      {{"a", "UNIQUE (a)", "b"}, "zumero:syntax_error"},
      {{"a", "FOREIGN KEY (a) REFERENCES t (a)"}, "zumero:syntax_error"},
      {{"a REFERENCES t ON DELETE CASCADE"}, "zumero:syntax_error"},
      {{"a REFERENCES t MATCH FULL"}, "zumero:syntax_error"},
      {{"a REFERENCES t NOT DEFERRABLE"}, "zumero:syntax_error"},
      {{"a REFERENCES t DEFERRABLE INITIALLY IMMEDIATE"}, "zumero:syntax_error"},
      {{"a REFERENCES \"x$y\""}, "zumero:syntax_error"},
      {{"a REFERENCES t REFERENCES u"}, "zumero:syntax_error"},
      {{"a REFERENCES t (a, b)"}, "zumero:syntax_error"},
      {{"a AS (1)"}, "zumero:syntax_error"},
      {{"a GENERATED ALWAYS AS (1) STORED"}, "zumero:syntax_error"},
      {{"a DEFAULT 1 DEFAULT 2"}, "zumero:syntax_error"},
      {{"a COLLATE nocase COLLATE binary"}, "zumero:syntax_error"},
      {{"a PRIMARY KEY", "b PRIMARY KEY"}, "zumero:syntax_error"},
      {{"a PRIMARY KEY", "PRIMARY KEY (a)"}, "zumero:syntax_error"},
      {{"a TEXT PRIMARY KEY AUTOINCREMENT"}, "zumero:syntax_error"},
      {{"a CONSTRAINT"}, "zumero:syntax_error"},
      {{"a CONSTRAINT x"}, "zumero:syntax_error"},
      {{"a CHECK a > 0"}, "zumero:syntax_error"},
      {{"a CHECK (a >)"}, "zumero:syntax_error"},
      {{"a CHECK ((a > 0)"}, "zumero:syntax_error"},
      {{"a CHECK (a > 0))"}, "zumero:syntax_error"},
      {{"a CHECK (a.b > 0)"}, "zumero:syntax_error"},
      {{"a CHECK (a = NOT 1)"}, "zumero:syntax_error"},
      {{"a DEFAULT (1) + 1"}, "zumero:syntax_error"},
      {{"a DEFAULT 'unterminated"}, "zumero:syntax_error"},
      {{"a DEFAULT x'abc'"}, "zumero:syntax_error"},
      {{"a DEFAULT 1a"}, "zumero:syntax_error"},
      {{"a DEFAULT (CAST(1 AS))"}, "zumero:syntax_error"},
      {{"a DEFAULT (CASE END)"}, "zumero:syntax_error"},
      {{"\"a"}, "zumero:syntax_error"},
      {{"a # b"}, "zumero:syntax_error"},
      {{bytes("a\0")}, "zumero:syntax_error"},
      {{"a UNIQUE ON CONFLICT REPLACE"}, "zumero:conflict_clauses_unsupported"},
      {{"a PRIMARY KEY ASC ON CONFLICT ABORT"}, "zumero:conflict_clauses_unsupported"},
      {{"a", "CHECK (a > 0) ON CONFLICT FAIL"}, "zumero:conflict_clauses_unsupported"},
      {{"a ON CONFLICT IGNORE"}, "zumero:conflict_clauses_unsupported"},
      {{"a DEFAULT (load_extension('x'))"}, "zumero:invalid_argument"},
      {{"a DEFAULT (zumero_named_constant('action_accept'))"}, "zumero:invalid_argument"},
      {{"a DEFAULT (sqlite_version())"}, "zumero:invalid_argument"},
      {{"a DEFAULT (changes())"}, "zumero:invalid_argument"},
      {{"a DEFAULT (\"load_extension\"('x'))"}, "zumero:invalid_argument"},
      {{"a CHECK (a IN (SELECT 1))"}, "zumero:invalid_argument"},
      {{"a CHECK (a IN (WITH x AS (SELECT 1) SELECT * FROM x))"}, "zumero:invalid_argument"},
      {{"a CHECK (a IN (VALUES (1)))"}, "zumero:invalid_argument"},
      {{"a CHECK (a IN t)"}, "zumero:invalid_argument"},
      {{"a CHECK (a IN json_each('[1]'))"}, "zumero:invalid_argument"},
      {{"a CHECK (EXISTS (SELECT 1))"}, "zumero:invalid_argument"},
      {{"a CHECK (NOT EXISTS (SELECT 1))"}, "zumero:invalid_argument"},
      {{"a CHECK ((SELECT 1))"}, "zumero:invalid_argument"},
      {{"a DEFAULT (?)"}, "zumero:invalid_argument"},
      {{"a DEFAULT ?1"}, "zumero:invalid_argument"},
      {{"a DEFAULT :x"}, "zumero:invalid_argument"},
      {{"a CHECK (a = @x)"}, "zumero:invalid_argument"},
      {{"a CHECK (a = $x)"}, "zumero:invalid_argument"},
      {{"a CHECK (a REGEXP 'x')"}, "zumero:invalid_argument"},
      {{"a CHECK (a NOT MATCH 'x')"}, "zumero:invalid_argument"},
      {{"a CHECK (a ISNULL)"}, "zumero:invalid_argument"},
      {{"a CHECK (a IS DISTINCT FROM 1)"}, "zumero:invalid_argument"},
      {{"a CHECK (a -> '$.x' = 1)"}, "zumero:invalid_argument"},
      {{"a CHECK (a ->> '$.x' = 1)"}, "zumero:invalid_argument"},
      {{"a CHECK (RAISE(IGNORE))"}, "zumero:invalid_argument"},
      {{"a CHECK (max(a) OVER (PARTITION BY a) > 0)"}, "zumero:invalid_argument"},
      {{"a CHECK (max(a) FILTER (WHERE a > 0) > 0)"}, "zumero:invalid_argument"},
      {{"a CHECK (max(DISTINCT a) > 0)"}, "zumero:invalid_argument"},
      {{"a CHECK (max(ALL a) > 0)"}, "zumero:invalid_argument"},
      {{"a DEFAULT (length(*))"}, "zumero:invalid_argument"},
      {{"a CHECK (a > 0; DROP TABLE x)"}, "zumero:invalid_argument"},
      {{"a CHECK (a > 0;)"}, "zumero:invalid_argument"},
      {{"a DEFAULT (a)"}, "zumero:invalid_argument"},
      {{"a DEFAULT b"}, "zumero:invalid_argument"},
      {{"a DEFAULT \"b\""}, "zumero:invalid_argument"},
      {{"a CHECK (b > 0)"}, "zumero:invalid_argument"},
      {{"a", "CHECK (rowid > 0)"}, "zumero:invalid_argument"},
      {{"a", "UNIQUE (b)"}, "zumero:invalid_argument"},
      {{"a", "PRIMARY KEY (a, b)"}, "zumero:invalid_argument"},
      {{bytes("a DEFAULT ('x\0y')")}, "zumero:invalid_argument"},
      {{bytes("\"a\0\"")}, "zumero:invalid_argument"},
      {{bytes("a COLLATE \"x\0\"")}, "zumero:invalid_argument"},
      // Only the collations every SQLite has.
      {{"a COLLATE unknown"}, "zumero:invalid_argument"},
      {{"a CHECK (a COLLATE mine = 'x')"}, "zumero:invalid_argument"},
      {{"a", "UNIQUE (a COLLATE mine)"}, "zumero:invalid_argument"},
      // printf and format: a literal format without large widths or '*'.
      {{"a DEFAULT (printf('%.*c', 40000000, 'x'))"}, "zumero:invalid_argument"},
      {{"a DEFAULT (printf('%40000000c', 'x'))"}, "zumero:invalid_argument"},
      {{"a DEFAULT (format(a, 1))"}, "zumero:invalid_argument"},
      {{"a", "b CHECK (printf('%.9999d', b) <> '')"}, "zumero:invalid_argument"},
      // A whole definition is bounded in text and in expression pieces.
      {{"a DEFAULT ('" + std::string(kMaxDefinitionBytes, 'x') + "')"}, "zumero:invalid_argument"},
      {{"\"\""}, "zumero:invalid_argument"},
      {{"\"" + std::string(129, 'x') + "\""}, "zumero:invalid_argument"},
      {{"a", "A"}, "zumero:invalid_argument"},
      {{"z_rv"}, "zumero:invalid_argument"},
      {{"Z_RECID"}, "zumero:invalid_argument"},
      {{"z_txid"}, "zumero:invalid_argument"},
      {{"z_end_rv"}, "zumero:invalid_argument"},
      {{"z_deleted"}, "zumero:invalid_argument"},
      {{"rowid"}, "zumero:invalid_argument"},
      {{"OID"}, "zumero:invalid_argument"},
      {{"\"_rowid_\""}, "zumero:invalid_argument"},
      {{"a REFERENCES \"\""}, "zumero:invalid_argument"},
  };
  for (const Case &entry : cases) {
    INFO("definition: " << ::Catch::Detail::stringify(entry.arguments));
    CHECK(table_error(entry.arguments) == entry.message);
  }
  // A 128-byte name is fine.
  CHECK(table_error({"\"" + std::string(128, 'x') + "\""}).empty());
}

TEST_CASE("parser: a definition's expressions together are bounded", "[parser]") {
  std::string values = "0";
  for (int i = 1; i < 500; ++i) values += "," + std::to_string(i);
  std::vector<std::string> arguments;
  for (int i = 0; i < 60; ++i)
    arguments.push_back("c" + std::to_string(i) + " INTEGER CHECK (c" + std::to_string(i) + " IN (" + values + "))");
  // Each CHECK alone is well within the limits; sixty of them are not.
  CHECK_NOTHROW(parse_table_definition({arguments.front()}));
  CHECK(table_error(arguments) == "zumero:invalid_argument");
}

TEST_CASE("parser: table names", "[parser][errors]") {
  CHECK(error_of([] { validate_table_name("t"); }).empty());
  CHECK(error_of([] { validate_table_name(std::string(128, 't')); }).empty());
  CHECK(error_of([] { validate_table_name("sqlit_e"); }).empty());
  CHECK(error_of([] { validate_table_name("a$b"); }) == "zumero:no_dollar_sign_in_table_name");
  CHECK(error_of([] { validate_table_name("$"); }) == "zumero:no_dollar_sign_in_table_name");
  for (const std::string &name : {std::string(), std::string(129, 't'), std::string("a\0b", 3), std::string("*"),
                                  std::string("sqlite_x"), std::string("SQLITE_"), std::string("Sqlite_master")}) {
    INFO("name: " << name);
    CHECK(error_of([&] { validate_table_name(name); }) == "zumero:invalid_argument");
  }
}

TEST_CASE("parser: size and nesting limits", "[parser][errors]") {
  auto nested = [](int depth) {
    return "a DEFAULT (" + std::string(static_cast<size_t>(depth), '(') + "1" + std::string(static_cast<size_t>(depth), ')') +
           ")";
  };
  // DEFAULT's own parentheses are one level of the argument's.
  CHECK(table_error({nested(kMaxArgumentParentheses - 1)}).empty());
  CHECK(table_error({nested(kMaxArgumentParentheses)}) == "zumero:invalid_argument");
  CHECK(table_error({"a CHECK (" + std::string(static_cast<size_t>(kMaxArgumentParentheses - 1), '(') + "a" +
                     std::string(static_cast<size_t>(kMaxArgumentParentheses - 1), ')') + ")"})
            .empty());
  CHECK(table_error({"a CHECK (" + std::string(static_cast<size_t>(kMaxArgumentParentheses), '(') + "a" +
                     std::string(static_cast<size_t>(kMaxArgumentParentheses), ')') + ")"}) ==
        "zumero:invalid_argument");
  // Parentheses in a string do not count.
  CHECK(table_error({"a DEFAULT ('" + std::string(100, '(') + "')"}).empty());
  // Prefix operators hold one parser stack entry each.
  auto negated = [](int depth) {
    std::string text = "a DEFAULT (";
    for (int i = 0; i < depth; ++i) text += "- ";
    return text + "1)";
  };
  CHECK(table_error({negated(kMaxExpressionNesting)}).empty());
  CHECK(table_error({negated(kMaxExpressionNesting + 1)}) == "zumero:invalid_argument");
  CHECK(table_error({nested(200000)}) == "zumero:invalid_argument");
  auto repeated = [](const std::string &text, int times) {
    std::string out;
    for (int i = 0; i < times; ++i) out += text;
    return out;
  };
  CHECK(table_error({"a DEFAULT (" + repeated("- ", 200000) + "1)"}) == "zumero:invalid_argument");
  CHECK(table_error({"a CHECK (" + repeated("NOT ", 50000) + "a)"}) == "zumero:invalid_argument");
  CHECK(table_error({"a DEFAULT (" + repeated("abs(", 50000) + "1" + repeated(")", 50000) + ")"}) ==
        "zumero:invalid_argument");
  auto in_list = [](int values) {
    std::string list;
    for (int i = 0; i < values; ++i) list += (i ? ", " : "") + std::to_string(i);
    return "a CHECK (a IN (" + list + "))";
  };
  CHECK(table_error({in_list(4990)}).empty());
  CHECK(table_error({in_list(5001)}) == "zumero:invalid_argument");
  Arguments columns;
  for (size_t i = 0; i < kMaxColumns; ++i) columns.push_back("c" + std::to_string(i));
  CHECK(table_error(columns).empty());
  TableDefinition full = parse_table_definition(columns);
  CHECK(error_of([&] { add_column(full, parse_column_definition("extra")); }) == "zumero:invalid_argument");
  columns.push_back("extra");
  CHECK(table_error(columns) == "zumero:invalid_argument");
}

TEST_CASE("parser: calls, literals and nesting SQLite would refuse to compile", "[parser][errors]") {
  auto check_error = [](const std::string &check) { return table_error({"a REAL", "CHECK (" + check + ")"}); };
  // Argument counts SQLite 3.40 registers for each function.
  for (const char *call : {"abs(a)", "coalesce(a, 1, 2)", "substr(a, 1)", "substr(a, 1, 2)", "round(a)",
                           "round(a, 1)", "like('a', a, '!')", "max(a, 1, 2)", "random() <> a", "char()",
                           "json_object('k', a) IS NOT NULL", "date() IS NOT NULL", "pi() > a"}) {
    INFO(call);
    CHECK(check_error(call).empty());
  }
  for (const char *call : {"abs()", "abs(a, a)", "coalesce(a)", "substr(a)", "round(a, 1, 2)", "random(a)",
                           "max(a)", "min(a)", "pi(1)", "iif(a, 1)", "json_object('k')", "unhex(a)",
                           "current_date() IS NOT NULL", "a GLOB 'x' ESCAPE '!'"}) {
    INFO(call);
    CHECK(check_error(call) == "zumero:invalid_argument");
  }
  std::string arguments;
  for (int i = 0; i < kMaxFunctionArguments; ++i) arguments += (i ? ", " : "") + std::to_string(i);
  CHECK(check_error("max(" + arguments + ") > a").empty());
  CHECK(check_error("max(" + arguments + ", 1) > a") == "zumero:invalid_argument");

  // likelihood(): a floating-point literal from 0.0 to 1.0, as SQLite's parser reads it.
  for (const char *probability : {"0.5", "(0.5)", ".0625", "1.0", "1.", "1e0", "100e-2", "0.1E+1", "0.0", "5e-999"}) {
    INFO(probability);
    CHECK(check_error(std::string("likelihood(a > 0, ") + probability + ")").empty());
  }
  for (const char *probability : {"1", "0", "2.5", "1.0000000000000000000001", "0.5e1", "0x1", "-0.5", "+0.5",
                                  "0.5 + 0", "a", "NULL", "'0.5'", "CAST(0.5 AS REAL)"}) {
    INFO(probability);
    CHECK(check_error(std::string("likelihood(a > 0, ") + probability + ")") == "zumero:invalid_argument");
  }

  // 64-bit hex literals, leading zeros aside.
  CHECK(check_error("a <> 0x7fffffffffffffff").empty());
  CHECK(check_error("a <> 0x00000000000000000001").empty());
  CHECK(check_error("a <> 0x10000000000000000") == "zumero:invalid_argument");
  CHECK(table_error({"a DEFAULT 0x10000000000000000"}) == "zumero:invalid_argument");

  // The tree height: a chain of binary operators grows it by one per operator.
  auto chain = [](int operands) {
    std::string text = "a";
    for (int i = 1; i < operands; ++i) text += " + a";
    return text;
  };
  CHECK(check_error(chain(kMaxExpressionHeight)).empty());
  CHECK(check_error(chain(kMaxExpressionHeight + 1)) == "zumero:invalid_argument");

  // Nesting: each CASE holds six of SQLite's parser stack entries, a pending operator two.
  auto nested_case = [](int depth) {
    std::string text = "a";
    for (int i = 0; i < depth; ++i) text = "CASE WHEN a THEN " + text + " END";
    return text;
  };
  CHECK(check_error(nested_case(kMaxExpressionNesting / 6)).empty());
  CHECK(check_error(nested_case(kMaxExpressionNesting / 6 + 1)) == "zumero:invalid_argument");
  auto nested_sums = [](int depth) {
    std::string text = "a";
    for (int i = 0; i < depth; ++i) text = "1 + (" + text + ")";
    return text;
  };
  CHECK(check_error(nested_sums(kMaxExpressionNesting / 3)).empty());
  CHECK(check_error(nested_sums(kMaxExpressionNesting / 3 + 1)) == "zumero:invalid_argument");
}

TEST_CASE("parser: add_column checks the column against the table", "[parser]") {
  TableDefinition table = parse_table_definition({"a INT", "UNIQUE (a)"});
  TableDefinition extended = add_column(table, parse_column_definition("b INT CHECK (b > a)"));
  CHECK(extended.arguments() == Arguments{"\"a\" INT", "\"b\" INT CHECK (\"b\" > \"a\")", "UNIQUE (\"a\")"});
  CHECK(error_of([&] { add_column(table, parse_column_definition("A TEXT")); }) == "zumero:invalid_argument");
  CHECK(error_of([&] { add_column(table, parse_column_definition("b CHECK (c > 0)")); }) == "zumero:invalid_argument");
  CHECK(error_of([] { parse_column_definition("b TEXT, c TEXT"); }) == "zumero:syntax_error");
  CHECK(error_of([] { parse_column_definition("UNIQUE (a)"); }) == "zumero:syntax_error");
}

TEST_CASE("parser: CREATE TABLE and CREATE INDEX statements", "[parser]") {
  CreateTableStatement table = parse_create_table(
      "CREATE TABLE IF NOT EXISTS main.\"r\" (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INT DEFAULT 0, "
      "UNIQUE (name))");
  CHECK(table.name == "r");
  CHECK(table.definition.arguments() ==
        Arguments{"\"id\" INTEGER PRIMARY KEY", "\"name\" TEXT NOT NULL", "\"qty\" INT DEFAULT (0)", "UNIQUE (\"name\")"});
  CHECK(parse_create_table("CREATE TABLE s(a, b DEFAULT (lower('x,y')), c)").definition.columns.size() == 3);
  CHECK(error_of([] { parse_create_table("CREATE TABLE s (a TEXT PRIMARY KEY) WITHOUT ROWID"); }) ==
        "zumero:invalid_argument");
  CHECK(error_of([] { parse_create_table("CREATE TABLE s (a TEXT) STRICT"); }) == "zumero:invalid_argument");
  CHECK(error_of([] { parse_create_table("CREATE TEMP TABLE s (a TEXT)"); }) == "zumero:invalid_argument");
  CHECK(error_of([] { parse_create_table("CREATE VIRTUAL TABLE s USING zumero (a TEXT)"); }) ==
        "zumero:invalid_argument");
  CHECK(error_of([] { parse_create_table("CREATE TABLE s (a TEXT) ; DROP TABLE x"); }) == "zumero:syntax_error");
  CHECK(error_of([] { parse_create_table("CREATE TABLE s (a TEXT"); }) == "zumero:syntax_error");
  CHECK(error_of([] { parse_create_table("CREATE TABLE s ('a' TEXT)"); }) == "zumero:syntax_error");

  IndexDefinition index = parse_create_index(
      "CREATE UNIQUE INDEX IF NOT EXISTS main.by_note ON child (pid, lower(note) COLLATE nocase DESC) "
      "WHERE pid IS NOT NULL");
  CHECK(index.name == "by_note");
  CHECK(index.unique);
  REQUIRE(index.terms.size() == 2);
  CHECK(index.terms[1].descending);
  CHECK(index_ddl("main", "z$child", index) ==
        "CREATE UNIQUE INDEX \"main\".\"by_note\" ON \"z$child\" (\"pid\", lower(\"note\") COLLATE \"nocase\" DESC) "
        "WHERE \"pid\" IS NOT NULL;\n");
  CHECK(error_of([] { parse_create_index("CREATE INDEX i ON t ('a')"); }) == "zumero:syntax_error");
  CHECK(error_of([] { parse_create_index("CREATE INDEX i ON t (app(a))"); }) == "zumero:invalid_argument");
  CHECK(error_of([] { parse_create_index("CREATE INDEX i ON t (a) WHERE a IN (SELECT 1)"); }) ==
        "zumero:invalid_argument");
}

TEST_CASE("parser: generated statements", "[parser]") {
  TableDefinition table = parse_table_definition(
      {"* WITH_STRICT_TYPES", "id INTEGER PRIMARY KEY", "n INT DEFAULT 3 CHECK (n > 0)", "p REFERENCES parent (id)",
       "CHECK (n < 10)"});
  CHECK(virtual_table_declaration(table) == "CREATE TABLE x(\"id\" INTEGER, \"n\" INT, \"p\")");
  CHECK(live_table_ddl("s", "T", table) ==
        "CREATE TABLE \"s\".\"z$T\" (\"id\" INTEGER PRIMARY KEY, \"n\" INT DEFAULT (3) CHECK (\"n\" > 0), "
        "\"p\" REFERENCES \"z$parent\" (\"id\") DEFERRABLE INITIALLY DEFERRED, CHECK (\"n\" < 10), "
        "CONSTRAINT \"z_strict_id\" CHECK (typeof(\"id\") IN ('integer','null')), "
        "CONSTRAINT \"z_strict_n\" CHECK (typeof(\"n\") IN ('integer','null')));\n");
  CHECK(history_table_ddl("s", "T", table) ==
        "CREATE TABLE \"s\".\"z$old$T\" (\"id\" INTEGER, \"n\" INT DEFAULT (3), \"p\", z_recid INTEGER NOT NULL, "
        "z_rv INTEGER, z_end_rv INTEGER, z_txid INTEGER, z_deleted INTEGER NOT NULL DEFAULT 0);\n");
  std::string triggers = history_triggers_ddl("s", "it's", parse_table_definition({"a", "b"}));
  CHECK(contains_text(triggers,
                      "CREATE TRIGGER \"s\".\"z$update$it's\" AFTER UPDATE ON \"z$it's\" WHEN "
                      "zumero_recording('it''s', OLD.rowid) IS NOT NULL BEGIN INSERT OR FAIL INTO \"z$old$it's\" (\"a\", "
                      "\"b\", z_recid, z_rv, z_end_rv, z_txid, z_deleted) VALUES (OLD.\"a\", OLD.\"b\", OLD.rowid, "
                      "NULL, NULL, zumero_recording('it''s', NULL), NEW.rowid <> OLD.rowid); END;\n"));
  CHECK(contains_text(triggers,
                      "CREATE TRIGGER \"s\".\"z$delete$it's\" AFTER DELETE ON \"z$it's\" WHEN "
                      "zumero_recording('it''s', OLD.rowid) IS NOT NULL BEGIN INSERT OR FAIL INTO \"z$old$it's\" (\"a\", "
                      "\"b\", z_recid, z_rv, z_end_rv, z_txid, z_deleted) VALUES (OLD.\"a\", OLD.\"b\", OLD.rowid, "
                      "NULL, NULL, zumero_recording('it''s', NULL), 1); END;\n"));
  CHECK(add_column_ddl("s", "T", parse_column_definition("d TEXT DEFAULT 'x' COLLATE nocase"), true) ==
        "ALTER TABLE \"s\".\"z$T\" ADD COLUMN \"d\" TEXT DEFAULT ('x') COLLATE \"nocase\" "
        "CONSTRAINT \"z_strict_d\" CHECK (typeof(\"d\") IN ('text','null'));\n"
        "ALTER TABLE \"s\".\"z$old$T\" ADD COLUMN \"d\" TEXT COLLATE \"nocase\" DEFAULT ('x');\n");
}

// Fragments of SQL in random order: nearly always refused, and refused cleanly.
std::string token_soup(Random &random) {
  static const char *const words[] = {"a", "\"b\"", "[c]", "'s'", "x'00'", "1", "2.5", "-", "+", "~", "(", ")",
                                      ",", ";", "*", "||", "=", "<>", "NOT", "NULL", "IN", "IS", "AND", "OR",
                                      "CASE", "WHEN", "THEN", "ELSE", "END", "CAST", "AS", "TEXT", "INT",
                                      "COLLATE", "NOCASE", "DEFAULT", "CHECK", "PRIMARY", "KEY", "UNIQUE",
                                      "REFERENCES", "CONSTRAINT", "SELECT", "abs", "lower", "?", "BETWEEN",
                                      "LIKE", "ESCAPE", "DESC", "AUTOINCREMENT", "ON", "CONFLICT"};
  std::string text;
  size_t count = 1 + random.below(30);
  for (size_t i = 0; i < count; ++i) text += std::string(words[random.below(sizeof words / sizeof words[0])]) + " ";
  return text;
}

TEST_CASE("parser: mangled definitions are parsed or refused, never anything else", "[parser][fuzz]") {
  Random random{0x9E3779B97F4A7C15ull};
  int accepted = 0;
  int prepared = 0;
  for (int round = 0; round < 100000; ++round) {
    Arguments arguments;
    if (round % 4 == 3) {
      arguments = {"a", token_soup(random)};
    } else {
      arguments = accepted_definitions()[random.below(accepted_definitions().size())];
      size_t which = random.below(arguments.size());
      arguments[which] = mutate(arguments[which], random);
    }
    std::string message = table_error(arguments);
    if (!message.empty()) {
      INFO("definition: " << ::Catch::Detail::stringify(arguments));
      REQUIRE(message.rfind("zumero:", 0) == 0);
      continue;
    }
    ++accepted;
    if (check_round_trip(arguments, false)) ++prepared;
  }
  // The mutations are mild enough that many still parse and make statements SQLite
  // accepts, so every path is exercised.
  CHECK(accepted > 1000);
  CHECK(prepared > 1000);
  WARN("accepted " << accepted << ", prepared " << prepared);
}
