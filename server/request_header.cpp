#include "base/json_text.h"
#include "server/request_header.h"

namespace zumero::server {

RequestHeader::RequestHeader(const std::string &json_text) {
  json_ = parse_json(json_text);
  if (json_.is_discarded() || !json_.is_object()) refuse("the request header is not a JSON object");
}

bool RequestHeader::has(const std::string &name) const { return json_.contains(name) && !json_[name].is_null(); }

const nlohmann::json &RequestHeader::value(const std::string &name) const {
  static const nlohmann::json null;
  auto found = json_.find(name);
  return found == json_.end() ? null : *found;
}

std::optional<std::string> RequestHeader::optional_text(const std::string &name, std::size_t max_length) const {
  const nlohmann::json &field = value(name);
  if (field.is_null()) return std::nullopt;
  if (!field.is_string()) refuse("'" + name + "' must be a string");
  const std::string &text = field.get_ref<const std::string &>();
  if (text.size() > max_length) refuse("'" + name + "' is too long");
  return text;
}

std::string RequestHeader::text(const std::string &name, std::size_t max_length) const {
  std::optional<std::string> text = optional_text(name, max_length);
  if (!text) refuse("'" + name + "' is missing");
  return *text;
}

std::int64_t RequestHeader::integer(const std::string &name, std::int64_t min, std::int64_t max) const {
  const nlohmann::json &field = value(name);
  // 1.5 is not an integer, and neither is 2e3: only JSON integers are.
  if (!field.is_number_integer()) refuse("'" + name + "' must be an integer");
  if (field.is_number_unsigned() && field.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
    refuse("'" + name + "' is out of range");
  std::int64_t number = field.get<std::int64_t>();
  if (number < min || number > max) refuse("'" + name + "' is out of range");
  return number;
}

std::int64_t RequestHeader::integer_or(const std::string &name, std::int64_t fallback, std::int64_t min,
                                       std::int64_t max) const {
  return value(name).is_null() ? fallback : integer(name, min, max);
}

bool RequestHeader::boolean_or(const std::string &name, bool fallback) const {
  const nlohmann::json &field = value(name);
  if (field.is_null()) return fallback;
  if (!field.is_boolean()) refuse("'" + name + "' must be true or false");
  return field.get<bool>();
}

}  // namespace zumero::server
