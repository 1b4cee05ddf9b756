// Table definitions are data: what CREATE VIRTUAL TABLE, zumero_alter_table_add_column,
// t$tables and zumero_adopt_existing_table hand to zumero is parsed and checked, and the
// storage SQL is generated from the parsed form. Text that tries to run SQL of its own,
// call functions outside SQLite's built-in scalar ones, or read other tables is refused
// and changes nothing.
#include "support.h"

#include <filesystem>

using namespace zt;

namespace {

// Runs exactly one statement, the text given with its explicit length (so it may hold NUL).
Outcome run_one(Db &db, const std::string &sql) {
  Outcome out;
  sqlite3_stmt *stmt = nullptr;
  int rc = sqlite3_prepare_v2(db.handle(), sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc == SQLITE_OK && stmt) {
    do {
      rc = sqlite3_step(stmt);
    } while (rc == SQLITE_ROW);
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
  }
  out.rc = rc & 0xff;
  if (rc != SQLITE_OK) out.message = sqlite3_errmsg(db.handle());
  sqlite3_finalize(stmt);
  return out;
}

// zumero_alter_table_add_column with the column text bound as a value.
Outcome add_column(Db &db, const std::string &table, const std::string &text) {
  Outcome out;
  sqlite3_stmt *stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db.handle(), "SELECT zumero_alter_table_add_column('main', ?1, ?2)", -1, &stmt,
                             nullptr) == SQLITE_OK);
  sqlite3_bind_text(stmt, 1, table.data(), static_cast<int>(table.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(stmt, 2, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  int rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) rc = SQLITE_OK;
  out.rc = rc & 0xff;
  if (rc != SQLITE_OK) out.message = sqlite3_errmsg(db.handle());
  sqlite3_finalize(stmt);
  return out;
}

void app_function(sqlite3_context *context, int, sqlite3_value **) { sqlite3_result_int(context, 42); }

// A database with a zumero table t holding two rows, a plain table and an application
// function, and a path an ATTACH in an injected statement would create.
struct Victim {
  Db db;
  std::string attach_path = fresh_db_path();

  Victim() {
    db.exec("CREATE VIRTUAL TABLE t USING zumero (a TEXT, b INT)");
    db.exec("INSERT INTO t VALUES ('one', 1), ('two', 2)");
    db.exec("CREATE TABLE plain (p TEXT); INSERT INTO plain VALUES ('kept')");
    REQUIRE(sqlite3_create_function(db.handle(), "app_fn", -1, SQLITE_UTF8, nullptr, app_function, nullptr,
                                    nullptr) == SQLITE_OK);
  }

  std::string attach_injection() const {
    return "x DEFAULT (1)); ATTACH DATABASE '" + replace_all(attach_path, "'", "''") + "' AS pwn; --";
  }

  // Nothing the attempts could have done has happened.
  void check_untouched() {
    CHECK_FALSE(db.object_exists("pwned"));
    CHECK_FALSE(db.object_exists("u"));
    CHECK_FALSE(db.object_exists("z$u"));
    CHECK_FALSE(db.object_exists("z$old$u"));
    CHECK(db.rows("SELECT a, b FROM t ORDER BY b") == Rows{{"one", "1"}, {"two", "2"}});
    CHECK(db.rows("SELECT * FROM plain") == Rows{{"kept"}});
    CHECK(db.column_names("z$t") == std::vector<std::string>{"a", "b"});
    CHECK(db.column_names("z$old$t") ==
          std::vector<std::string>{"a", "b", "z_recid", "z_rv", "z_end_rv", "z_txid", "z_deleted"});
    CHECK(db.integer("SELECT count(*) FROM \"t$tables\"") == 1);
    CHECK(db.integer("SELECT count(*) FROM \"t$schema\"") == 1);
    CHECK(db.integer("SELECT count(*) FROM pragma_database_list WHERE name = 'pwn'") == 0);
    CHECK_FALSE(std::filesystem::exists(attach_path));
    check_consistent(db, "t");
  }
};

struct Refusal {
  std::string text;
  std::string message;
  // False for texts that close CREATE VIRTUAL TABLE's argument list early: there the
  // rest is the caller's own next statement, not something zumero is handed.
  bool inside_create = true;
};

template <size_t N>
std::string bytes(const char (&text)[N]) {
  return std::string(text, N - 1);  // keeps embedded NUL bytes
}

// Column texts that must never reach SQL, with the error each gets.
std::vector<Refusal> refused_columns(const Victim &victim) {
  return {
      {"x) ; DELETE FROM \"z$t\"; CREATE TABLE pwned(a); --", "zumero:syntax_error", false},
      {"x DEFAULT (1)); DELETE FROM \"z$t\"; CREATE TABLE pwned(a); --", "zumero:syntax_error", false},
      {victim.attach_injection(), "zumero:syntax_error", false},
      {"x DEFAULT (1; DELETE FROM \"z$t\")", "zumero:invalid_argument"},
      {"a TEXT DEFAULT (load_extension('/nonexistent.so'))", "zumero:invalid_argument"},
      {"a TEXT CHECK (load_extension('/nonexistent.so') IS NULL)", "zumero:invalid_argument"},
      {"c CHECK (c IN (SELECT 1))", "zumero:invalid_argument"},
      {"c CHECK (EXISTS (SELECT 1 FROM plain))", "zumero:invalid_argument"},
      {"c CHECK (c IN plain)", "zumero:invalid_argument"},
      {"c DEFAULT ((SELECT p FROM plain))", "zumero:invalid_argument"},
      {"c DEFAULT (zumero_named_constant('action_accept'))", "zumero:invalid_argument"},
      {"c DEFAULT (zumero_recording('t', NULL))", "zumero:invalid_argument"},
      {"c DEFAULT (app_fn())", "zumero:invalid_argument"},
      {"c CHECK (app_fn(c) = 42)", "zumero:invalid_argument"},
      {"c DEFAULT (?)", "zumero:invalid_argument"},
      {"c DEFAULT ?", "zumero:invalid_argument"},
      {"c CHECK (c > ?1)", "zumero:invalid_argument"},
      {"c CHECK (c > :limit)", "zumero:invalid_argument"},
      {"c CHECK (c > @limit)", "zumero:invalid_argument"},
      {"c CHECK (c > $limit)", "zumero:invalid_argument"},
      {"c CHECK (c REGEXP 'x')", "zumero:invalid_argument"},
      {"c CHECK (c MATCH 'x')", "zumero:invalid_argument"},
      {"c CHECK (RAISE(ABORT, 'x'))", "zumero:invalid_argument"},
      {"c CHECK (max(c) OVER () > 0)", "zumero:invalid_argument"},
      {"c DEFAULT (count(*))", "zumero:invalid_argument"},
      {"c DEFAULT (a)", "zumero:invalid_argument"},  // a column where only values may stand
      {"c CHECK (nosuch > 0)", "zumero:invalid_argument"},
      {"c CHECK (t.a > 0)", "zumero:syntax_error"},
      {"rowid TEXT", "zumero:invalid_argument"},
      {"\"OID\" TEXT", "zumero:invalid_argument"},
      {"_rowid_ INT", "zumero:invalid_argument"},
      {"\"\" TEXT", "zumero:invalid_argument"},
      {"\"" + std::string(129, 'n') + "\" TEXT", "zumero:invalid_argument"},
      {bytes("\"a\0b\" TEXT"), "zumero:invalid_argument"},
      {bytes("c DEFAULT ('a\0b')"), "zumero:invalid_argument"},
      {bytes("c\0 DEFAULT 1"), "zumero:syntax_error"},
      {"c REFERENCES t (a) ON DELETE CASCADE", "zumero:syntax_error"},
      {"c GENERATED ALWAYS AS (1)", "zumero:syntax_error"},
      {"c TEXT UNIQUE ON CONFLICT REPLACE", "zumero:conflict_clauses_unsupported"},
  };
}

// `inner` inside `depth` pairs of parentheses.
std::string parenthesised(const std::string &inner, int depth) {
  return std::string(static_cast<size_t>(depth), '(') + inner + std::string(static_cast<size_t>(depth), ')');
}

// `inner` as the innermost THEN of `depth` nested CASE expressions.
std::string nested_case(const std::string &condition, const std::string &inner, int depth) {
  std::string text = inner;
  for (int i = 0; i < depth; ++i) text = "CASE WHEN " + condition + " THEN " + text + " END";
  return text;
}

// `operand` joined `count` times by `op`.
std::string chained(const std::string &operand, const std::string &op, int count) {
  std::string text = operand;
  for (int i = 1; i < count; ++i) text += op + operand;
  return text;
}

// Definitions of a column c that zumero's checks once let through and SQLite then
// refused, at CREATE TABLE or (for a DEFAULT or a hex literal) whenever a row was
// written: found by fuzz/fuzz_definition.cpp (the first seven are its old crashers).
std::vector<std::string> definitions_sqlite_refuses() {
  return {
      "c INTEGER CHECK (abs() > 0)",             // wrong number of arguments to function abs()
      "c CHECK (random(c))",                     // wrong number of arguments to function random()
      "c DEFAULT (random(1))",                   // the same, on the first insert
      "c TEXT CHECK (unhex(c) IS NOT NULL)",     // no such function: unhex (SQLite 3.41 on)
      "c REAL CHECK (likelihood(c, 2))",         // second argument to likelihood() must be a constant
      "c INTEGER CHECK (" + parenthesised("c", 40) + " > 0)",  // parser stack overflow, where zumero writes
                                                                // CREATE VIRTUAL TABLE itself (sync, adopt)
      "c INTEGER CHECK (" + nested_case("c", "1", 19) + ")",   // parser stack overflow
      "c INTEGER CHECK (" + chained("c", " + ", 1001) + " > 0)",  // Expression tree is too large
      "c INTEGER CHECK (max(c) > 0)",            // misuse of aggregate function max()
      "c TEXT CHECK (c GLOB 'x' ESCAPE '!')",    // wrong number of arguments to function glob()
      "c INTEGER CHECK (c <> 0x10000000000000000)",  // hex literal too big, on every insert
      "c DEFAULT (json_object('k'))",            // json_object() requires an even number of arguments
      "c DEFAULT (current_date())",              // a keyword, not a function: syntax error
  };
}

std::string many_columns(int count) {
  std::string body;
  for (int i = 0; i < count; ++i) body += (i ? ", c" : "c") + std::to_string(i) + " INT";
  return body;
}

}  // namespace

TEST_CASE("definitions: injected column texts are refused by zumero_alter_table_add_column", "[definitions][errors]") {
  Victim victim;
  for (const Refusal &refusal : refused_columns(victim)) {
    INFO("column text: " << refusal.text);
    Outcome out = add_column(victim.db, "t", refusal.text);
    REQUIRE(out.rc != SQLITE_OK);
    CHECK(out.message == refusal.message);
  }
  victim.check_untouched();
  victim.db.reopen();
  REQUIRE(sqlite3_create_function(victim.db.handle(), "app_fn", -1, SQLITE_UTF8, nullptr, app_function, nullptr,
                                  nullptr) == SQLITE_OK);
  victim.check_untouched();
}

TEST_CASE("definitions: injected definitions are refused by CREATE VIRTUAL TABLE", "[definitions][errors]") {
  Victim victim;
  for (const Refusal &refusal : refused_columns(victim)) {
    // SQLite ends a statement at a NUL byte, so those texts cannot reach zumero this way.
    if (!refusal.inside_create || refusal.text.find('\0') != std::string::npos) continue;
    INFO("definition: " << refusal.text);
    Outcome out = run_one(victim.db, "CREATE VIRTUAL TABLE u USING zumero (" + refusal.text + ")");
    REQUIRE(out.rc != SQLITE_OK);
    // SQLite itself refuses the texts that unbalance its module argument list.
    if (!contains(out.message, "syntax error")) CHECK(out.message == refusal.message);
  }
  // The same texts as table constraints, and refused table-level forms.
  for (const Refusal &refusal : std::vector<Refusal>{
           {"a TEXT, CHECK (load_extension('/nonexistent.so'))", "zumero:invalid_argument"},
           {"a TEXT, CHECK (a IN (SELECT p FROM plain))", "zumero:invalid_argument"},
           {"a TEXT, CHECK (app_fn() = 42)", "zumero:invalid_argument"},
           {"a TEXT, UNIQUE (nosuch)", "zumero:invalid_argument"},
           {"a TEXT, FOREIGN KEY (a) REFERENCES t (a)", "zumero:syntax_error"},
           {"a TEXT, b TEXT, a INT", "zumero:invalid_argument"},
           {"a TEXT, \"A\" INT", "zumero:invalid_argument"},
           {"a TEXT, Z_RV INT", "zumero:invalid_argument"},
           {many_columns(1001), "zumero:invalid_argument"},
       }) {
    INFO("definition: " << refusal.text.substr(0, 200));
    Outcome out = run_one(victim.db, "CREATE VIRTUAL TABLE u USING zumero (" + refusal.text + ")");
    REQUIRE(out.rc != SQLITE_OK);
    CHECK(out.message == refusal.message);
  }
  victim.check_untouched();
}

TEST_CASE("definitions: table names", "[definitions][errors]") {
  Victim victim;
  Db &db = victim.db;
  db.expect_error("CREATE VIRTUAL TABLE \"\" USING zumero (a TEXT)", "zumero:invalid_argument");
  db.expect_error("CREATE VIRTUAL TABLE \"" + std::string(129, 'n') + "\" USING zumero (a TEXT)",
                  "zumero:invalid_argument");
  db.expect_error("CREATE VIRTUAL TABLE \"u$\" USING zumero (a TEXT)", "zumero:no_dollar_sign_in_table_name");
  // SQLite keeps sqlite_ names to itself before zumero is asked; either way nothing is made.
  db.expect_failure("CREATE VIRTUAL TABLE sqlite_u USING zumero (a TEXT)");
  db.expect_failure("CREATE VIRTUAL TABLE \"SQLite_u\" USING zumero (a TEXT)");
  // A NUL inside a quoted name ends SQLite's reading of the statement.
  long long objects = db.integer("SELECT count(*) FROM sqlite_master");
  CHECK(run_one(db, bytes("CREATE VIRTUAL TABLE \"u\0x\" USING zumero (a TEXT)")).rc != SQLITE_OK);
  CHECK(db.integer("SELECT count(*) FROM sqlite_master") == objects);
  // A reference to a table whose name zumero refuses.
  db.expect_error("CREATE VIRTUAL TABLE u USING zumero (a TEXT REFERENCES \"x$y\")", "zumero:syntax_error");
  db.expect_error("CREATE VIRTUAL TABLE u USING zumero (a TEXT REFERENCES sqlite_master)", "zumero:invalid_argument");
  victim.check_untouched();
  // zumero_adopt_existing_table checks names the same way.
  db.exec("CREATE TABLE \"" + std::string(129, 'n') + "\" (a TEXT)");
  db.expect_error("SELECT zumero_adopt_existing_table('main', '" + std::string(129, 'n') + "')",
                  "zumero:invalid_argument");
  db.expect_error("SELECT zumero_adopt_existing_table('main', '')", "zumero:invalid_argument");
  db.expect_error("SELECT zumero_adopt_existing_table('main', 'sqlite_master')", "zumero:invalid_argument");
}

TEST_CASE("definitions: 1000 columns are allowed, 1001 are not, also by adding one", "[definitions]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE wide USING zumero (" + many_columns(1000) + ")");
  CHECK(db.column_names("z$wide").size() == 1000);
  db.exec("INSERT INTO wide (c0, c999) VALUES (1, 2)");
  CHECK(db.rows("SELECT c0, c999 FROM wide") == Rows{{"1", "2"}});
  Outcome out = add_column(db, "wide", "c1000 INT");
  REQUIRE(out.rc != SQLITE_OK);
  CHECK(out.message == "zumero:invalid_argument");
  CHECK(db.column_names("z$wide").size() == 1000);
}

TEST_CASE("definitions: a definition stored in t$tables is checked when used", "[definitions][errors]") {
  Victim victim;
  Db &db = victim.db;
  // A file whose t$tables was written by someone else: the definition is parsed again
  // before anything is generated from it.
  db.exec("UPDATE \"t$tables\" SET definition = '[\"x) ; DELETE FROM \\\"z$t\\\"; CREATE TABLE pwned(a); --\"]'");
  Outcome out = add_column(db, "t", "c TEXT");
  REQUIRE(out.rc != SQLITE_OK);
  CHECK(out.message == "zumero:syntax_error");
  db.exec("UPDATE \"t$tables\" SET definition = '[\"a TEXT DEFAULT (load_extension(''/nonexistent.so''))\", \"b INT\"]'");
  db.reopen();
  db.expect_error("INSERT INTO t (b) VALUES (3)", "zumero:invalid_argument");
  CHECK_FALSE(db.object_exists("pwned"));
  CHECK(db.rows("SELECT a, b FROM z$t ORDER BY b") == Rows{{"one", "1"}, {"two", "2"}});
}

TEST_CASE("definitions: the guide's examples still work", "[definitions][guide]") {
  Db db;
  // 5.2.5.4: a UUID primary key.
  db.exec("CREATE VIRTUAL TABLE uuids USING zumero (x TEXT PRIMARY KEY NOT NULL \n"
          "    DEFAULT ( lower(hex(randomblob(16))) ), y text)");
  db.exec("INSERT INTO uuids (y) VALUES ('a'), ('b')");
  CHECK(db.integer("SELECT count(DISTINCT x) FROM uuids WHERE length(x) = 32 AND x = lower(x)") == 2);
  // 5.2.5.5: a random 64-bit key on a regular column.
  db.exec("CREATE VIRTUAL TABLE randoms USING zumero (x INT PRIMARY KEY DEFAULT ( random() ), y text)");
  db.exec("INSERT INTO randoms (y) VALUES ('hello')");
  CHECK(db.text("SELECT typeof(x) FROM randoms") == "integer");
  // 3.6: strict types.
  db.exec("CREATE VIRTUAL TABLE bar USING zumero ( * WITH_STRICT_TYPES, a INT, b TEXT, UNIQUE (a,b) )");
  db.expect_failure("INSERT INTO bar (a) VALUES ('hello')");
  db.exec("INSERT INTO bar (a, b) VALUES (1, 'x')");
  // 5.2.1: CHECK over several columns.
  db.exec("CREATE VIRTUAL TABLE foo USING zumero (a int, b int, c int, CHECK (c > (a + b)))");
  db.exec("INSERT INTO foo VALUES (10, 20, 50)");
  db.expect_failure("INSERT INTO foo VALUES (25, 35, 50)");
  // 5.2.2: a reference.
  db.exec("CREATE VIRTUAL TABLE parent USING zumero (a text PRIMARY KEY)");
  db.exec("CREATE VIRTUAL TABLE child USING zumero (b text REFERENCES parent (a))");
  db.exec("INSERT INTO parent VALUES ('p'); INSERT INTO child VALUES ('p')");
  db.exec("PRAGMA foreign_keys = ON");
  db.expect_failure("INSERT INTO child VALUES ('nobody')");
  CHECK(db.rows("SELECT \"table\", \"from\", \"to\" FROM pragma_foreign_key_list('z$child')") ==
        Rows{{"z$parent", "b", "a"}});
  CHECK(contains(db.text("SELECT sql FROM sqlite_master WHERE name = 'z$child'"),
                 "REFERENCES \"z$parent\" (\"a\") DEFERRABLE INITIALLY DEFERRED"));
  // 5.2.5.3: keeping INTEGER PRIMARY KEY values.
  db.exec("CREATE VIRTUAL TABLE keep USING zumero (\n    x INTEGER \n    CONSTRAINT z_ipk_no_change_on_sync PRIMARY KEY, \n"
          "    y text\n    )");
  db.exec("INSERT INTO keep VALUES (7, 'seven')");
  CHECK(db.rows("SELECT rowid, x, y FROM keep") == Rows{{"7", "7", "seven"}});
  CHECK(db.text("SELECT definition FROM \"t$tables\" WHERE name = 'keep'") ==
        R"json(["\"x\" INTEGER CONSTRAINT \"z_ipk_no_change_on_sync\" PRIMARY KEY","\"y\" TEXT"])json");
  // Defaults: CURRENT_TIMESTAMP, negative numbers, a string with a quote and a parenthesis.
  db.exec("CREATE VIRTUAL TABLE defaults USING zumero (id INTEGER PRIMARY KEY, ts TEXT DEFAULT CURRENT_TIMESTAMP, "
          "n INT DEFAULT -5, r REAL DEFAULT -1.5, m INT DEFAULT (- -3), s TEXT DEFAULT 'it''s )', "
          "h BLOB DEFAULT x'00ff', e INT DEFAULT (CASE WHEN 1 > 0 THEN 1 ELSE 0 END))");
  db.exec("INSERT INTO defaults (id) VALUES (1)");
  CHECK(db.rows("SELECT n, r, m, s, hex(h), e, ts GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] *' "
                "FROM defaults") == Rows{{"-5", "-1.5", "3", "it's )", "00FF", "1", "1"}});
}

TEST_CASE("definitions: t$tables and t$schema hold the canonical form", "[definitions]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE c USING zumero (id integer primary key, [Name] varchar ( 20 ) not null "
          "collate nocase, `n` int default(1+2) check(n>=0), unique(\"Name\" collate binary desc))");
  std::string canonical =
      R"json(["\"id\" INTEGER PRIMARY KEY","\"Name\" VARCHAR(20) NOT NULL COLLATE \"nocase\"",)json"
      R"json("\"n\" INT DEFAULT (1 + 2) CHECK (\"n\" >= 0)","UNIQUE (\"Name\" COLLATE \"binary\" DESC)"])json";
  CHECK(db.text("SELECT definition FROM \"t$tables\" WHERE name = 'c'") == canonical);
  CHECK(db.text("SELECT detail FROM \"t$schema\" WHERE kind = 'create_table'") == canonical);
  CHECK(add_column(db, "c", "extra text default 'x''y'").ok());
  CHECK(db.text("SELECT detail FROM \"t$schema\" WHERE kind = 'add_column'") ==
        R"json({"definition":"\"extra\" TEXT DEFAULT ('x''y')"})json");
  db.reopen();
  db.exec("INSERT INTO c (Name) VALUES ('a')");
  CHECK(db.rows("SELECT id, Name, n, extra FROM c") == Rows{{"1", "a", "3", "x'y"}});
}

TEST_CASE("definitions: z_audit and z_acl only with their own definitions", "[definitions][reserved]") {
  SECTION("z_audit as the guide defines it, in any spelling") {
    Db db;
    db.exec("CREATE VIRTUAL TABLE z_audit USING zumero(\n    \"TBL\" text not null,\n    ancestor TEXT NOT NULL,\n"
            "    [already] TEXT,\n    `incoming` text,\n    result TEXT\n    )");
    CHECK(db.object_exists("z$z_audit"));
  }
  SECTION("z_audit with anything else") {
    Db db;
    for (const char *body : {"tbl TEXT NOT NULL, ancestor TEXT NOT NULL, already TEXT, incoming TEXT",
                             "tbl TEXT NOT NULL, ancestor TEXT NOT NULL, already TEXT, incoming TEXT, result TEXT, x",
                             "tbl TEXT, ancestor TEXT NOT NULL, already TEXT, incoming TEXT, result TEXT",
                             "tbl TEXT NOT NULL, ancestor TEXT NOT NULL, already TEXT, incoming TEXT, result BLOB",
                             "* WITH_STRICT_TYPES, tbl TEXT NOT NULL, ancestor TEXT NOT NULL, already TEXT, "
                             "incoming TEXT, result TEXT"}) {
      INFO(body);
      db.expect_error(std::string("CREATE VIRTUAL TABLE z_audit USING zumero (") + body + ")",
                      "zumero:invalid_argument");
      db.expect_error(std::string("CREATE VIRTUAL TABLE Z_Audit USING zumero (") + body + ")",
                      "zumero:invalid_argument");
    }
    CHECK_FALSE(db.object_exists("z$z_audit"));
    CHECK(db.is_null("SELECT zumero_define_audit_table('main')"));
    CHECK(db.object_exists("z$z_audit"));
  }
  SECTION("z_acl as zumero_define_acl_table makes it, or as the guide illustrates it") {
    Db a;
    CHECK(a.is_null("SELECT zumero_define_acl_table('main')"));
    Db b;
    b.exec("CREATE VIRTUAL TABLE IF NOT EXISTS z_acl USING zumero (\n    scheme TEXT NOT NULL, \n"
           "    who TEXT NOT NULL, \n    tbl TEXT NOT NULL, \n    op TEXT NOT NULL, \n    result TEXT NOT NULL\n    )");
    CHECK(b.object_exists("z$z_acl"));
    // The function's definition, written out by hand.
    Db c;
    c.exec("CREATE VIRTUAL TABLE z_acl USING zumero (" +
           a.text("SELECT group_concat(value, ', ') FROM \"t$tables\", json_each(definition) WHERE name = 'z_acl'") +
           ")");
    CHECK(c.object_exists("z$z_acl"));
  }
  SECTION("z_acl with anything else") {
    Db db;
    for (const char *body : {"scheme TEXT, who TEXT, tbl TEXT, op TEXT, result TEXT",
                             "scheme TEXT NOT NULL, who TEXT NOT NULL, tbl TEXT NOT NULL, op TEXT NOT NULL",
                             "scheme TEXT NOT NULL, who TEXT NOT NULL, tbl TEXT NOT NULL, op TEXT NOT NULL, "
                             "result TEXT NOT NULL, CHECK (result <> '')",
                             "a TEXT"}) {
      INFO(body);
      db.expect_error(std::string("CREATE VIRTUAL TABLE z_acl USING zumero (") + body + ")",
                      "zumero:invalid_argument");
    }
    CHECK_FALSE(db.object_exists("z$z_acl"));
  }
}

TEST_CASE("definitions: old versions read an added column's default", "[definitions][history]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE foo USING zumero (a TEXT, b INT)");
  db.exec("INSERT INTO foo VALUES ('x', 1)");
  db.exec("UPDATE foo SET b = 2");
  REQUIRE(add_column(db, "foo", "d INT NOT NULL DEFAULT 7").ok());
  CHECK(db.rows("SELECT a, b, d FROM foo") == Rows{{"x", "2", "7"}});
  CHECK(db.rows("SELECT a, b, d FROM \"z$old$foo\"") == Rows{{"x", "1", "7"}});
  CHECK(contains(db.text("SELECT sql FROM sqlite_master WHERE name = 'z$old$foo'"), "\"d\" INT DEFAULT (7)"));
}

TEST_CASE("definitions: history triggers name no schema, so a file may be attached under any name",
          "[definitions][history][attached]") {
  Db db;
  std::string path = fresh_db_path();
  db.exec("ATTACH DATABASE '" + replace_all(path, "'", "''") + "' AS first");
  db.exec("CREATE VIRTUAL TABLE first.t USING zumero (a TEXT, b INT)");
  db.exec("INSERT INTO first.t VALUES ('x', 1)");
  db.exec("DETACH DATABASE first");
  db.exec("ATTACH DATABASE '" + replace_all(path, "'", "''") + "' AS second");
  db.exec("UPDATE second.t SET b = 2");
  db.exec("DELETE FROM second.t");
  CHECK(db.rows("SELECT a, b, z_deleted FROM second.\"z$old$t\" ORDER BY b") == Rows{{"x", "1", "0"}, {"x", "2", "1"}});
  for (const std::string &sql : db.column("SELECT sql FROM second.sqlite_master WHERE type = 'trigger'")) {
    INFO(sql);
    CHECK_FALSE(contains(sql, "first"));
    CHECK_FALSE(contains(sql, "'main'"));
    CHECK(contains(sql, "WHEN zumero_recording('t', OLD.rowid) IS NOT NULL"));
  }
  db.exec("DETACH DATABASE second");
  std::filesystem::remove(path);
}

TEST_CASE("definitions: adopt a table that references a zumero table and keep its indexes", "[definitions][adopt]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE parent USING zumero (id INTEGER PRIMARY KEY, name TEXT)");
  db.exec("INSERT INTO parent VALUES (1, 'one'), (2, 'two')");
  db.exec("CREATE TABLE child (cid INTEGER PRIMARY KEY, pid INTEGER REFERENCES parent (id), note TEXT COLLATE NOCASE)");
  db.exec("CREATE INDEX child_by_note ON child (note DESC)");
  db.exec("CREATE UNIQUE INDEX child_pid_note ON child (pid, lower(note)) WHERE pid IS NOT NULL");
  db.exec("CREATE VIEW child_notes AS SELECT cid, note FROM child");
  db.exec("INSERT INTO child VALUES (10, 1, 'a'), (20, 2, 'b'), (30, NULL, 'c')");
  Rows before = db.dump("child");

  CHECK(db.is_null("SELECT zumero_adopt_existing_table('main', 'child')"));
  CHECK(contains(db.text("SELECT upper(sql) FROM sqlite_master WHERE name = 'child'"), "USING ZUMERO"));
  CHECK(db.dump("child") == before);
  CHECK(db.dump("z$child") == before);
  CHECK(db.rows("SELECT cid, note FROM child_notes ORDER BY cid") == Rows{{"10", "a"}, {"20", "b"}, {"30", "c"}});
  CHECK(db.rows("SELECT \"table\", \"from\", \"to\" FROM pragma_foreign_key_list('z$child')") ==
        Rows{{"z$parent", "pid", "id"}});
  CHECK(db.column("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'z$child' AND sql IS NOT NULL "
                  "ORDER BY name") == std::vector<std::string>{"child_by_note", "child_pid_note"});
  CHECK(db.rows("SELECT name, desc, coll FROM pragma_index_xinfo('child_by_note') WHERE key") ==
        Rows{{"note", "1", "NOCASE"}});
  CHECK(db.integer("SELECT partial FROM pragma_index_list('z$child') WHERE name = 'child_pid_note'") == 1);
  // Every adopted row is a local change for the next sync.
  CHECK(db.integer("SELECT count(*) FROM \"t$dirty\" WHERE tbl = 'child'") == 3);

  // The unique index still holds, the reference is enforced, and the table is a zumero table.
  db.expect_failure("INSERT INTO child VALUES (40, 1, 'A')");
  db.exec("INSERT INTO child VALUES (41, NULL, 'a')");
  db.exec("PRAGMA foreign_keys = ON");
  db.expect_failure("INSERT INTO child VALUES (50, 99, 'x')");
  db.exec("UPDATE child SET note = 'changed' WHERE cid = 10");
  CHECK(db.integer("SELECT z_recid FROM \"z$old$child\"") == 10);
  db.reopen();
  CHECK(db.count("child") == 4);
  check_consistent(db, "child");
}

TEST_CASE("definitions: adopt refuses what CREATE VIRTUAL TABLE refuses", "[definitions][adopt][errors]") {
  Db db;
  db.exec("CREATE TABLE plain_parent (id INTEGER PRIMARY KEY)");
  db.exec("CREATE TABLE refs_plain (a INTEGER REFERENCES plain_parent (id))");
  db.exec("CREATE TABLE with_function (a TEXT DEFAULT (sqlite_version()))");
  db.exec("CREATE TABLE strict_table (a TEXT) STRICT");
  db.exec("CREATE TABLE no_rowid (a TEXT PRIMARY KEY) WITHOUT ROWID");
  db.exec("CREATE TABLE cascades (a INTEGER REFERENCES plain_parent (id) ON DELETE CASCADE)");
  db.exec("CREATE TABLE z_audit (a TEXT)");
  db.exec("CREATE TABLE app_index (a TEXT)");
  REQUIRE(sqlite3_create_function(db.handle(), "app_fn", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
                                  app_function, nullptr, nullptr) == SQLITE_OK);
  db.exec("CREATE INDEX app_index_fn ON app_index (app_fn(a))");
  for (const Refusal &refusal : std::vector<Refusal>{{"refs_plain", "zumero:syntax_error"},
                                                     {"with_function", "zumero:invalid_argument"},
                                                     {"strict_table", "zumero:invalid_argument"},
                                                     {"no_rowid", "zumero:invalid_argument"},
                                                     {"cascades", "zumero:syntax_error"},
                                                     {"z_audit", "zumero:invalid_argument"},
                                                     {"app_index", "zumero:invalid_argument"}}) {
    INFO("table " << refusal.text);
    db.expect_error("SELECT zumero_adopt_existing_table('main', '" + refusal.text + "')", refusal.message);
    CHECK_FALSE(db.object_exists("z$" + refusal.text));
    CHECK(contains(db.text("SELECT upper(sql) FROM sqlite_master WHERE name = '" + refusal.text + "'"),
                   "CREATE TABLE"));
  }
  CHECK(db.object_exists("app_index_fn"));
}

TEST_CASE("definitions: what SQLite would refuse to compile gets a zumero error up front", "[definitions][errors]") {
  Victim victim;
  Db &db = victim.db;
  for (const std::string &definition : definitions_sqlite_refuses()) {
    INFO("definition: " << definition.substr(0, 200));
    db.expect_error("CREATE VIRTUAL TABLE u USING zumero (a TEXT, " + definition + ")", "zumero:invalid_argument");
    Outcome added = add_column(db, "t", definition);
    REQUIRE(added.rc != SQLITE_OK);
    CHECK(added.message == "zumero:invalid_argument");
  }
  // Too deep for SQLite to read even as a module argument: it refuses the statement
  // before zumero is asked. A column added by function gets zumero's refusal.
  const std::string too_deep = "c INTEGER CHECK (" + parenthesised("c", 92) + " > 0)";
  db.expect_error_containing("CREATE VIRTUAL TABLE u USING zumero (a TEXT, " + too_deep + ")", "parser stack overflow");
  Outcome added = add_column(db, "t", too_deep);
  REQUIRE(added.rc != SQLITE_OK);
  CHECK(added.message == "zumero:invalid_argument");
  victim.check_untouched();
  db.exec("INSERT INTO t VALUES ('three', 3)");
  CHECK(db.count("t") == 3);

  // SQLite compiles a DEFAULT only when a row needs it, so it creates this table; the
  // zumero table made from it would fail every insert, and is refused.
  db.exec("CREATE TABLE later (c DEFAULT (random(1)), d TEXT)");
  db.exec("INSERT INTO later (c, d) VALUES (1, 'x')");
  db.expect_error("SELECT zumero_adopt_existing_table('main', 'later')", "zumero:invalid_argument");
  CHECK_FALSE(db.object_exists("z$later"));
  CHECK(db.rows("SELECT c, d FROM later") == Rows{{"1", "x"}});
}

TEST_CASE("definitions: expressions well inside SQLite's limits are accepted and work", "[definitions]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE deep USING zumero (a INTEGER CHECK (" + parenthesised("a", 30) +
          " > 0), b INTEGER DEFAULT (" + nested_case("1", "5", 9) + "), c REAL CHECK (likelihood(c > 0, 0.0625)), "
          "d INTEGER CHECK (" + chained("d", " + ", 200) + " >= 0), e INTEGER DEFAULT (0x00000000000000007f))");
  db.exec("INSERT INTO deep (a, c, d) VALUES (1, 2.5, 3)");
  CHECK(db.rows("SELECT a, b, c, d, e FROM deep") == Rows{{"1", "5", "2.5", "3", "127"}});
  db.expect_failure("INSERT INTO deep (a) VALUES (0)");
  db.expect_failure("INSERT INTO deep (a, d) VALUES (1, -1)");
  Outcome added = add_column(db, "deep", "f INTEGER DEFAULT (" + parenthesised("7", 30) + ")");
  REQUIRE(added.ok());
  CHECK(db.integer("SELECT f FROM deep") == 7);
  db.reopen();
  db.exec("INSERT INTO deep (a) VALUES (2)");
  CHECK(db.rows("SELECT b, f FROM deep WHERE a = 2") == Rows{{"5", "7"}});
}
