// Requests a test sends to zumero-server itself, to look at what the server holds
// without opening its files, whatever keeps them (SQLite files or PostgreSQL).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "sync_support.h"

namespace zumero::synctest {

// The rows of one read-only SELECT on `dbfile` (POST /query, anonymous), every value as
// text: "<null>" for NULL, numbers as JSON writes them. Throws std::runtime_error unless
// the server answers 200.
Rows query_rows(const std::string &url, const std::string &dbfile, const std::string &sql);

// The dbfile's current version (POST /versions, anonymous); nothing when the dbfile does
// not exist. Throws std::runtime_error unless the server answers 200.
std::optional<std::int64_t> current_version(const std::string &url, const std::string &dbfile);

}  // namespace zumero::synctest
