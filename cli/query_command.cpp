// zumero query URL DBFILE SQL: one read-only SELECT on the server's copy of a dbfile
// (POST /query), printed as a table, or the server's JSON answer as it came (--json).
#include <iostream>

#include <nlohmann/json.hpp>

#include "base/sql.h"
#include "cli/commands.h"
#include "cli/table.h"
#include "sync/http_client.h"
#include "sync/package.h"

namespace zumero::cli {
namespace {

using nlohmann::json;

std::string cell(const json &value) {
  if (value.is_null()) return "NULL";
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

[[noreturn]] void refused(const HttpResponse &response) {
  json error = json::parse(response.body, nullptr, false);
  std::string identifier = error.is_object() ? error.value("error", "") : "";
  std::string message = error.is_object() ? error.value("message", "") : "";
  if (identifier.empty()) identifier = "http_" + std::to_string(response.status);
  throw Error(SQLITE_ERROR, "zumero:" + identifier + (message.empty() ? "" : " (" + message + ")"));
}

}  // namespace

int run_query(const QueryCommand &command) {
  std::optional<ResolvedCredentials> credentials = resolve_credentials(command.credentials);
  json header = {{"dbfile", command.dbfile}, {"sql", command.sql}};
  header["auth"] = credentials ? json{{"scheme", credentials->scheme}, {"user", credentials->user},
                                      {"password", credentials->password}}
                               : json(nullptr);
  if (command.max_rows) header["max_rows"] = command.max_rows;
  std::string body = sync::seal_envelope({header.dump(), std::string()});
  HttpResponse response = http_post(command.url, "/query", body, "application/x-zumero", 120);
  if (response.status != 200) refused(response);
  if (command.json) {
    std::cout << response.body << "\n";
    return 0;
  }
  json answer = json::parse(response.body, nullptr, false);
  if (!answer.is_object() || !answer.value("columns", json()).is_array() || !answer.value("rows", json()).is_array())
    throw Error(SQLITE_ERROR, "zumero:http_other (the answer is not a query result)");
  std::vector<std::string> columns;
  for (const json &name : answer["columns"]) columns.push_back(cell(name));
  TextTable table(columns);
  for (const json &row : answer["rows"]) {
    std::vector<std::string> cells;
    if (row.is_array())
      for (const json &value : row) cells.push_back(cell(value));
    table.add(std::move(cells));
  }
  table.print(std::cout);
  std::size_t rows = table.size();
  std::cout << "(" << rows << (rows == 1 ? " row" : " rows")
            << (answer.value("truncated", false) ? ", truncated: the server answers no more" : "") << ")\n";
  return 0;
}

}  // namespace zumero::cli
