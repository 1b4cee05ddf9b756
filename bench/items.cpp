#include "items.h"

#include <array>

namespace zumero_bench {

std::uint64_t next_random(std::uint64_t &state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

Row make_row(std::int64_t id) {
  static const std::array<const char *, 16> first_names = {
      "anna", "ben", "carla", "david", "elena", "farid", "grace", "hugo",
      "ines", "jonas", "kim", "lucas", "maya", "noah", "olga", "pavel"};
  static const std::array<const char *, 8> domains = {
      "example.com", "mail.test", "corp.example", "inbox.test",
      "post.example", "web.test", "home.example", "work.test"};
  static const std::array<const char *, 16> countries = {
      "US", "DE", "FR", "GB", "JP", "BR", "IN", "CA", "AU", "ES", "IT", "NL", "SE", "PL", "MX", "KR"};

  std::uint64_t state = static_cast<std::uint64_t>(id) * 0x2545F4914F6CDD1Dull + 0x5EEDull;
  Row row;
  row.id = id;
  row.email = first_names[next_random(state) % first_names.size()];
  row.email += '.';
  std::size_t letters = 4 + next_random(state) % 6;
  for (std::size_t i = 0; i < letters; ++i) row.email += static_cast<char>('a' + next_random(state) % 26);
  row.email += std::to_string(next_random(state) % 1000);
  row.email += '@';
  row.email += domains[next_random(state) % domains.size()];
  row.balance = static_cast<double>(next_random(state) % 10000000) / 100.0;
  row.country = countries[next_random(state) % countries.size()];
  row.quantity = static_cast<std::int64_t>(next_random(state) % 100);
  return row;
}

std::string text_key(std::int64_t id) {
  std::uint64_t state = static_cast<std::uint64_t>(id) ^ 0x7E47C0DEull;
  static const char digits[] = "0123456789abcdef";
  std::string key;
  for (int half = 0; half < 2; ++half) {
    std::uint64_t bits = next_random(state);
    for (int i = 0; i < 16; ++i, bits >>= 4) key += digits[bits & 15];
  }
  return key;
}

void create_items_table(Database &db, bool zumero, KeyKind key) {
  const char *columns = key == KeyKind::text ? kItemsTextKeyColumns : kItemsColumns;
  if (zumero) {
    db.exec(std::string("CREATE VIRTUAL TABLE items USING zumero (") + columns + ")");
    db.exec("CREATE INDEX items_email ON \"z$items\" (email)");
  } else {
    db.exec(std::string("CREATE TABLE items (") + columns + ")");
    db.exec("CREATE INDEX items_email ON items (email)");
  }
}

void bind_key(Statement &statement, int index, std::int64_t id, KeyKind key) {
  if (key == KeyKind::text) statement.bind(index, std::string_view(text_key(id)));
  else statement.bind(index, id);
}

void bind_row(Statement &insert, const Row &row, KeyKind key) {
  bind_key(insert, 1, row.id, key);
  insert.bind(2, std::string_view(row.email));
  insert.bind(3, row.balance);
  insert.bind(4, std::string_view(row.country));
  insert.bind(5, row.quantity);
}

}  // namespace zumero_bench
