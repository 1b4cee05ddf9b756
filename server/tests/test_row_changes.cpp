// Change records (server/row_changes.h): a copy that applies the record of a write
// reaches exactly the state the writer's transaction committed.
#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "base/sql.h"
#include "server/row_changes.h"

using namespace zumero;
using namespace zumero::server;

namespace {

class Database {
public:
  Database() {
    REQUIRE(sqlite3_open(":memory:", &db_) == SQLITE_OK);
    exec(db_, "PRAGMA foreign_keys = OFF");
  }
  ~Database() {
    drop_kept_statements(db_);
    sqlite3_close(db_);
  }
  sqlite3 *get() const { return db_; }

private:
  sqlite3 *db_ = nullptr;
};

const char *const kSchema =
    "CREATE TABLE keyed (id INTEGER PRIMARY KEY, v TEXT UNIQUE, n REAL, b BLOB);"
    "CREATE TABLE history (id INTEGER, v TEXT, z_rv INTEGER);"
    "CREATE TABLE paired (a TEXT NOT NULL, b INTEGER NOT NULL, PRIMARY KEY (a, b));"
    "CREATE TABLE bookkeeping (key TEXT PRIMARY KEY, value);";

// Every row of every table with its rowid, as text.
std::vector<std::string> dump(sqlite3 *db) {
  std::vector<std::string> rows;
  for (const char *table : {"keyed", "history", "paired", "bookkeeping"}) {
    Statement all(db, std::string("SELECT * FROM (SELECT rowid AS r, * FROM ") + table + ") ORDER BY r");
    while (all.step()) {
      std::string row = table;
      for (int i = 0; i < all.column_count(); ++i) {
        sqlite3_value *value = all.column_value(i);
        row += "|" + std::to_string(sqlite3_value_type(value)) + ":" +
               (all.is_null(i) ? "" : std::string(reinterpret_cast<const char *>(sqlite3_value_text(value)),
                                                   static_cast<std::size_t>(sqlite3_value_bytes(value))));
      }
      rows.push_back(row);
    }
  }
  return rows;
}

void load(sqlite3 *db) {
  exec(db, kSchema);
  exec(db, "INSERT INTO keyed VALUES (1, 'x', 1.5, x'00ff'), (2, 'y', NULL, NULL), (3, 'z', -0.0, x'');"
           "INSERT INTO history VALUES (1, 'old', 1), (1, 'older', 0), (NULL, NULL, NULL);"
           "INSERT INTO paired VALUES ('a', 1), ('b', 2);");
}

// The record of `change` run on `writer`, applied to `copy`.
void replicate(sqlite3 *writer, sqlite3 *copy, const std::string &change) {
  std::string record;
  {
    Transaction transaction(writer, "BEGIN IMMEDIATE");
    RowChangeTracker tracker(writer, "bookkeeping");
    exec(writer, change);
    exec(writer, "INSERT OR REPLACE INTO bookkeeping VALUES ('seq', 1)");
    auto encoded = encode_changes(writer, tracker);
    REQUIRE(encoded.has_value());
    record = *encoded;
    transaction.commit();
  }
  Transaction transaction(copy, "BEGIN IMMEDIATE");
  apply_changes(copy, record);
  exec(copy, "INSERT OR REPLACE INTO bookkeeping VALUES ('seq', 1)");
  transaction.commit();
}

}  // namespace

TEST_CASE("A change record brings a copy to the writer's committed state", "[row_changes]") {
  Database writer, copy;
  load(writer.get());
  load(copy.get());
  const std::string change = GENERATE(
      std::string("INSERT INTO keyed (v, n, b) VALUES ('new', 2.25, x'0102'); DELETE FROM history WHERE z_rv = 0"),
      std::string("UPDATE keyed SET v = 'tmp' WHERE id = 1; UPDATE keyed SET v = 'x' WHERE id = 2;"
                  "UPDATE keyed SET v = 'y' WHERE id = 1"),  // a swap of UNIQUE values
      std::string("UPDATE keyed SET id = 10 WHERE id = 3; INSERT INTO keyed VALUES (3, 'w', NULL, NULL)"),
      std::string("DELETE FROM keyed WHERE id = 1; INSERT INTO keyed VALUES (7, 'x', 9e300, NULL)"),
      std::string("SAVEPOINT s; DELETE FROM keyed; INSERT INTO paired VALUES ('c', 3); ROLLBACK TO s; RELEASE s;"
                  "UPDATE paired SET b = b + 10"),
      std::string("INSERT OR REPLACE INTO keyed VALUES (4, 'z', 0, NULL)"),  // replaces row 3 through UNIQUE
      std::string("DELETE FROM history; INSERT INTO history VALUES (5, 'h', 5); UPDATE history SET z_rv = 6"),
      std::string("INSERT INTO keyed VALUES (9223372036854775807, 'max', NULL, NULL), "
                  "(-9223372036854775808, 'min', NULL, NULL)"));
  INFO(change);
  replicate(writer.get(), copy.get(), change);
  CHECK(dump(copy.get()) == dump(writer.get()));
}

// The server's connections keep their prepared statements (base/sql.h); one kept from
// before a table gained a column shows the new column only once it runs again.
TEST_CASE("A writer that keeps its statements records a column added since its last record", "[row_changes]") {
  Database writer, copy;
  load(writer.get());
  load(copy.get());
  keep_statements(writer.get());
  replicate(writer.get(), copy.get(), "UPDATE keyed SET v = 'w' WHERE id = 1");
  // The schema change travels as a whole image; here both sides make it themselves.
  for (sqlite3 *db : {writer.get(), copy.get()}) exec(db, "ALTER TABLE keyed ADD COLUMN extra TEXT");
  replicate(writer.get(), copy.get(), "UPDATE keyed SET extra = 'added' WHERE id = 2");
  CHECK(query_int(copy.get(), "SELECT count(*) FROM keyed WHERE id = 2 AND extra = 'added'") == 1);
  CHECK(dump(copy.get()) == dump(writer.get()));
}

TEST_CASE("Random writes with rolled back savepoints replicate exactly", "[row_changes]") {
  Database writer, copy;
  load(writer.get());
  load(copy.get());
  std::mt19937 random(20261201);
  auto pick = [&](int n) { return static_cast<int>(random() % static_cast<unsigned>(n)); };
  for (int round = 0; round < 200; ++round) {
    std::string change;
    for (int i = 0, n = 1 + pick(6); i < n; ++i) {
      std::string id = std::to_string(pick(20)), v = "'v" + std::to_string(pick(25)) + "'";
      switch (pick(7)) {
        case 0: change += "INSERT OR IGNORE INTO keyed VALUES (" + id + ", " + v + ", random(), randomblob(3));"; break;
        case 1: change += "UPDATE OR IGNORE keyed SET v = " + v + " WHERE id = " + id + ";"; break;
        case 2: change += "DELETE FROM keyed WHERE id = " + id + ";"; break;
        case 3: change += "INSERT INTO history VALUES (" + id + ", " + v + ", " + std::to_string(round) + ");"; break;
        case 4: change += "DELETE FROM history WHERE id = " + id + ";"; break;
        case 5: change += "INSERT OR REPLACE INTO paired VALUES (" + v + ", " + id + ");"; break;
        default: change += "SAVEPOINT s; DELETE FROM keyed WHERE id < " + id + "; ROLLBACK TO s; RELEASE s;";
      }
    }
    INFO("round " << round << ": " << change);
    replicate(writer.get(), copy.get(), change);
    REQUIRE(dump(copy.get()) == dump(writer.get()));
  }
}

TEST_CASE("A malformed change record is refused and applies nothing", "[row_changes]") {
  Database writer, copy;
  load(writer.get());
  load(copy.get());
  std::string record;
  {
    Transaction transaction(writer.get(), "BEGIN IMMEDIATE");
    RowChangeTracker tracker(writer.get(), "bookkeeping");
    exec(writer.get(), "UPDATE keyed SET v = 'changed' WHERE id = 1; DELETE FROM history");
    record = *encode_changes(writer.get(), tracker);
    transaction.commit();
  }
  auto before = dump(copy.get());
  for (std::size_t cut = 0; cut < record.size(); ++cut) {
    INFO("cut at " << cut);
    Transaction transaction(copy.get(), "BEGIN IMMEDIATE");
    CHECK_THROWS_AS(apply_changes(copy.get(), record.substr(0, cut)), Error);
  }
  CHECK(dump(copy.get()) == before);
  std::string wrong_table = record;
  auto at = wrong_table.find("keyed");
  REQUIRE(at != std::string::npos);
  wrong_table.replace(at, 5, "nokey");
  {
    Transaction transaction(copy.get(), "BEGIN IMMEDIATE");
    CHECK_THROWS_AS(apply_changes(copy.get(), wrong_table), Error);
  }
  CHECK(dump(copy.get()) == before);
}

TEST_CASE("Change records are applied only with foreign keys off", "[row_changes]") {
  Database copy;
  load(copy.get());
  exec(copy.get(), "PRAGMA foreign_keys = ON");
  CHECK_THROWS_AS(apply_changes(copy.get(), "ZRC1\x00"), Error);
}

TEST_CASE("A table WITHOUT ROWID cannot be recorded", "[row_changes]") {
  Database writer;
  exec(writer.get(), "CREATE TABLE w (k TEXT PRIMARY KEY, v) WITHOUT ROWID");
  RowChangeTracker tracker(writer.get(), "");
  exec(writer.get(), "INSERT INTO w VALUES ('a', 1)");
  CHECK_FALSE(encode_changes(writer.get(), tracker).has_value());
}
