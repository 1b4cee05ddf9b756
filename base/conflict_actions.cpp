#include "base/json_text.h"
#include "base/conflict_actions.h"

#include <nlohmann/json.hpp>

namespace zumero::conflict {

std::string RuleDetail::json() const {
  nlohmann::json detail;
  if (situation) {
    detail = {{"situation", situation}, {"action", action}};
  } else {
    detail = {{"column", column ? nlohmann::json(*column) : nlohmann::json(nullptr)}, {"action", action}};
  }
  return detail.dump();
}

std::optional<RuleDetail> parse_rule_detail(const std::string &kind, const std::string &detail_json) {
  nlohmann::json detail = parse_json(detail_json);
  if (!detail.is_object() || !detail.contains("action") || !detail["action"].is_number_integer()) return std::nullopt;
  RuleDetail rule;
  rule.action = detail["action"].get<std::int64_t>();
  if (kind == "row_rule") {
    if (!detail.contains("situation") || !detail["situation"].is_number_integer()) return std::nullopt;
    rule.situation = detail["situation"].get<std::int64_t>();
    if (!valid_row_rule(rule.situation, rule.action)) return std::nullopt;
    return rule;
  }
  if (kind != "column_rule" || !valid_column_rule(rule.action)) return std::nullopt;
  if (detail.contains("column") && !detail["column"].is_null()) {
    if (!detail["column"].is_string()) return std::nullopt;
    rule.column = detail["column"].get<std::string>();
  }
  return rule;
}

}  // namespace zumero::conflict
