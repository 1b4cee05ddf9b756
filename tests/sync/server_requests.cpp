#include "server_requests.h"

#include <stdexcept>

#include <nlohmann/json.hpp>

#include "sync/http_client.h"
#include "sync/package.h"

namespace zumero::synctest {
namespace {

using nlohmann::json;

HttpResponse post(const std::string &url, const std::string &path, const json &header) {
  HttpResponse response =
      http_post(url, path, sync::seal_envelope({header.dump(), std::string()}), "application/x-zumero", 60);
  if (response.status != 200)
    throw std::runtime_error(path + " answered " + std::to_string(response.status) + ": " + response.body);
  return response;
}

}  // namespace

Rows query_rows(const std::string &url, const std::string &dbfile, const std::string &sql) {
  HttpResponse response = post(url, "/query", {{"dbfile", dbfile}, {"auth", nullptr}, {"sql", sql}});
  json body = json::parse(response.body, nullptr, false);
  if (!body.is_object() || !body.contains("rows") || !body["rows"].is_array())
    throw std::runtime_error("/query answered without rows: " + response.body);
  Rows rows;
  for (const json &values : body["rows"]) {
    Row row;
    for (const json &value : values)
      row.push_back(value.is_null() ? "<null>" : value.is_string() ? value.get<std::string>() : value.dump());
    rows.push_back(row);
  }
  return rows;
}

std::optional<std::int64_t> current_version(const std::string &url, const std::string &dbfile) {
  HttpResponse response = post(url, "/versions", {{"dbfile", dbfile}, {"auth", nullptr}, {"versions", json::array()}});
  json header = json::parse(sync::open_envelope(response.body, 1 << 20).header_json);
  if (header.value("missing", false)) return std::nullopt;
  return header.at("current").get<std::int64_t>();
}

std::filesystem::path readable_dbfile(const test::ServerProcess &server, const std::string &dbfile) {
  if (!server.uses_postgresql()) return server.data_dir() / (dbfile + ".db");
  // The node reads the dbfile (and so updates its copy) before it checks who asks.
  json header = {{"dbfile", dbfile}, {"auth", nullptr}, {"versions", json::array()}};
  http_post(server.node_url(0), "/versions", sync::seal_envelope({header.dump(), std::string()}), "application/x-zumero",
            60);
  return server.node_data_dir(0) / "copies" / (dbfile + ".db");
}

}  // namespace zumero::synctest
