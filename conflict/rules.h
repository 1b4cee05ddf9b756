// Conflict resolution rules as stored in t$schema (row_rule and column_rule entries,
// in the order they were added), and the line-based text merge.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/sqlite_api.h"
#include "base/conflict_actions.h"

namespace zumero::conflict {

class Rules {
public:
  // Loads every valid row_rule and column_rule entry of the database, in order.
  static Rules load(sqlite3 *db, const std::string &schema);

  // The action for a row situation in table: the latest table rule, else the latest
  // rule for all tables, else the default (action_default entries remove a rule).
  std::int64_t row_action(const std::string &table, Situation situation) const;
  // The action for a column changed by both sides (may include attempt_text_merge).
  std::int64_t column_action(const std::string &table, const std::string &column) const;

private:
  struct Entry {
    std::optional<std::string> table;
    std::optional<std::string> column;
    std::int64_t situation = 0;  // 0 for column rules
    std::int64_t action = 0;
  };
  std::int64_t find(const std::string &table, const std::string *column, std::int64_t situation,
                    std::int64_t fallback) const;
  std::vector<Entry> entries_;
};

// Three-way, line-based merge (as version control tools do); nullopt on conflict.
std::optional<std::string> merge_text(const std::string &ancestor, const std::string &ours, const std::string &theirs);

}  // namespace zumero::conflict
