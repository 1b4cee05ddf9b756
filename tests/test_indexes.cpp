// Indexes on z$<table> (guide 3.7.1): the module hands WHERE constraints and ORDER BY
// down to the storage table, so indexes created there are used. The query plan of
// the zumero table shows the SELECT the module runs against z$<table>; its own plan
// must search an index. Results are always compared with a regular table.
#include "support.h"

#include <algorithm>

using namespace zt;

namespace {

void fill(Db &db) {
  const char *def = "id INTEGER PRIMARY KEY, a INT, b TEXT, c REAL";
  db.exec(std::string("CREATE TABLE reg (") + def + ")");
  db.exec(std::string("CREATE VIRTUAL TABLE t USING zumero (") + def + ")");
  const char *rows =
      "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 300) "
      "SELECT x, CASE WHEN x % 29 = 0 THEN NULL ELSE (x * 37) % 101 END, 'k' || (x % 13), "
      "(x % 7) * 0.5 FROM n";
  db.exec(std::string("INSERT INTO reg ") + rows);
  db.exec(std::string("INSERT INTO t ") + rows);
  db.exec("CREATE INDEX i ON z$t (a)");
  db.exec("CREATE INDEX j ON z$t (b, c)");
  db.exec("CREATE INDEX ri ON reg (a)");
}

// The SELECT the module runs against z$t for this query, from the query plan.
std::string module_sql(Db &db, const std::string &query) {
  std::vector<std::string> plan = db.plan(query);
  for (const auto &line : plan) {
    auto pos = line.find("VIRTUAL TABLE INDEX ");
    if (pos == std::string::npos) continue;
    auto colon = line.find(':', pos);
    REQUIRE(colon != std::string::npos);
    return line.substr(colon + 1);
  }
  INFO("query: " << query);
  INFO("plan: " << Catch::Detail::stringify(plan));
  FAIL("no virtual table line in the query plan");
  return {};
}

bool plan_has(const std::vector<std::string> &plan, const std::string &fragment) {
  return std::any_of(plan.begin(), plan.end(), [&](const std::string &l) { return contains(l, fragment); });
}

// A SEARCH line that uses the given index (or the rowid when index is empty).
bool searches_with(const std::vector<std::string> &plan, const std::string &index) {
  for (const auto &l : plan) {
    if (!starts_with(l, "SEARCH")) continue;
    if (index.empty()) {
      if (contains(l, "USING INTEGER PRIMARY KEY")) return true;
    } else if (contains(l, "USING INDEX " + index + " (") ||
               contains(l, "USING COVERING INDEX " + index + " (")) {
      return true;
    }
  }
  return false;
}

Rows sorted(Rows rows) {
  std::sort(rows.begin(), rows.end());
  return rows;
}

// Same result set as the regular table (order ignored).
void check_results(Db &db, const std::string &query_template) {
  INFO("query: " << query_template);
  CHECK(sorted(db.typed_rows(replace_all(query_template, "%T", "t"))) ==
        sorted(db.typed_rows(replace_all(query_template, "%T", "reg"))));
}

// Same results in the same order as the regular table.
void check_ordered_results(Db &db, const std::string &query_template) {
  INFO("query: " << query_template);
  CHECK(db.typed_rows(replace_all(query_template, "%T", "t")) ==
        db.typed_rows(replace_all(query_template, "%T", "reg")));
}

void expect_index(Db &db, const std::string &query_template, const std::string &index) {
  std::string query = replace_all(query_template, "%T", "t");
  std::string inner = module_sql(db, query);
  std::vector<std::string> inner_plan = db.plan(inner);
  INFO("query: " << query);
  INFO("module SQL: " << inner);
  INFO("its plan: " << Catch::Detail::stringify(inner_plan));
  CHECK(contains(inner, "z$t"));
  CHECK(searches_with(inner_plan, index));
  check_results(db, query_template);
}

}  // namespace

TEST_CASE("indexes: the query plan names the SQL run against z$t", "[index]") {
  Db db;
  fill(db);
  std::vector<std::string> plan = db.plan("SELECT * FROM t WHERE a = 5");
  INFO(Catch::Detail::stringify(plan));
  CHECK(plan_has(plan, "SCAN t VIRTUAL TABLE INDEX "));
  std::string inner = module_sql(db, "SELECT * FROM t WHERE a = 5");
  CHECK(contains(inner, "?1"));
  // The statement can be prepared as it stands.
  sqlite3_stmt *stmt = nullptr;
  CHECK(sqlite3_prepare_v2(db.handle(), inner.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
  sqlite3_finalize(stmt);
}

TEST_CASE("indexes: equality and IN use the index", "[index]") {
  Db db;
  fill(db);
  expect_index(db, "SELECT * FROM %T WHERE a = 17", "i");
  expect_index(db, "SELECT id, b FROM %T WHERE a = 17", "i");
  expect_index(db, "SELECT * FROM %T WHERE 17 = a", "i");
  expect_index(db, "SELECT * FROM %T WHERE a IN (3, 17, 40, 1000)", "i");
  expect_index(db, "SELECT * FROM %T WHERE b = 'k5'", "j");
  expect_index(db, "SELECT * FROM %T WHERE b = 'k5' AND c = 1.5", "j");
}

TEST_CASE("indexes: ranges use the index", "[index]") {
  Db db;
  fill(db);
  expect_index(db, "SELECT * FROM %T WHERE a > 95", "i");
  expect_index(db, "SELECT * FROM %T WHERE a < 4", "i");
  expect_index(db, "SELECT * FROM %T WHERE a >= 10 AND a <= 12", "i");
  expect_index(db, "SELECT * FROM %T WHERE a BETWEEN 50 AND 53", "i");
  expect_index(db, "SELECT * FROM %T WHERE b = 'k3' AND c > 1.0", "j");
  expect_index(db, "SELECT * FROM %T WHERE b = 'k3' AND c BETWEEN 0.5 AND 2", "j");
}

TEST_CASE("indexes: IS and IS NULL use the index", "[index]") {
  Db db;
  fill(db);
  expect_index(db, "SELECT * FROM %T WHERE a IS 17", "i");
  expect_index(db, "SELECT * FROM %T WHERE a IS NULL", "i");
  CHECK(db.integer("SELECT count(*) FROM t WHERE a IS NULL") == 10);
  check_results(db, "SELECT * FROM %T WHERE a IS NOT NULL AND a < 3");
  check_results(db, "SELECT * FROM %T WHERE a IS NOT 17 AND a > 99");
  check_results(db, "SELECT * FROM %T WHERE a != 17 AND a > 98");
}

TEST_CASE("indexes: rowid and INTEGER PRIMARY KEY lookups", "[index]") {
  Db db;
  fill(db);
  expect_index(db, "SELECT * FROM %T WHERE id = 42", "");
  expect_index(db, "SELECT * FROM %T WHERE rowid = 42", "");
  expect_index(db, "SELECT * FROM %T WHERE id BETWEEN 5 AND 9", "");
  expect_index(db, "SELECT * FROM %T WHERE id IN (1, 2, 300, 301)", "");
}

TEST_CASE("indexes: parameters and joins drive the constraint", "[index]") {
  Db db;
  fill(db);
  sqlite3_stmt *stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db.handle(), "SELECT count(*) FROM t WHERE a = ?1", -1, &stmt, nullptr) ==
          SQLITE_OK);
  for (int v : {0, 17, 55, 100, 500}) {
    sqlite3_bind_int(stmt, 1, v);
    REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
    long long n = sqlite3_column_int64(stmt, 0);
    sqlite3_reset(stmt);
    CHECK(n == db.integer("SELECT count(*) FROM reg WHERE a = " + std::to_string(v)));
  }
  sqlite3_finalize(stmt);
  // Join: each row of the outer regular table looks up t by a.
  CHECK(sorted(db.typed_rows("SELECT r.id, t.id FROM reg r JOIN t ON t.a = r.a WHERE r.id < 20")) ==
        sorted(db.typed_rows("SELECT r.id, s.id FROM reg r JOIN reg s ON s.a = r.a WHERE r.id < 20")));
  // Correlated subquery.
  check_results(db, "SELECT id, (SELECT count(*) FROM %T x WHERE x.a = o.a) FROM %T o WHERE id < 30");
}

TEST_CASE("indexes: ORDER BY on an indexed column is consumed", "[index][order]") {
  Db db;
  fill(db);
  for (const char *q : {"SELECT a FROM %T ORDER BY a", "SELECT a, b FROM %T ORDER BY a DESC",
                        "SELECT a FROM %T WHERE a > 50 ORDER BY a", "SELECT id FROM %T ORDER BY id DESC"}) {
    std::string query = replace_all(q, "%T", "t");
    std::vector<std::string> plan = db.plan(query);
    INFO("query: " << query);
    INFO("plan: " << Catch::Detail::stringify(plan));
    CHECK_FALSE(plan_has(plan, "USE TEMP B-TREE FOR ORDER BY"));
    // Ties aside, the order is the same as for the regular table.
    INFO("first column only");
    CHECK(db.column(query) == db.column(replace_all(q, "%T", "reg")));
  }
  CHECK(db.column("SELECT a FROM t ORDER BY a LIMIT 5 OFFSET 10") ==
        db.column("SELECT a FROM reg ORDER BY a LIMIT 5 OFFSET 10"));
}

TEST_CASE("indexes: ORDER BY the module cannot reproduce is still correct", "[index][order]") {
  Db db;
  fill(db);
  check_ordered_results(db, "SELECT * FROM %T ORDER BY a + 0, id");
  check_ordered_results(db, "SELECT * FROM %T ORDER BY length(b) DESC, id");
  check_ordered_results(db, "SELECT * FROM %T ORDER BY upper(b) COLLATE NOCASE, c DESC, id");
  check_ordered_results(db, "SELECT * FROM %T ORDER BY a DESC, b ASC, id");
  check_ordered_results(db, "SELECT * FROM %T ORDER BY b, c DESC, id DESC");
  check_ordered_results(db, "SELECT * FROM %T WHERE a > 90 ORDER BY c, a, id");
  check_ordered_results(db, "SELECT b, count(*), sum(c) FROM %T GROUP BY b ORDER BY 2 DESC, 1");
  check_ordered_results(db, "SELECT * FROM %T ORDER BY random() IS NULL, id LIMIT 7");
}

TEST_CASE("indexes: LIKE and GLOB give the same results as a regular table", "[index][like]") {
  Db db;
  const char *def = "id INTEGER PRIMARY KEY, name TEXT, n INT";
  db.exec(std::string("CREATE TABLE reg (") + def + ")");
  db.exec(std::string("CREATE VIRTUAL TABLE t USING zumero (") + def + ")");
  const char *values =
      " VALUES (1, 'Apple', 1), (2, 'apple pie', 12), (3, 'APPLESAUCE', 123), (4, 'banana', 4),"
      " (5, 'a_c', 5), (6, 'a%c', 6), (7, 'abc', 7), (8, NULL, 8), (9, 'Ångström', 9),"
      " (10, 'x*y', 10), (11, 'B[1]', 11), (12, '', 12), (13, 'aBc', 120)";
  db.exec(std::string("INSERT INTO reg") + values);
  db.exec(std::string("INSERT INTO t") + values);
  db.exec("CREATE INDEX tn ON z$t (name)");
  for (const char *q : {
           "SELECT id FROM %T WHERE name LIKE 'app%'",
           "SELECT id FROM %T WHERE name LIKE 'APP%'",
           "SELECT id FROM %T WHERE name LIKE '%c'",
           "SELECT id FROM %T WHERE name LIKE 'a_c'",
           "SELECT id FROM %T WHERE name LIKE 'a\\_c' ESCAPE '\\'",
           "SELECT id FROM %T WHERE name LIKE 'a\\%c' ESCAPE '\\'",
           "SELECT id FROM %T WHERE name NOT LIKE 'a%'",
           "SELECT id FROM %T WHERE name LIKE ''",
           "SELECT id FROM %T WHERE name LIKE '%'",
           "SELECT id FROM %T WHERE n LIKE '12%'",
           "SELECT id FROM %T WHERE like('%pie', name)",
           "SELECT id FROM %T WHERE name GLOB 'A*'",
           "SELECT id FROM %T WHERE name GLOB 'a*'",
           "SELECT id FROM %T WHERE name GLOB '[ab]*'",
           "SELECT id FROM %T WHERE name GLOB '*[*]*'",
           "SELECT id FROM %T WHERE name GLOB 'B[[]1]'",
           "SELECT id FROM %T WHERE name GLOB '?bc'",
           "SELECT id FROM %T WHERE name NOT GLOB '*e*'",
           "SELECT id FROM %T WHERE n GLOB '1*'",
           "SELECT id FROM %T WHERE name LIKE 'a%' AND n > 5",
           "SELECT id FROM %T WHERE name GLOB 'a*' OR name LIKE 'b%'",
       }) {
    check_results(db, q);
  }
  CHECK(db.column("SELECT id FROM t WHERE name LIKE 'app%' ORDER BY id") ==
        std::vector<std::string>{"1", "2", "3"});
  CHECK(db.column("SELECT id FROM t WHERE name GLOB 'a*' ORDER BY id") ==
        std::vector<std::string>{"2", "5", "6", "7", "13"});
}

TEST_CASE("indexes: LIKE and GLOB on mixed types and awkward prefixes", "[index][like]") {
  Db db;
  const char *def = "id INTEGER PRIMARY KEY, name TEXT, v";
  db.exec(std::string("CREATE TABLE reg (") + def + ")");
  db.exec(std::string("CREATE VIRTUAL TABLE t USING zumero (") + def + ")");
  const char *values =
      " VALUES (1, 'Zoo', 12), (2, 'zoo', 123), (3, '@home', 12.5), (4, '`tick', '12a'),"
      " (5, '[bracket', x'3132'), (6, '{brace', 'x12'), (7, 'ZZ', 13), (8, 'z{', -12),"
      " (9, x'7a6f6f', x'7a6f6f'), (10, 'yak', 'Zoo'), (11, 'Yak', 'zoo'), (12, '_u', 1.2e1),"
      " (13, 'a%b', 'A%B'), (14, 'élan', 'Élan'), (15, 'ÿ', '12'), (16, 'Y', NULL)";
  db.exec(std::string("INSERT INTO reg") + values);
  db.exec(std::string("INSERT INTO t") + values);
  db.exec("CREATE INDEX tname ON z$t (name)");
  db.exec("CREATE INDEX tv ON z$t (v)");
  for (const char *col : {"name", "v"}) {
    for (const char *pattern : {"Z%", "z%", "zo%", "@%", "`%", "[%", "{%", "y%", "Y%", "12%", "1%", "_%",
                                "%o", "ÿ%", "é%", "Él%", "a_%", "zoo", "ZOO", "12"}) {
      check_results(db, std::string("SELECT id FROM %T WHERE ") + col + " LIKE '" + pattern + "'");
    }
    for (const char *pattern : {"Z*", "z*", "zo*", "[[]*", "{*", "y*", "Y*", "12*", "1*", "?2*", "*o",
                                "zoo", "[yz]*", "[^z]*", "12"}) {
      check_results(db, std::string("SELECT id FROM %T WHERE ") + col + " GLOB '" + pattern + "'");
    }
  }
  // A pattern supplied as a parameter.
  sqlite3_stmt *stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db.handle(), "SELECT count(*) FROM t WHERE name LIKE ?1", -1, &stmt, nullptr) ==
          SQLITE_OK);
  for (const char *pattern : {"z%", "Z%", "%", "y_k"}) {
    sqlite3_bind_text(stmt, 1, pattern, -1, SQLITE_STATIC);
    REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
    long long n = sqlite3_column_int64(stmt, 0);
    sqlite3_reset(stmt);
    INFO("pattern " << pattern);
    CHECK(n == db.integer(std::string("SELECT count(*) FROM reg WHERE name LIKE '") + pattern + "'"));
  }
  sqlite3_finalize(stmt);
  // With case-sensitive LIKE the results still agree.
  db.exec("PRAGMA case_sensitive_like = ON");
  for (const char *pattern : {"Z%", "z%", "y%", "Y%"}) {
    check_results(db, std::string("SELECT id FROM %T WHERE name LIKE '") + pattern + "'");
  }
}

TEST_CASE("indexes: an equality on a TEXT PRIMARY KEY or UNIQUE column is a unique lookup", "[index]") {
  Db db;
  db.exec("CREATE VIRTUAL TABLE k USING zumero (code TEXT PRIMARY KEY, email TEXT UNIQUE, n INTEGER)");
  db.exec("CREATE TABLE wanted (code TEXT)");
  db.exec("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 200) "
          "INSERT INTO k SELECT 'c' || i, 'e' || i || '@x', i FROM s");
  db.exec("INSERT INTO wanted VALUES ('c7'), ('c150'), ('none')");
  // A join on the key looks each key up in k: k is not scanned to build an automatic
  // index on the other side, as it was when the lookup was costed like a scan.
  std::vector<std::string> plan = db.plan("SELECT k.n FROM wanted w JOIN k ON k.code = w.code");
  INFO("plan: " << Catch::Detail::stringify(plan));
  CHECK(plan_has(plan, "WHERE \"code\" = ?1"));
  CHECK_FALSE(plan_has(plan, "AUTOMATIC"));
  CHECK(sorted(db.rows("SELECT k.n FROM wanted w JOIN k ON k.code = w.code")) == Rows{{"150"}, {"7"}});
  plan = db.plan("SELECT k.n FROM wanted w JOIN k ON k.email = w.code || '@x'");
  INFO("plan: " << Catch::Detail::stringify(plan));
  CHECK(plan_has(plan, "WHERE \"email\" = ?1"));
  CHECK_FALSE(plan_has(plan, "AUTOMATIC"));
  // Rows found by key are updated and deleted as before.
  db.exec("UPDATE k SET n = -n WHERE code = 'c9'");
  db.exec("DELETE FROM k WHERE code = 'c10'");
  CHECK(db.integer("SELECT n FROM k WHERE code = 'c9'") == -9);
  CHECK(db.integer("SELECT count(*) FROM k WHERE code = 'c10'") == 0);
  CHECK(db.count("k") == 199);
  CHECK(db.integer("SELECT count(*) FROM z$old$k") == 2);
}
