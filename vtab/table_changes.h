// Changes to a zumero table's definition that SQLite cannot pass to a virtual table:
// adding a column (zumero_alter_table_add_column, and sync applying an add_column
// entry from the other side).
#pragma once
#include <string>

#include "base/column_parser.h"
#include "base/connection_state.h"

namespace zumero {

// Adds the column: z$T and z$old$T grow (old versions read the column's DEFAULT, as
// live rows do), the history triggers are made anew and the catalog updated. A local
// schema change is recorded unless the connection is applying remote changes. Returns
// the column as the catalog now holds it. Throws zumero::Error; changes nothing then.
ColumnDefinition add_table_column(sqlite3 *db, ConnectionState &connection, const std::string &schema,
                                  const std::string &table, const std::string &column_text);

}  // namespace zumero
