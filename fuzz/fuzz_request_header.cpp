// Arbitrary bytes as the JSON header of a sync request, read through RequestHeader the
// way the routes read it. A header the client got wrong must end in a Refusal (HTTP
// 400); any other exception escapes and counts as a crash. What a getter returns must
// be what the JSON holds, within the limits asked for.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "server/request_header.h"

using zumero::server::Refusal;
using zumero::server::RequestHeader;

namespace {

[[noreturn]] void invariant_broken(const char *what) {
  std::fprintf(stderr, "fuzz_request_header: invariant broken: %s\n", what);
  std::abort();
}

// The getter's result, or nothing when it refused.
template <typename Getter>
auto attempt(Getter getter) -> std::optional<decltype(getter())> {
  try {
    return getter();
  } catch (const Refusal &refusal) {
    if (refusal.status() != 400) invariant_broken("a header getter refused with a status other than 400");
    return std::nullopt;
  }
}

void check_text(const RequestHeader &header, const std::string &name, std::size_t max_length) {
  const nlohmann::json &field = header.value(name);
  std::optional<std::string> text = attempt([&] { return header.text(name, max_length); });
  if (text && (!field.is_string() || *text != field.get<std::string>() || text->size() > max_length))
    invariant_broken("text() returned something the header does not hold");
  std::optional<std::optional<std::string>> optional = attempt([&] { return header.optional_text(name, max_length); });
  if (optional && optional->has_value() != !field.is_null()) invariant_broken("optional_text() and null disagree");
  if (text.has_value() != (optional && optional->has_value())) invariant_broken("text() and optional_text() disagree");
}

void check_integer(const RequestHeader &header, const std::string &name, std::int64_t min, std::int64_t max) {
  const nlohmann::json &field = header.value(name);
  std::optional<std::int64_t> number = attempt([&] { return header.integer(name, min, max); });
  if (number && (!field.is_number_integer() || *number < min || *number > max))
    invariant_broken("integer() returned a value outside what was asked");
  if (number && field.is_number_unsigned() && field.get<std::uint64_t>() != static_cast<std::uint64_t>(*number))
    invariant_broken("integer() changed a large unsigned value");
  std::optional<std::int64_t> with_fallback = attempt([&] { return header.integer_or(name, min, min, max); });
  if (field.is_null() ? with_fallback != min : with_fallback != number)
    invariant_broken("integer_or() disagrees with integer()");
}

void check_boolean(const RequestHeader &header, const std::string &name) {
  const nlohmann::json &field = header.value(name);
  std::optional<bool> flag = attempt([&] { return header.boolean_or(name, true); });
  if (flag.has_value() != (field.is_null() || field.is_boolean())) invariant_broken("boolean_or() accepted a non-boolean");
  if (flag && field.is_boolean() && *flag != field.get<bool>()) invariant_broken("boolean_or() changed the value");
}

// Every getter on one field, with the limits the routes use and the extremes.
void check_field(const RequestHeader &header, const std::string &name) {
  if (header.has(name) == header.value(name).is_null()) invariant_broken("has() and value() disagree");
  check_text(header, name, 128);
  check_text(header, name, 0);
  check_integer(header, name, 0, INT64_MAX);
  check_integer(header, name, 1, 256);
  check_integer(header, name, INT64_MIN, INT64_MAX);
  check_boolean(header, name);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  std::optional<RequestHeader> header;
  try {
    header.emplace(std::string(reinterpret_cast<const char *>(data), size));
  } catch (const Refusal &) {
    return 0;
  }
  if (!header->json().is_object()) invariant_broken("a header that is not an object was accepted");

  // The fields the routes read, present or not.
  for (const char *name : {"dbfile", "auth", "client", "base", "base_token", "pkg", "digest", "part", "parts",
                           "target", "exclude", "history", "cursor", "versions"})
    check_field(*header, name);
  // And whatever else the client sent.
  std::size_t checked = 0;
  for (const auto &item : header->json().items()) {
    if (++checked > 64) break;
    check_field(*header, item.key());
  }

  // The server may log or forward the header it parsed: written again, it reads the same.
  std::optional<RequestHeader> again;
  try {
    again.emplace(header->json().dump());
  } catch (const Refusal &) {
    invariant_broken("a parsed header does not parse again once written");
  }
  if (again->json() != header->json()) invariant_broken("writing a header changes it");
  return 0;
}
