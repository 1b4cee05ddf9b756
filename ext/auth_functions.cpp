// The internal-auth functions (guide 10.1.3-10.1.7): each sends one request to the
// server's route of the same name and changes nothing in the local database.
#include <nlohmann/json.hpp>

#include "base/sql.h"
#include "ext/functions.h"
#include "ext/sync_client.h"
#include "sync/http_client.h"
#include "sync/package.h"
#include "sync/protocol.h"

namespace zumero {
namespace {

using nlohmann::json;

json optional_text(sqlite3_value *value) {
  if (is_null(value)) return nullptr;
  if (sqlite3_value_type(value) != SQLITE_TEXT) fail("invalid_argument");
  return text_argument(value);
}

std::string required_text(sqlite3_value *value) {
  if (sqlite3_value_type(value) != SQLITE_TEXT) fail("invalid_argument");
  return text_argument(value);
}

// server_url, dbfile and the three credentials (all or none) come first in every one.
json request_header(sqlite3_value **argv, std::string &url) {
  url = required_text(argv[0]);
  check_server_url(url);
  std::string dbfile = required_text(argv[1]);
  if (!sync::valid_dbfile_name(dbfile, true)) fail("invalid_dbfile_name");
  int given = 0;
  for (int i = 2; i < 5; ++i) given += is_null(argv[i]) ? 0 : 1;
  if (given != 0 && given != 3) fail("invalid_argument");
  json header = {{"dbfile", dbfile}};
  header["auth"] = given ? json{{"scheme", required_text(argv[2])}, {"user", required_text(argv[3])},
                                {"password", required_text(argv[4])}}
                         : json(nullptr);
  return header;
}

void send(sqlite3_context *context, const std::string &url, const std::string &route, const json &header) {
  std::string body = sync::seal_envelope({header.dump(), std::string()});
  HttpResponse response = http_post(url, route, body, "application/x-zumero");
  if (response.status != 200 && response.status != 204) throw_http_error(connection_of(context), response.status, response.body);
  sqlite3_result_null(context);
}

void auth_create(sqlite3_context *context, int argc, sqlite3_value **argv) {
  guarded(context, [&] {
    if (argc != 11) fail("invalid_argument");
    std::string url;
    json header = request_header(argv, url);
    header["first_username"] = optional_text(argv[5]);
    header["first_password"] = optional_text(argv[6]);
    header["allow_add_scheme"] = optional_text(argv[7]);
    header["allow_add_who"] = optional_text(argv[8]);
    header["allow_mod_scheme"] = optional_text(argv[9]);
    header["allow_mod_who"] = optional_text(argv[10]);
    if (header["first_username"].is_null() != header["first_password"].is_null()) fail("invalid_argument");
    send(context, url, "/auth_create", header);
  });
}

void auth_add_user(sqlite3_context *context, int argc, sqlite3_value **argv) {
  guarded(context, [&] {
    if (argc != 7) fail("invalid_argument");
    std::string url;
    json header = request_header(argv, url);
    header["new_user"] = required_text(argv[5]);
    header["new_password"] = required_text(argv[6]);
    send(context, url, "/auth_add_user", header);
  });
}

void auth_add_alias(sqlite3_context *context, int argc, sqlite3_value **argv) {
  guarded(context, [&] {
    if (argc != 8) fail("invalid_argument");
    std::string url;
    json header = request_header(argv, url);
    header["new_username"] = required_text(argv[5]);
    header["other_dbfile"] = optional_text(argv[6]);
    header["other_username"] = optional_text(argv[7]);
    if (header["other_dbfile"].is_null() && header["other_username"].is_null()) fail("invalid_argument");
    send(context, url, "/auth_add_alias", header);
  });
}

void auth_set_password(sqlite3_context *context, int argc, sqlite3_value **argv) {
  guarded(context, [&] {
    if (argc != 7) fail("invalid_argument");
    std::string url;
    json header = request_header(argv, url);
    header["username"] = required_text(argv[5]);
    header["password"] = required_text(argv[6]);
    send(context, url, "/auth_set_password", header);
  });
}

void auth_set_acl_entry(sqlite3_context *context, int argc, sqlite3_value **argv) {
  guarded(context, [&] {
    if (argc != 10) fail("invalid_argument");
    std::string url;
    json header = request_header(argv, url);
    header["scheme"] = optional_text(argv[5]);
    header["who"] = required_text(argv[6]);
    header["tbl"] = optional_text(argv[7]);
    header["op"] = required_text(argv[8]);
    header["result"] = required_text(argv[9]);
    send(context, url, "/auth_set_acl_entry", header);
  });
}

}  // namespace

int register_auth_functions(sqlite3 *db, const std::shared_ptr<ConnectionState> &connection) {
  struct Definition {
    const char *name;
    void (*body)(sqlite3_context *, int, sqlite3_value **);
  };
  const Definition definitions[] = {
      {"zumero_internal_auth_create", auth_create},           {"zumero_internal_auth_add_user", auth_add_user},
      {"zumero_internal_auth_add_alias", auth_add_alias},     {"zumero_internal_auth_set_password", auth_set_password},
      {"zumero_internal_auth_set_acl_entry", auth_set_acl_entry},
  };
  for (const Definition &definition : definitions) {
    // Any argument count reaches the function, which reports invalid_argument.
    int rc = create_function(db, definition.name, -1, SQLITE_DIRECTONLY, connection, definition.body);
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}

}  // namespace zumero
