// The `items` table that every zumero-bench subcommand works on: its schema, the
// statement that fills it, and rows generated from a fixed seed, so that every side
// of a comparison, and every run, sees the same data.
#pragma once

#include "bench_util.h"

#include <cstdint>
#include <string>

namespace zumero_bench {

// The five user columns, shared by the plain table and the zumero table.
constexpr const char *kItemsColumns =
    "id INTEGER PRIMARY KEY, email TEXT, balance REAL, country TEXT, quantity INTEGER";
// The same with a TEXT PRIMARY KEY: SQLite keeps such a key in an automatic index
// next to a hidden rowid, on both sides.
constexpr const char *kItemsTextKeyColumns =
    "id TEXT PRIMARY KEY, email TEXT, balance REAL, country TEXT, quantity INTEGER";
constexpr const char *kItemsInsertSql =
    "INSERT INTO items (id, email, balance, country, quantity) VALUES (?, ?, ?, ?, ?)";

// SplitMix64 step: a tiny, well-mixed generator, so that row `id` always gets the
// same values without storing them (some files hold millions of rows).
std::uint64_t next_random(std::uint64_t &state);

struct Row {
  std::int64_t id;
  std::string email;      // indexed; effectively unique, like a real login column
  double balance;         // whole cents
  std::string country;    // two letters
  std::int64_t quantity;  // 0..99
};

// The row with this id; always the same values for the same id.
Row make_row(std::int64_t id);

// How `items` is keyed: by an INTEGER PRIMARY KEY (the rowid), or by a TEXT PRIMARY
// KEY whose values are text_key(id).
enum class KeyKind { integer, text };

// The text key of row `id`: 32 hex digits spread like random UUIDs, so inserts in id
// order land all over the key's index, as they do for real generated keys.
std::string text_key(std::int64_t id);

// Creates `items` with its secondary index on `email`: a plain table, or a zumero
// table whose index goes on the z$ table that holds its rows.
void create_items_table(Database &db, bool zumero, KeyKind key = KeyKind::integer);

// Binds the five columns of `row` to a statement prepared from kItemsInsertSql.
void bind_row(Statement &insert, const Row &row, KeyKind key = KeyKind::integer);
// Binds the key of row `id` to parameter `index`.
void bind_key(Statement &statement, int index, std::int64_t id, KeyKind key);

}  // namespace zumero_bench
