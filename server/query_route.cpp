#include "server/query_route.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstring>

#include "base/catalog.h"
#include "base/expression.h"
#include "base/sql.h"
#include "server/request_header.h"

namespace zumero::server {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxSql = 64 << 10;

bool housekeeping(const char *table) {
  return table && (iequals(std::string_view(table).substr(0, 2), "t$") || iequals(table, "sqlite_stat1"));
}

// Reading only: SELECT, reading tables other than zumero's housekeeping, and the
// built-in functions table definitions may use (plus count and the aggregates).
int authorize_read(void *, int action, const char *first, const char *second, const char *, const char *) {
  switch (action) {
    case SQLITE_SELECT: return SQLITE_OK;
    case SQLITE_READ: return housekeeping(first) ? SQLITE_DENY : SQLITE_OK;
    case SQLITE_FUNCTION: {
      static const NameSet aggregates = {"count", "sum", "total", "avg", "group_concat"};
      if (!second) return SQLITE_DENY;
      return (aggregates.count(second) || is_allowed_function(lower_ascii(second))) ? SQLITE_OK : SQLITE_DENY;
    }
    case SQLITE_RECURSIVE: return SQLITE_OK;
    default: return SQLITE_DENY;
  }
}

struct Deadline {
  Clock::time_point end;
};

int past_deadline(void *data) { return Clock::now() >= static_cast<Deadline *>(data)->end ? 1 : 0; }

json value_json(sqlite3_stmt *statement, int column) {
  switch (sqlite3_column_type(statement, column)) {
    case SQLITE_INTEGER: return sqlite3_column_int64(statement, column);
    case SQLITE_FLOAT: return sqlite3_column_double(statement, column);
    case SQLITE_NULL: return nullptr;
    case SQLITE_TEXT:
      return std::string(reinterpret_cast<const char *>(sqlite3_column_text(statement, column)),
                         sqlite3_column_bytes(statement, column));
    default: {
      return "x'" + hex_bytes(sqlite3_column_blob(statement, column), sqlite3_column_bytes(statement, column)) + "'";
    }
  }
}

// The authorizer and the progress handler, for as long as the query runs.
class ReadOnlyGuard {
public:
  ReadOnlyGuard(sqlite3 *db, int timeout_ms) : db_(db) {
    deadline_.end = Clock::now() + std::chrono::milliseconds(timeout_ms);
    sqlite3_set_authorizer(db_, authorize_read, nullptr);
    sqlite3_progress_handler(db_, 1000, past_deadline, &deadline_);
  }
  ~ReadOnlyGuard() {
    sqlite3_progress_handler(db_, 0, nullptr, nullptr);
    sqlite3_set_authorizer(db_, nullptr, nullptr);
  }
  ReadOnlyGuard(const ReadOnlyGuard &) = delete;
  ReadOnlyGuard &operator=(const ReadOnlyGuard &) = delete;

private:
  sqlite3 *db_;
  Deadline deadline_;
};

[[noreturn]] void refused_query(int rc, sqlite3 *db) {
  if (rc == SQLITE_AUTH) throw Refusal(403, "permission_denied", "the query may only read");
  if (rc == SQLITE_INTERRUPT) throw Refusal(400, "query_timeout", "the query ran out of time");
  throw Refusal(400, "syntax_error", sqlite3_errmsg(db));
}

}  // namespace

Response run_query(Storage &store, Permissions &permissions, RequestContext &context, const QueryLimits &limits) {
  std::string sql = context.header.text("sql", kMaxSql);
  std::size_t max_rows = static_cast<std::size_t>(
      context.header.integer_or("max_rows", static_cast<std::int64_t>(limits.max_rows), 1,
                                static_cast<std::int64_t>(limits.max_rows)));
  std::optional<PooledConnection> connection = store.try_read(context.dbfile);
  if (!connection) throw Refusal(404, "no_such_dbfile", "no such dbfile");
  sqlite3 *db = connection->get();
  Transaction read(db, "BEGIN");
  permissions.require_pull(context.identity, context.dbfile, db);
  // Each zumero table connects now: its xConnect reads t$tables, which the guard denies.
  for (const std::string &table : zumero_table_names(db, "main")) Statement(db, "SELECT 1 FROM " + quote_identifier(table));
  json answer = {{"columns", json::array()}, {"rows", json::array()}, {"truncated", false}};
  {
    ReadOnlyGuard guard(db, limits.timeout_ms);
    sqlite3_stmt *raw = nullptr;
    const char *tail = nullptr;
    int rc = sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &raw, &tail);
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt *)> statement(raw, sqlite3_finalize);
    if (rc != SQLITE_OK) refused_query(rc, db);
    if (!raw) refuse("the query is empty");
    for (; tail && *tail; ++tail)
      if (!std::isspace(static_cast<unsigned char>(*tail)) && *tail != ';') refuse("one statement only");
    if (!sqlite3_stmt_readonly(raw)) throw Refusal(403, "permission_denied", "the query may only read");
    int columns = sqlite3_column_count(raw);
    for (int i = 0; i < columns; ++i) answer["columns"].push_back(sqlite3_column_name(raw, i));
    while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
      if (answer["rows"].size() == max_rows) {
        answer["truncated"] = true;
        break;
      }
      json row = json::array();
      for (int i = 0; i < columns; ++i) row.push_back(value_json(raw, i));
      answer["rows"].push_back(std::move(row));
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) refused_query(rc, db);
  }
  read.commit();
  return Response{200, answer.dump(-1, ' ', false, json::error_handler_t::replace), "application/json"};
}

}  // namespace zumero::server
