// The JSON header of a sync request, read strictly: every field has a type and a
// range, and anything else is the client's mistake (HTTP 400), never a server fault.
#pragma once
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace zumero::server {

// A request refused because of what the client sent: an HTTP status, a zumero error
// identifier, a message that names nothing of the server, and optional details.
class Refusal : public std::runtime_error {
public:
  Refusal(int status, std::string identifier, const std::string &message,
          nlohmann::json details = nlohmann::json::object())
      : std::runtime_error(message), status_(status), identifier_(std::move(identifier)), details_(std::move(details)) {}
  int status() const { return status_; }
  const std::string &identifier() const { return identifier_; }
  const nlohmann::json &details() const { return details_; }

private:
  int status_;
  std::string identifier_;
  nlohmann::json details_;
};

[[noreturn]] inline void refuse(const std::string &message) { throw Refusal(400, "http_400", message); }

class RequestHeader {
public:
  explicit RequestHeader(const std::string &json_text);

  bool has(const std::string &name) const;
  std::string text(const std::string &name, std::size_t max_length) const;
  std::optional<std::string> optional_text(const std::string &name, std::size_t max_length) const;
  std::int64_t integer(const std::string &name, std::int64_t min, std::int64_t max) const;
  std::int64_t integer_or(const std::string &name, std::int64_t fallback, std::int64_t min, std::int64_t max) const;
  bool boolean_or(const std::string &name, bool fallback) const;
  const nlohmann::json &value(const std::string &name) const;  // null when absent
  const nlohmann::json &json() const { return json_; }

private:
  nlohmann::json json_;
};

}  // namespace zumero::server
