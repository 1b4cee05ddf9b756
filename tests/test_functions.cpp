// SQL functions without network activity: named constants, auth scheme strings,
// ACL and audit tables, conflict resolution rules, and attached-name handling.
#include "support.h"

#include <cstdio>

using namespace zt;

TEST_CASE("functions: integer named constants", "[functions][constants]") {
  Db db;
  const std::vector<std::pair<const char *, long long>> expected = {
      {"action_default", 0},          {"action_accept", 1},
      {"action_ignore", 2},           {"action_reject", 4},
      {"action_column_merge", 8},     {"action_attempt_text_merge", 16},
      {"situation_del_after_mod", 1}, {"situation_mod_after_del", 2},
      {"situation_mod_after_mod", 3},
  };
  for (const auto &[name, value] : expected) {
    INFO("constant " << name);
    CHECK(db.integer(std::string("SELECT zumero_named_constant('") + name + "')") == value);
    CHECK(db.text(std::string("SELECT typeof(zumero_named_constant('") + name + "'))") == "integer");
  }
  CHECK(db.integer("SELECT zumero_named_constant('action_attempt_text_merge') | "
                   "zumero_named_constant('action_accept')") == 17);
}

TEST_CASE("functions: text named constants", "[functions][constants]") {
  Db db;
  const std::vector<std::pair<const char *, const char *>> expected = {
      {"acl_who_anyone", "anyone"},
      {"acl_who_any_authenticated_user", "any_authenticated_user"},
      {"acl_who_specific_user", "user:"},
      {"acl_who_specific_group", "group:"},
      {"acl_op_pull", "pull"},
      {"acl_op_auth_add_user", "auth_add_user"},
      {"acl_op_auth_set_password", "auth_set_password"},
      {"acl_op_auth_set_acl_entry", "auth_set_acl_entry"},
      {"acl_op_create_table", "create_table"},
      {"acl_op_tbl_add_row", "tbl_add_row"},
      {"acl_op_tbl_modify_row", "tbl_modify_row"},
      {"acl_op_tbl_add_column", "tbl_add_column"},
      {"acl_op_add_rule", "add_rule"},
      {"acl_op_create_dbfile", "create_dbfile"},
      {"acl_result_deny", "deny"},
      {"acl_result_allow", "allow"},
  };
  for (const auto &[name, value] : expected) {
    INFO("constant " << name);
    CHECK(db.text(std::string("SELECT zumero_named_constant('") + name + "')") == value);
    CHECK(db.text(std::string("SELECT typeof(zumero_named_constant('") + name + "'))") == "text");
  }
  // Usable to build a user-specific "who".
  CHECK(db.text("SELECT zumero_named_constant('acl_who_specific_user') || 'eddie'") == "user:eddie");
}

TEST_CASE("functions: unknown named constants and wrong argument counts", "[functions][constants][errors]") {
  Db db;
  db.expect_error("SELECT zumero_named_constant('no_such_constant')", "zumero:unrecognized_named_constant");
  db.expect_error("SELECT zumero_named_constant('ACTION_ACCEPT ')", "zumero:unrecognized_named_constant");
  db.expect_error("SELECT zumero_named_constant('')", "zumero:unrecognized_named_constant");
  db.expect_failure("SELECT zumero_named_constant()");
  db.expect_failure("SELECT zumero_named_constant('action_accept', 'action_ignore')");
}

TEST_CASE("functions: zumero_auth_scheme builds compact JSON", "[functions][auth]") {
  Db db;
  CHECK(db.text("SELECT zumero_auth_scheme('internal', 'dbfile', 'foo')") ==
        "{\"scheme_type\":\"internal\",\"dbfile\":\"foo\"}");
  CHECK(db.text("SELECT zumero_auth_scheme('telephone', 'number', '719-555-1234')") ==
        "{\"scheme_type\":\"telephone\",\"number\":\"719-555-1234\"}");
  CHECK(db.text("SELECT zumero_auth_scheme('x')") == "{\"scheme_type\":\"x\"}");
  // Keys keep the order of the arguments.
  CHECK(db.text("SELECT zumero_auth_scheme('s', 'zz', '1', 'aa', '2')") ==
        "{\"scheme_type\":\"s\",\"zz\":\"1\",\"aa\":\"2\"}");
  // Characters that need escaping still produce valid JSON with the right values.
  CHECK(db.integer("SELECT json_valid(zumero_auth_scheme('a\"b', 'k\\', 'line' || char(10) || 'two'))") == 1);
  CHECK(db.text("SELECT json_extract(zumero_auth_scheme('a\"b'), '$.scheme_type')") == "a\"b");
  CHECK(db.text("SELECT json_extract(zumero_auth_scheme('t', 'k', 'line' || char(10) || 'two'), '$.k')") ==
        "line\ntwo");
}

TEST_CASE("functions: zumero_auth_scheme needs an odd argument count", "[functions][auth][errors]") {
  Db db;
  db.expect_error("SELECT zumero_auth_scheme('internal', 'dbfile')", "zumero:invalid_argument");
  db.expect_error("SELECT zumero_auth_scheme('internal', 'dbfile', 'foo', 'extra')", "zumero:invalid_argument");
  db.expect_failure("SELECT zumero_auth_scheme()");
}

TEST_CASE("functions: zumero_internal_auth_scheme", "[functions][auth]") {
  Db db;
  CHECK(db.text("SELECT zumero_internal_auth_scheme('foo')") ==
        db.text("SELECT zumero_auth_scheme('internal', 'dbfile', 'foo')"));
  CHECK(db.text("SELECT zumero_internal_auth_scheme('people_we_dislike')") ==
        "{\"scheme_type\":\"internal\",\"dbfile\":\"people_we_dislike\"}");
  db.expect_failure("SELECT zumero_internal_auth_scheme()");
  db.expect_failure("SELECT zumero_internal_auth_scheme('a', 'b')");
}

TEST_CASE("functions: zumero_define_acl_table", "[functions][acl]") {
  Db db;
  CHECK(db.is_null("SELECT zumero_define_acl_table('main')"));
  REQUIRE(db.object_exists("z_acl"));
  REQUIRE(db.object_exists("z$z_acl"));
  CHECK(contains(db.text("SELECT upper(sql) FROM sqlite_master WHERE name = 'z_acl'"), "USING ZUMERO"));
  CHECK(db.column_names("z$z_acl") == std::vector<std::string>{"scheme", "who", "tbl", "op", "result"});
  CHECK(db.rows("SELECT scheme, who, tbl, op, result FROM z_acl") ==
        Rows{{"", "anyone", "z_acl", "tbl_add_column", "deny"}});

  // Strict types: a blob is not text.
  Outcome o = db.expect_failure("INSERT INTO z_acl (scheme, who, tbl, op, result) "
                                "VALUES ('', x'01', '', 'pull', 'allow')");
  CHECK(o.rc == SQLITE_CONSTRAINT);

  // The example from the guide.
  db.exec("INSERT INTO z_acl (scheme,who,tbl,op,result) VALUES ("
          "zumero_internal_auth_scheme('people_we_dislike'), "
          "zumero_named_constant('acl_who_any_authenticated_user'), "
          "'', "
          "'*', "
          "zumero_named_constant('acl_result_deny'))");
  CHECK(db.rows("SELECT scheme, who, tbl, op, result FROM z_acl WHERE op = '*'") ==
        Rows{{"{\"scheme_type\":\"internal\",\"dbfile\":\"people_we_dislike\"}", "any_authenticated_user",
              "", "*", "deny"}});

  // Calling it again is harmless and keeps existing entries.
  db.exec("SELECT zumero_define_acl_table('main')");
  CHECK(db.integer("SELECT count(*) FROM z_acl WHERE op = '*'") == 1);
  CHECK(db.integer("SELECT count(*) FROM z_acl WHERE tbl = 'z_acl' AND op = 'tbl_add_column'") >= 1);
  check_consistent(db, "z_acl");
}

TEST_CASE("functions: zumero_define_audit_table", "[functions][audit]") {
  Db db;
  CHECK(db.is_null("SELECT zumero_define_audit_table('main')"));
  REQUIRE(db.object_exists("z_audit"));
  CHECK(contains(db.text("SELECT upper(sql) FROM sqlite_master WHERE name = 'z_audit'"), "USING ZUMERO"));
  CHECK(db.rows("SELECT name, upper(type), \"notnull\" FROM pragma_table_info('z$z_audit')") ==
        Rows{{"tbl", "TEXT", "1"},
             {"ancestor", "TEXT", "1"},
             {"already", "TEXT", "0"},
             {"incoming", "TEXT", "0"},
             {"result", "TEXT", "0"}});
  CHECK(db.count("z_audit") == 0);
  // NOT NULL is enforced.
  Outcome o = db.expect_failure("INSERT INTO z_audit (tbl, ancestor) VALUES (NULL, '{}')");
  CHECK(o.rc == SQLITE_CONSTRAINT);
  // Deleting rows (to save space) works.
  db.exec("INSERT INTO z_audit (tbl, ancestor, already, incoming, result) VALUES ('t', '{}', '{}', '{}', '{}')");
  db.exec("DELETE FROM z_audit");
  CHECK(db.count("z_audit") == 0);
}

TEST_CASE("functions: row rules from the guide are stored", "[functions][rules]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE foo USING zumero (a text PRIMARY KEY, b integer, c integer)");
  long long before = db.integer("SELECT count(*) FROM t$schema WHERE kind = 'row_rule'");
  CHECK(db.is_null("SELECT zumero_add_row_rule("
                   "    'main',"
                   "    NULL, "
                   "    zumero_named_constant('situation_mod_after_mod'),"
                   "    zumero_named_constant('action_column_merge'),"
                   "    NULL"
                   "    )"));
  CHECK(db.is_null("SELECT zumero_add_row_rule("
                   "    'main',"
                   "    'foo', "
                   "    zumero_named_constant('situation_mod_after_mod'),"
                   "    zumero_named_constant('action_column_merge'),"
                   "    NULL"
                   "    )"));
  CHECK(db.integer("SELECT count(*) FROM t$schema WHERE kind = 'row_rule'") == before + 2);
  CHECK(db.integer("SELECT count(*) FROM t$schema WHERE kind = 'row_rule' AND tbl IS NULL") >= 1);
  CHECK(db.integer("SELECT count(*) FROM t$schema WHERE kind = 'row_rule' AND tbl = 'foo'") == 1);
  CHECK(db.integer("SELECT count(*) FROM t$schema WHERE kind = 'row_rule' AND NOT json_valid(detail)") == 0);
  // The same call with literal numbers (guide 10.2.3) is equivalent.
  CHECK(db.is_null("SELECT zumero_add_row_rule('main', NULL, 3, 8, NULL)"));
  // Every situation accepts the basic actions; action_default removes a rule (FAQ).
  for (int situation : {1, 2, 3}) {
    for (int action : {0, 1, 2, 4}) {
      INFO("situation " << situation << " action " << action);
      CHECK(db.is_null("SELECT zumero_add_row_rule('main', 'foo', " + std::to_string(situation) + ", " +
                       std::to_string(action) + ", NULL)"));
    }
  }
  // Rules are kept across connections.
  long long total = db.integer("SELECT count(*) FROM t$schema WHERE kind = 'row_rule'");
  db.reopen();
  CHECK(db.integer("SELECT count(*) FROM t$schema WHERE kind = 'row_rule'") == total);
}

TEST_CASE("functions: column rules from the guide are stored", "[functions][rules]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE wiki USING zumero (title TEXT PRIMARY KEY, content TEXT)");
  CHECK(db.is_null("SELECT zumero_add_column_rule("
                   "    'main',"
                   "    'wiki', "
                   "    'content', "
                   "    zumero_named_constant('action_attempt_text_merge') "
                   "        | zumero_named_constant('action_accept'),"
                   "    NULL"
                   "    )"));
  CHECK(db.integer("SELECT count(*) FROM t$schema WHERE kind = 'column_rule' AND tbl = 'wiki'") == 1);
  CHECK(db.integer("SELECT json_valid(detail) FROM t$schema WHERE kind = 'column_rule' AND tbl = 'wiki'") == 1);
  CHECK(db.is_null("SELECT zumero_add_column_rule('main', NULL, NULL, zumero_named_constant('action_ignore'), NULL)"));
  CHECK(db.is_null("SELECT zumero_add_column_rule('main', 'wiki', NULL, zumero_named_constant('action_reject'), NULL)"));
  CHECK(db.integer("SELECT count(*) FROM t$schema WHERE kind = 'column_rule'") == 3);
  // Adding rules does not disturb the data.
  db.exec("INSERT INTO wiki VALUES ('Home', 'hello')");
  CHECK(db.count("wiki") == 1);
}

TEST_CASE("functions: invalid rules are refused", "[functions][rules][errors]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE foo USING zumero (a TEXT, b TEXT)");
  long long before = db.count("t$schema");
  const char *merge = "zumero_named_constant('action_column_merge')";
  // Column merge only makes sense for mod_after_mod.
  db.expect_error(std::string("SELECT zumero_add_row_rule('main', 'foo', "
                              "zumero_named_constant('situation_del_after_mod'), ") + merge + ", NULL)",
                  "zumero:invalid_argument");
  db.expect_error(std::string("SELECT zumero_add_row_rule('main', 'foo', "
                              "zumero_named_constant('situation_mod_after_del'), ") + merge + ", NULL)",
                  "zumero:invalid_argument");
  db.expect_error("SELECT zumero_add_row_rule('main', 'foo', 99, 1, NULL)", "zumero:invalid_argument");
  db.expect_error("SELECT zumero_add_row_rule('main', 'foo', 0, 1, NULL)", "zumero:invalid_argument");
  db.expect_error("SELECT zumero_add_row_rule('main', 'foo', 3, 99, NULL)", "zumero:invalid_argument");
  db.expect_error("SELECT zumero_add_column_rule('main', 'foo', 'a', 99, NULL)", "zumero:invalid_argument");
  CHECK(db.count("t$schema") == before);
}

TEST_CASE("functions: an unknown attached database name is an error", "[functions][attached][errors]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE foo USING zumero (a TEXT)");
  db.exec("CREATE TABLE plain (a TEXT)");
  for (const char *sql : {
           "SELECT zumero_define_acl_table('nosuch')",
           "SELECT zumero_define_audit_table('nosuch')",
           "SELECT zumero_purge_history('nosuch')",
           "SELECT zumero_add_row_rule('nosuch', NULL, 3, 8, NULL)",
           "SELECT zumero_add_column_rule('nosuch', NULL, NULL, 1, NULL)",
           "SELECT zumero_alter_table_add_column('nosuch', 'foo', 'x TEXT')",
           "SELECT zumero_adopt_existing_table('nosuch', 'plain')",
       }) {
    db.expect_failure(sql);
  }
  CHECK_FALSE(db.object_exists("z_acl"));
  CHECK_FALSE(db.object_exists("z_audit"));
  CHECK(db.column_names("z$foo") == std::vector<std::string>{"a"});
  CHECK(contains(db.text("SELECT upper(sql) FROM sqlite_master WHERE name = 'plain'"), "CREATE TABLE"));
}

TEST_CASE("functions: an attached database by name", "[functions][attached]") {
  Db db;
  std::string other = fresh_db_path();
  db.exec("ATTACH DATABASE '" + replace_all(other, "'", "''") + "' AS other");
  CHECK(db.is_null("SELECT zumero_define_audit_table('other')"));
  CHECK(db.is_null("SELECT zumero_define_acl_table('other')"));
  CHECK(db.integer("SELECT count(*) FROM other.sqlite_master WHERE name IN ('z_audit', 'z_acl')") == 2);
  CHECK(db.integer("SELECT count(*) FROM main.sqlite_master WHERE name IN ('z_audit', 'z_acl')") == 0);
  CHECK(db.integer("SELECT count(*) FROM other.z_acl") >= 1);
  db.exec("CREATE VIRTUAL TABLE other.t USING zumero (v TEXT)");
  db.exec("INSERT INTO other.t VALUES ('a'); UPDATE other.t SET v = 'b'");
  CHECK(db.is_null("SELECT zumero_add_row_rule('other', 't', 3, 1, NULL)"));
  CHECK(db.integer("SELECT count(*) FROM other.t$schema WHERE kind = 'row_rule'") == 1);
  CHECK(db.integer("SELECT count(*) FROM other.\"z$old$t\"") == 1);
  CHECK(db.is_null("SELECT zumero_purge_history('other')"));
  CHECK(db.integer("SELECT count(*) FROM other.\"z$old$t\"") == 0);
  db.exec("DETACH DATABASE other");
  std::remove(other.c_str());
}
