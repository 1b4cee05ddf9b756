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

// Creates `items` with its secondary index on `email`: a plain table, or a zumero
// table whose index goes on the z$ table that holds its rows.
void create_items_table(Database &db, bool zumero);

// Binds the five columns of `row` to a statement prepared from kItemsInsertSql.
void bind_row(Statement &insert, const Row &row);

}  // namespace zumero_bench
