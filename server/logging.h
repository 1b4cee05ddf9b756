// Leveled, thread-safe logging to stderr with UTC timestamps.
#pragma once

#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace zumero::server {

enum class LogLevel { error = 0, warn = 1, info = 2, debug = 3 };

// "error", "warn", "info" or "debug"; nullopt for anything else.
std::optional<LogLevel> parse_log_level(std::string_view name);
const char *log_level_name(LogLevel level);

void set_log_level(LogLevel level);
LogLevel log_level();
bool log_enabled(LogLevel level);

// Writes one line: "2024-05-01T12:34:56.789Z [info] message".
void log_message(LogLevel level, std::string_view message);

namespace detail {
template <typename... Parts>
void log_parts(LogLevel level, const Parts &...parts) {
  if (!log_enabled(level)) return;
  std::ostringstream out;
  (out << ... << parts);
  log_message(level, out.str());
}
}  // namespace detail

// Each argument is streamed with operator<< and the results are concatenated.
template <typename... Parts> void log_error(const Parts &...parts) { detail::log_parts(LogLevel::error, parts...); }
template <typename... Parts> void log_warn(const Parts &...parts) { detail::log_parts(LogLevel::warn, parts...); }
template <typename... Parts> void log_info(const Parts &...parts) { detail::log_parts(LogLevel::info, parts...); }
template <typename... Parts> void log_debug(const Parts &...parts) { detail::log_parts(LogLevel::debug, parts...); }

}  // namespace zumero::server
