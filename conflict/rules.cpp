#include "conflict/rules.h"

#include <git2.h>
#include <nlohmann/json.hpp>

#include <mutex>

#include "base/sql.h"

namespace zumero::conflict {
Rules Rules::load(sqlite3 *db, const std::string &schema) {
  Rules rules;
  Statement select(db, "SELECT kind, tbl, detail FROM " + quote_identifier(schema) +
                           ".\"t$schema\" WHERE kind IN ('row_rule', 'column_rule') ORDER BY seq");
  while (select.step()) {
    std::optional<RuleDetail> parsed = parse_rule_detail(select.column_text(0), select.column_text(2));
    if (!parsed) continue;  // never stored: the same check refuses it on the way in
    Entry entry;
    if (!select.is_null(1)) entry.table = select.column_text(1);
    entry.situation = parsed->situation;
    entry.action = parsed->action;
    entry.column = parsed->column;
    rules.entries_.push_back(entry);
  }
  return rules;
}

std::int64_t Rules::find(const std::string &table, const std::string *column, std::int64_t situation,
                         std::int64_t fallback) const {
  // Most specific first: table and column, table only, column only, everything.
  for (int specificity = 0; specificity < 4; ++specificity) {
    bool want_table = specificity == 0 || specificity == 1;
    bool want_column = column && (specificity == 0 || specificity == 2);
    if (!column && (specificity == 0 || specificity == 2)) continue;
    for (auto entry = entries_.rbegin(); entry != entries_.rend(); ++entry) {
      if (entry->situation != situation) continue;
      if (want_table != entry->table.has_value()) continue;
      if (want_table && !iequals(*entry->table, table)) continue;
      if (column && want_column != entry->column.has_value()) continue;
      if (want_column && !iequals(*entry->column, *column)) continue;
      if (entry->action == action::kDefault) break;  // removes rules of this specificity
      return entry->action;
    }
  }
  return fallback;
}

std::int64_t Rules::row_action(const std::string &table, Situation situation) const {
  std::int64_t fallback = situation == Situation::DelAfterMod   ? action::kIgnore
                          : situation == Situation::ModAfterDel ? action::kAccept
                                                                : action::kColumnMerge;
  return find(table, nullptr, static_cast<std::int64_t>(situation), fallback);
}

std::int64_t Rules::column_action(const std::string &table, const std::string &column) const {
  return find(table, &column, 0, action::kAccept);
}

std::optional<std::string> merge_text(const std::string &ancestor, const std::string &ours,
                                      const std::string &theirs) {
  static std::once_flag initialized;
  std::call_once(initialized, [] { git_libgit2_init(); });
  git_merge_file_input base = GIT_MERGE_FILE_INPUT_INIT;
  git_merge_file_input mine = GIT_MERGE_FILE_INPUT_INIT;
  git_merge_file_input other = GIT_MERGE_FILE_INPUT_INIT;
  base.ptr = ancestor.data();
  base.size = ancestor.size();
  mine.ptr = ours.data();
  mine.size = ours.size();
  other.ptr = theirs.data();
  other.size = theirs.size();
  git_merge_file_result result{};
  if (git_merge_file(&result, &base, &mine, &other, nullptr) != 0) return std::nullopt;
  std::optional<std::string> merged;
  if (result.automergeable) merged = std::string(result.ptr, result.len);
  git_merge_file_result_free(&result);
  return merged;
}

}  // namespace zumero::conflict
