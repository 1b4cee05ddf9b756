// Local writes to a zumero table: each keeps z$T, z$old$T and the connection's record
// of changed rows in step. Statements are prepared once per table and reused.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "base/connection_state.h"
#include "base/sql.h"
#include "base/table_definition.h"

namespace zumero {

class LocalWriter {
public:
  LocalWriter(sqlite3 *db, ConnectionState &connection, std::string schema, std::string name,
              const TableDefinition &definition);

  // values has one entry per column. rowid may be NULL. Returns the new row's identity.
  std::int64_t insert(sqlite3_value *rowid, sqlite3_value **values, bool replace);
  // Values flagged by sqlite3_value_nochange are left as they are.
  void update(std::int64_t old_recid, sqlite3_value *new_rowid, sqlite3_value **values, bool replace);
  void remove(std::int64_t recid);

private:
  std::int64_t next_recid();
  Statement &update_statement(const std::string &changed, bool replace);
  void run_recording(Statement &statement, bool record);

  sqlite3 *db_;
  ConnectionState &connection_;
  std::string schema_;
  std::string name_;
  const TableDefinition &definition_;
  std::string live_;
  Statement insert_[2];
  Statement delete_;
  std::map<std::string, Statement> updates_;
};

}  // namespace zumero
