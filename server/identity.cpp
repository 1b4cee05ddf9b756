#include "base/json_text.h"
#include "server/identity.h"

#include <nlohmann/json.hpp>

namespace zumero::server {

std::optional<std::string> canonical_scheme(const std::string &text) {
  nlohmann::json scheme = parse_json(text);
  if (!scheme.is_object() || !scheme.contains("scheme_type") || !scheme["scheme_type"].is_string()) return std::nullopt;
  return scheme.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);  // keys sorted, no spaces
}

std::string internal_scheme(const std::string &dbfile) {
  return nlohmann::json{{"scheme_type", "internal"}, {"dbfile", dbfile}}.dump();
}

std::optional<std::string> internal_scheme_dbfile(const std::string &canonical) {
  nlohmann::json scheme = parse_json(canonical);
  if (!scheme.is_object() || scheme.value("scheme_type", "") != "internal") return std::nullopt;
  if (!scheme.contains("dbfile") || !scheme["dbfile"].is_string()) return std::nullopt;
  return scheme["dbfile"].get<std::string>();
}

}  // namespace zumero::server
