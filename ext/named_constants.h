// The values behind zumero_named_constant(): conflict actions and situations are
// integers (actions are bit flags so attempt_text_merge can be OR'ed with another),
// ACL fields are text stored in z_acl.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "base/conflict_actions.h"

namespace zumero {

namespace action = conflict::action;

namespace situation {
constexpr std::int64_t kDelAfterMod = static_cast<std::int64_t>(conflict::Situation::DelAfterMod);
constexpr std::int64_t kModAfterDel = static_cast<std::int64_t>(conflict::Situation::ModAfterDel);
constexpr std::int64_t kModAfterMod = static_cast<std::int64_t>(conflict::Situation::ModAfterMod);
}  // namespace situation

using NamedConstant = std::variant<std::int64_t, std::string>;

std::optional<NamedConstant> find_named_constant(const std::string &name);

}  // namespace zumero
