// JSON from the network or from stored definitions is parsed only through these
// helpers: nesting deeper than kMaxJsonDepth is refused before nlohmann builds
// anything, so a few kilobytes of "[[[[..." cannot cost hundreds of megabytes.
#pragma once
#include <string_view>

#include <nlohmann/json.hpp>

namespace zumero {

constexpr int kMaxJsonDepth = 64;

// False when arrays and objects nest deeper than max_depth (strings are skipped).
bool json_nesting_within(std::string_view text, int max_depth = kMaxJsonDepth);

// Like Json::parse(text, nullptr, false): a discarded value when the text is not
// JSON, or nests too deeply.
template <typename Json = nlohmann::json>
Json parse_json(std::string_view text) {
  if (!json_nesting_within(text)) return Json(Json::value_t::discarded);
  return Json::parse(text, nullptr, false);
}

}  // namespace zumero
