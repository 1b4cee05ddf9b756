// Requests a test sends to zumero-server itself, to look at what the server holds
// without opening its files, whatever keeps them (SQLite files or PostgreSQL).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "server/tests/server_process.h"
#include "sync_support.h"

namespace zumero::synctest {

// The rows of one read-only SELECT on `dbfile` (POST /query, anonymous), every value as
// text: "<null>" for NULL, numbers as JSON writes them. Throws std::runtime_error unless
// the server answers 200.
Rows query_rows(const std::string &url, const std::string &dbfile, const std::string &sql);

// The dbfile's current version (POST /versions, anonymous); nothing when the dbfile does
// not exist. Throws std::runtime_error unless the server answers 200.
std::optional<std::int64_t> current_version(const std::string &url, const std::string &dbfile);

// A SQLite file showing `dbfile` as the server holds it now, for a test to open
// read-only: the dbfile's own file with SQLite files; in PostgreSQL mode, the first
// node's copy (it has one more table, t$node), brought up to date by a /versions
// request to that node, whatever the request's permissions. The file does not exist
// when the dbfile does not.
std::filesystem::path readable_dbfile(const test::ServerProcess &server, const std::string &dbfile);

}  // namespace zumero::synctest
