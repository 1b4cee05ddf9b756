#include "vtab/table_changes.h"

#include <nlohmann/json.hpp>

#include "base/catalog.h"
#include "base/sql.h"
#include "base/table_definition.h"

namespace zumero {

ColumnDefinition add_table_column(sqlite3 *db, ConnectionState &connection, const std::string &schema,
                                  const std::string &table, const std::string &column_text) {
  std::optional<std::string> name = stored_table_name(db, schema, table);
  if (!name) fail("invalid_argument");
  std::optional<TableDefinition> current = load_table_definition(db, schema, *name);
  if (!current) fail("invalid_argument");
  ColumnDefinition column = parse_column_definition(column_text);
  TableDefinition extended = add_column(*current, column);  // names, limits, CHECK references
  check_definition_compiles(*name, extended);
  require_referenced_tables(db, schema, *name, extended);
  Savepoint savepoint(db, "zumero_add_column");
  exec(db, add_column_ddl(schema, *name, column, extended.strict_types));
  exec(db, history_triggers_ddl(schema, *name, extended));
  save_table_definition(db, schema, *name, extended);
  if (!connection.applying_remote) {
    nlohmann::json detail = {{"definition", column.argument()}};
    record_schema_change(db, schema, "add_column", *name, detail.dump());
  }
  savepoint.release();
  return column;
}

}  // namespace zumero
