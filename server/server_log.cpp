#include "server/server_log.h"

#include "base/connection_state.h"
#include "sync/row_store.h"
#include "base/catalog.h"
#include "base/sql.h"

namespace zumero::server {
namespace {

sync::Value text(const std::string &value) { return sync::Value{sync::Value::Text, 0, 0, value}; }
sync::Value integer(std::int64_t value) { return sync::Value{sync::Value::Integer, value, 0, {}}; }

}  // namespace

void ServerLog::append(const LogEntry &entry) {
  std::lock_guard<std::mutex> guard(mutex_);
  std::unique_ptr<WriteSession> session = store_.write("zumero_log");
  sqlite3 *db = session->db();
  ensure_server_tables(db);
  if (!load_table_definition(db, "main", "log")) {
    exec(db, "CREATE VIRTUAL TABLE log USING zumero (dbfile TEXT, url TEXT, ip_address TEXT, unix_time INTEGER, "
             "scheme TEXT, username TEXT, request_size INTEGER, response_size INTEGER, status INTEGER, "
             "elapsed INTEGER, constraint_details TEXT, full_request_size INTEGER, full_response_size INTEGER, "
             "txid_max INTEGER)");
    // Created by the server itself: the entry is server history, not a pending change.
    exec(db, "UPDATE \"t$schema\" SET rv = 1 WHERE rv IS NULL; DELETE FROM \"t$dirty\"");
    advance_version(db, 1);
  }
  std::int64_t version = current_version(db) + 1;
  sync::RowStore rows(db, "main", "log");
  rows.ensure_server_indexes();
  std::int64_t highest = rows.max_recid();
  std::int64_t recid = highest < INT64_MAX ? highest + 1 : random_unused_recid(db, "main", "log");
  rows.insert_live(recid, {text(entry.dbfile), text(entry.url), text(entry.ip_address), integer(entry.unix_time),
                           text(entry.scheme), text(entry.username), integer(entry.request_size),
                           integer(entry.response_size), integer(entry.status), integer(entry.elapsed),
                           entry.constraint_details.empty() ? sync::Value{} : text(entry.constraint_details),
                           integer(entry.full_request_size), integer(entry.full_response_size),
                           integer(entry.txid_max)});
  rows.set_version(recid, version, false);
  advance_version(db, version);
  session->commit();
}

}  // namespace zumero::server
