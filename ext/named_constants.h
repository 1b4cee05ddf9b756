// The values behind zumero_named_constant(): conflict actions and situations are
// integers (actions are bit flags so attempt_text_merge can be OR'ed with another),
// ACL fields are text stored in z_acl.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <variant>

namespace zumero {

namespace action {
constexpr std::int64_t kDefault = 0;
constexpr std::int64_t kAccept = 1;
constexpr std::int64_t kIgnore = 2;
constexpr std::int64_t kReject = 4;
constexpr std::int64_t kColumnMerge = 8;
constexpr std::int64_t kAttemptTextMerge = 16;
}  // namespace action

namespace situation {
constexpr std::int64_t kDelAfterMod = 1;
constexpr std::int64_t kModAfterDel = 2;
constexpr std::int64_t kModAfterMod = 3;
}  // namespace situation

using NamedConstant = std::variant<std::int64_t, std::string>;

std::optional<NamedConstant> find_named_constant(const std::string &name);

}  // namespace zumero
