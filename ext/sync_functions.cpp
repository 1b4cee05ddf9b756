// SQL functions that talk to a server: zumero_sync, zumero_pull_without_history,
// zumero_get_storage_usage_on_server, and zumero_last_error_details for the details
// (JSON) of the last failed sync on this connection.
#include <nlohmann/json.hpp>

#include "base/json_text.h"
#include "ext/functions.h"
#include "ext/sync_client.h"
#include "sync/http_client.h"
#include "sync/package.h"
#include "base/catalog.h"
#include "base/sql.h"
#include "base/table_definition.h"

namespace zumero {
namespace {

bool is_text(sqlite3_value *value) { return sqlite3_value_type(value) == SQLITE_TEXT; }

// Credentials are optional, but all three or none (10.1.1); NULLs count as absent.
std::optional<Credentials> credentials(int argc, sqlite3_value **argv, int first) {
  if (argc <= first) return std::nullopt;
  int given = 0;
  for (int i = first; i < first + 3; ++i) {
    if (is_null(argv[i])) continue;
    if (!is_text(argv[i])) fail("invalid_argument");
    ++given;
  }
  if (given == 0) return std::nullopt;
  if (given != 3) fail("invalid_argument");
  return Credentials{text_argument(argv[first]), text_argument(argv[first + 1]), text_argument(argv[first + 2])};
}

SyncOptions sync_options(int argc, sqlite3_value **argv) {
  if (argc != 3 && argc != 6 && argc != 7) fail("invalid_argument");
  for (int i = 0; i < 3; ++i)
    if (!is_text(argv[i])) fail("invalid_argument");
  if (argc == 7 && !is_null(argv[6]) && !is_text(argv[6])) fail("invalid_argument");  // temp_dir
  SyncOptions options;
  options.schema = text_argument(argv[0]);
  options.url = text_argument(argv[1]);
  options.dbfile = text_argument(argv[2]);
  options.credentials = credentials(argc, argv, 3);
  return options;
}

void result_text(sqlite3_context *context, const std::string &text) {
  sqlite3_result_text(context, text.c_str(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
}

void sync_function(sqlite3_context *context, int argc, sqlite3_value **argv) {
  guarded(context, [&] {
    SyncOptions options = sync_options(argc, argv);
    SyncStats stats = run_sync(sqlite3_context_db_handle(context), connection_of(context), options);
    result_text(context, stats.text());
  });
}

void pull_without_history(sqlite3_context *context, int argc, sqlite3_value **argv) {
  guarded(context, [&] {
    sqlite3 *db = sqlite3_context_db_handle(context);
    SyncOptions options = sync_options(argc, argv);
    options.without_history = true;
    require_attached(db, options.schema);
    // Only for the first sync of an empty database.
    if (!zumero_table_names(db, options.schema).empty() ||
        (has_housekeeping(db, options.schema) &&
         query_int(db, "SELECT count(*) FROM " + qualified(options.schema, "t$sync") + " WHERE key = 'base'") > 0))
      fail("invalid_argument");
    result_text(context, run_sync(db, connection_of(context), options).text());
  });
}

bool valid_identifier(const std::string &name) {
  if (name.empty()) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return !std::isdigit(static_cast<unsigned char>(name[0]));
}

void storage_usage(sqlite3_context *context, int, sqlite3_value **argv) {
  guarded(context, [&] {
    sqlite3 *db = sqlite3_context_db_handle(context);
    std::string table = text_argument(argv[4]);
    if (!valid_identifier(table)) fail("invalid_argument");
    nlohmann::json header = {{"op", "storage_usage"}};
    auto auth = credentials(5, argv, 1);
    header["auth"] = auth ? nlohmann::json{{"scheme", auth->scheme}, {"user", auth->user}, {"password", auth->password}}
                          : nlohmann::json(nullptr);
    std::string url = text_argument(argv[0]);
    check_server_url(url);
    std::string body = sync::seal_envelope({header.dump(), std::string()});
    HttpResponse response = http_post(url, "/storage_usage", body, "application/x-zumero");
    if (response.status != 200) throw_http_error(connection_of(context), response.status, response.body);
    nlohmann::json reply =
        parse_json(sync::open_envelope(response.body, std::size_t(64) << 20).header_json);
    if (!reply.is_object() || !reply.value("dbfiles", nlohmann::json()).is_array()) fail("http_other");
    exec(db, "CREATE TEMP TABLE " + quote_identifier(table) + " (dbfile TEXT, size INTEGER)");
    Statement insert(db, "INSERT INTO temp." + quote_identifier(table) + " (dbfile, size) VALUES (?1, ?2)");
    for (const auto &entry : reply["dbfiles"]) {
      if (!entry.is_object() || !entry.value("dbfile", nlohmann::json()).is_string()) fail("http_other");
      insert.bind(1, entry["dbfile"].get<std::string>()).bind(2, entry.value("size", std::int64_t{0})).run();
    }
    sqlite3_result_null(context);
  });
}

void last_error_details(sqlite3_context *context, int, sqlite3_value **) {
  const std::string &details = connection_of(context).last_error_details;
  if (details.empty()) sqlite3_result_null(context);
  else result_text(context, details);
}

}  // namespace

int register_sync_functions(sqlite3 *db, const std::shared_ptr<ConnectionState> &connection) {
  const int direct = SQLITE_DIRECTONLY;
  int rc = SQLITE_OK;
  for (int count : {3, 6, 7}) {
    if (rc == SQLITE_OK) rc = create_function(db, "zumero_sync", count, direct, connection, sync_function);
    if (rc == SQLITE_OK)
      rc = create_function(db, "zumero_pull_without_history", count, direct, connection, pull_without_history);
  }
  // Wrong argument counts still reach the functions, which report invalid_argument.
  if (rc == SQLITE_OK) rc = create_function(db, "zumero_sync", -1, direct, connection, sync_function);
  if (rc == SQLITE_OK)
    rc = create_function(db, "zumero_pull_without_history", -1, direct, connection, pull_without_history);
  if (rc == SQLITE_OK)
    rc = create_function(db, "zumero_get_storage_usage_on_server", 5, direct, connection, storage_usage);
  if (rc == SQLITE_OK) rc = create_function(db, "zumero_last_error_details", 0, 0, connection, last_error_details);
  return rc;
}

}  // namespace zumero
