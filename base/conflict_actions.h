// Conflict situations and actions (guide 5.1), as the numbers zumero_named_constant
// returns. Actions are bit flags so attempt_text_merge can be OR'ed with another. One
// validity check serves the SQL functions that record rules and the server that
// receives them: an unknown action is refused, never taken for another.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace zumero::conflict {

enum class Situation : std::int64_t { DelAfterMod = 1, ModAfterDel = 2, ModAfterMod = 3 };

namespace action {
constexpr std::int64_t kDefault = 0;
constexpr std::int64_t kAccept = 1;
constexpr std::int64_t kIgnore = 2;
constexpr std::int64_t kReject = 4;
constexpr std::int64_t kColumnMerge = 8;
constexpr std::int64_t kAttemptTextMerge = 16;
}  // namespace action

inline bool valid_situation(std::int64_t situation) { return situation >= 1 && situation <= 3; }

// A row rule: default, accept, ignore or reject; column merge only for mod_after_mod.
inline bool valid_row_rule(std::int64_t situation, std::int64_t chosen) {
  if (!valid_situation(situation)) return false;
  if (chosen == action::kColumnMerge) return situation == static_cast<std::int64_t>(Situation::ModAfterMod);
  return chosen == action::kDefault || chosen == action::kAccept || chosen == action::kIgnore ||
         chosen == action::kReject;
}

// A column rule: default, accept, ignore or reject, optionally OR'ed with attempt_text_merge.
inline bool valid_column_rule(std::int64_t chosen) {
  std::int64_t base = chosen & ~action::kAttemptTextMerge;
  if (chosen < 0 || chosen == action::kAttemptTextMerge) return false;
  return base == action::kDefault || base == action::kAccept || base == action::kIgnore || base == action::kReject;
}

// A row_rule or column_rule entry of t$schema, as its detail JSON holds it.
struct RuleDetail {
  std::int64_t situation = 0;  // 0 for column rules
  std::int64_t action = 0;
  std::optional<std::string> column;  // column rules: nullopt for every column
  std::string json() const;           // the canonical detail text
};

// Parses and checks a rule's detail; nullopt for anything but a valid rule.
std::optional<RuleDetail> parse_rule_detail(const std::string &kind, const std::string &detail_json);

}  // namespace zumero::conflict
