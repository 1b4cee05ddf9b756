// Arbitrary bytes as table definitions: the input split on '\n' gives the module
// arguments of CREATE VIRTUAL TABLE ... USING zumero (...); the last line is also read
// as a column zumero_alter_table_add_column adds to the table the other lines define,
// and the whole input as a CREATE TABLE to adopt and as a CREATE INDEX. Parsing may refuse only with zumero::Error. A definition it accepts
//   - parses again from its canonical arguments into the same definition, and
//   - generates a z$T and a z$old$T statement that SQLite accepts as exactly one
//     CREATE TABLE each, creating the columns the definition names, no more, and
//   - has DEFAULT values SQLite can compile, and
//   - lets an INSERT into either table compile (CHECK and DEFAULT included), and
//   - gives a CREATE VIRTUAL TABLE statement SQLite parses as one statement.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <sqlite3.h>

#include "base/column_parser.h"
#include "base/sql.h"
#include "base/table_definition.h"

using namespace zumero;

namespace {

[[noreturn]] void invariant_broken(const char *what, const std::string &detail = std::string()) {
  std::fprintf(stderr, "fuzz_definition: invariant broken: %s\n%s\n", what, detail.c_str());
  std::abort();
}

// A definition may name any collation; SQLite needs it to exist before CREATE TABLE.
void define_missing_collation(void *, sqlite3 *db, int encoding, const char *name) {
  auto compare = [](void *, int a_size, const void *a, int b_size, const void *b) {
    int common = std::memcmp(a, b, static_cast<std::size_t>(std::min(a_size, b_size)));
    return common ? common : a_size - b_size;
  };
  sqlite3_create_collation(db, name, encoding, nullptr, compare);
}

// One in-memory database for the whole run; every check rolls back what it created.
sqlite3 *scratch_database() {
  static sqlite3 *db = [] {
    sqlite3 *opened = nullptr;
    if (sqlite3_open(":memory:", &opened) != SQLITE_OK) invariant_broken("cannot open an in-memory database");
    sqlite3_collation_needed(opened, nullptr, define_missing_collation);
    return opened;
  }();
  return db;
}

void run(sqlite3 *db, const char *sql) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) invariant_broken("scratch statement failed", sql);
}

bool only_whitespace(const char *text) {
  for (; *text; ++text)
    if (!std::strchr(" \t\r\n", *text)) return false;
  return true;
}

// ZUMERO_FUZZ_KNOWN="message|message": SQLite refusals already reported, tolerated so a
// long run can look past them (see fuzz/crashers/README.md). Unset: every refusal counts.
bool known_refusal(const char *message) {
  static const std::vector<std::string> known = [] {
    std::vector<std::string> parts;
    const char *setting = std::getenv("ZUMERO_FUZZ_KNOWN");
    std::string text = setting ? setting : "";
    for (std::size_t start = 0; start < text.size();) {
      std::size_t end = std::min(text.find('|', start), text.size());
      if (end > start) parts.push_back(text.substr(start, end - start));
      start = end + 1;
    }
    return parts;
  }();
  for (const std::string &part : known)
    if (std::strstr(message, part.c_str())) return true;
  return false;
}

// Prepares ddl as one statement and runs it; anything after it is a second statement.
// Returns false for a known refusal.
bool create_exactly_one_table(sqlite3 *db, const std::string &ddl) {
  sqlite3_stmt *statement = nullptr;
  const char *tail = nullptr;
  int rc = sqlite3_prepare_v2(db, ddl.c_str(), static_cast<int>(ddl.size()), &statement, &tail);
  if (rc != SQLITE_OK && known_refusal(sqlite3_errmsg(db))) return false;
  if (rc != SQLITE_OK) invariant_broken("SQLite refuses a generated CREATE TABLE", sqlite3_errmsg(db) + ("\n" + ddl));
  if (!statement) invariant_broken("a generated CREATE TABLE is empty", ddl);
  if (!only_whitespace(tail)) {
    sqlite3_finalize(statement);
    invariant_broken("a generated CREATE TABLE holds more than one statement", ddl);
  }
  rc = sqlite3_step(statement);
  sqlite3_finalize(statement);
  if (rc != SQLITE_DONE) invariant_broken("a generated CREATE TABLE fails to run", sqlite3_errmsg(db) + ("\n" + ddl));
  return true;
}

std::vector<std::string> column_names(sqlite3 *db, const std::string &table) {
  std::vector<std::string> names;
  sqlite3_stmt *statement = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_xinfo(?1, 'main') ORDER BY cid", -1, &statement, nullptr) !=
      SQLITE_OK)
    invariant_broken("cannot list columns", sqlite3_errmsg(db));
  sqlite3_bind_text(statement, 1, table.data(), static_cast<int>(table.size()), SQLITE_TRANSIENT);
  while (sqlite3_step(statement) == SQLITE_ROW)
    names.emplace_back(reinterpret_cast<const char *>(sqlite3_column_text(statement, 0)),
                       static_cast<std::size_t>(sqlite3_column_bytes(statement, 0)));
  sqlite3_finalize(statement);
  return names;
}

// SQLite checks a DEFAULT only when a row needs it; the writer evaluates it the same
// way (default_expression), so it must compile wherever the table can be created.
void check_defaults(sqlite3 *db, const TableDefinition &definition) {
  for (const ColumnDefinition &column : definition.columns) {
    const std::string fallback = default_expression(column);
    if (fallback.empty()) continue;
    const std::string sql = "SELECT (" + fallback + ")";
    sqlite3_stmt *statement = nullptr;
    const char *tail = nullptr;
    int rc = sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &statement, &tail);
    if (rc != SQLITE_OK && known_refusal(sqlite3_errmsg(db))) continue;
    if (rc != SQLITE_OK) invariant_broken("SQLite refuses a DEFAULT the parser accepted", sqlite3_errmsg(db) + ("\n" + sql));
    sqlite3_finalize(statement);
    if (!only_whitespace(tail)) invariant_broken("a DEFAULT holds more than one statement", sql);
  }
}

// SQLite compiles CHECK constraints and DEFAULT values into every INSERT; some refusals
// ("hex literal too big") only come then, so an INSERT must compile on the new table.
void check_insert_compiles(sqlite3 *db, const std::string &table) {
  const std::string sql = "INSERT INTO " + qualified("main", table) + " DEFAULT VALUES";
  sqlite3_stmt *statement = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &statement, nullptr);
  sqlite3_finalize(statement);
  if (rc != SQLITE_OK && !known_refusal(sqlite3_errmsg(db)))
    invariant_broken("an INSERT into a generated table does not compile", sqlite3_errmsg(db) + ("\n" + sql));
}

// Tables that arrive by sync or are adopted are created with this statement, which
// SQLite parses before the module sees any argument.
void check_create_virtual_table_parses(sqlite3 *db, const std::string &name, const TableDefinition &definition) {
  const std::string sql = create_virtual_table_sql("main", name, definition);
  sqlite3_stmt *statement = nullptr;
  const char *tail = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &statement, &tail);
  sqlite3_finalize(statement);
  if (rc != SQLITE_OK && !known_refusal(sqlite3_errmsg(db)))
    invariant_broken("SQLite cannot parse the CREATE VIRTUAL TABLE of a definition", sqlite3_errmsg(db) + ("\n" + sql));
  if (rc == SQLITE_OK && !only_whitespace(tail)) invariant_broken("a CREATE VIRTUAL TABLE holds more than one statement", sql);
}

void check_storage_tables(const std::string &name, const TableDefinition &definition) {
  sqlite3 *db = scratch_database();
  check_create_virtual_table_parses(db, name, definition);
  check_defaults(db, definition);
  std::vector<std::string> user_columns;
  for (const ColumnDefinition &column : definition.columns) user_columns.push_back(column.name);
  std::vector<std::string> history_columns = user_columns;
  for (const char *column : {"z_recid", "z_rv", "z_end_rv", "z_txid", "z_deleted"}) history_columns.push_back(column);

  run(db, "SAVEPOINT fuzz");
  if (!create_exactly_one_table(db, live_table_ddl("main", name, definition)) ||
      !create_exactly_one_table(db, history_table_ddl("main", name, definition))) {
    run(db, "ROLLBACK TO fuzz; RELEASE fuzz");
    return;
  }
  check_insert_compiles(db, live_table_name(name));
  check_insert_compiles(db, history_table_name(name));
  if (column_names(db, live_table_name(name)) != user_columns)
    invariant_broken("z$T does not have the definition's columns", live_table_ddl("main", name, definition));
  if (column_names(db, history_table_name(name)) != history_columns)
    invariant_broken("z$old$T does not have the definition's columns", history_table_ddl("main", name, definition));
  run(db, "ROLLBACK TO fuzz; RELEASE fuzz");
}

std::string joined(const std::vector<std::string> &arguments) {
  std::string text;
  for (const std::string &argument : arguments) text += argument + "\n";
  return text;
}

void check_definition(const std::string &name, const TableDefinition &definition) {
  const std::vector<std::string> arguments = definition.arguments();
  TableDefinition again;
  try {
    again = parse_table_definition(arguments);
  } catch (const Error &error) {
    invariant_broken("canonical arguments do not parse", error.what() + ("\n" + joined(arguments)));
  }
  if (!same_definition(definition, again)) invariant_broken("canonical arguments mean another definition", joined(arguments));
  if (again.arguments() != arguments) invariant_broken("canonical arguments are not stable", joined(arguments));
  check_storage_tables(name, definition);
}

std::vector<std::string> split_lines(const std::string &text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (;;) {
    std::size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) return lines;
    start = end + 1;
  }
}

template <typename Parse>
auto parsed(Parse parse) -> std::optional<decltype(parse())> {
  try {
    return parse();
  } catch (const Error &) {
    return std::nullopt;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  const std::string text(reinterpret_cast<const char *>(data), size);
  const std::vector<std::string> lines = split_lines(text);

  // Every line an argument: CREATE VIRTUAL TABLE t USING zumero (line, line, ...).
  if (auto table = parsed([&] { return parse_table_definition(lines); })) check_definition("t", *table);

  // The last line a column added to the table the other lines define.
  auto column = parsed([&] { return parse_column_definition(lines.back()); });
  if (column && lines.size() > 1) {
    const std::vector<std::string> others(lines.begin(), lines.end() - 1);
    if (auto table = parsed([&] { return parse_table_definition(others); })) {
      if (auto grown = parsed([&] { return add_column(*table, *column); })) {
        if (grown->columns.size() != table->columns.size() + 1 || !same_column(grown->columns.back(), *column))
          invariant_broken("add_column did not add exactly the column", text);
        check_definition("t", *grown);
      }
    }
  }

  // The whole input as the CREATE TABLE of a table to adopt.
  if (auto adopted = parsed([&] { return parse_create_table(text); })) {
    bool usable_name = parsed([&] { return (validate_table_name(adopted->name), true); }).has_value();
    check_definition(usable_name ? adopted->name : "t", adopted->definition);
  }

  // And as the CREATE INDEX of an adopted table's index.
  parsed([&] { return parse_create_index(text); });
  return 0;
}
