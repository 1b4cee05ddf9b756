// The housekeeping tables of a database holding zumero tables (prefix t$), and the
// record of zumero table definitions. Client and server use the same catalog.
//   t$tx      one row per local write transaction (txid, unix_time)
//   t$dirty   row identities changed locally and not yet synced, as ranges per txid
//   t$tables  name and definition (JSON array of module arguments) of each zumero table
//   t$schema  table creations, added columns and conflict rules, in order; rv NULL
//             until the server has accepted the entry
//   t$sync    sync state as key/value pairs
//   t$q       quarantined packages
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/sqlite_api.h"
#include "base/column_parser.h"

namespace zumero {

void ensure_housekeeping(sqlite3 *db, const std::string &schema);
bool has_housekeeping(sqlite3 *db, const std::string &schema);

// Throws zumero:invalid_argument unless schema names an attached database.
void require_attached(sqlite3 *db, const std::string &schema);

std::optional<TableDefinition> load_table_definition(sqlite3 *db, const std::string &schema, const std::string &name);
void save_table_definition(sqlite3 *db, const std::string &schema, const std::string &name,
                           const TableDefinition &table);
std::vector<std::string> zumero_table_names(sqlite3 *db, const std::string &schema);
// The zumero table named `name` in any case, as the catalog spells it.
std::optional<std::string> stored_table_name(sqlite3 *db, const std::string &schema, const std::string &name);

// Throws zumero:syntax_error unless every REFERENCES of the definition of table name
// names a zumero table of schema (or the table itself).
void require_referenced_tables(sqlite3 *db, const std::string &schema, const std::string &name,
                               const TableDefinition &table);

// Appends an entry to t$schema. Without rv it is a local change the next sync carries;
// with rv it is an entry the server accepted in that version. On a client, origin is
// the server's sequence number of an entry received from it: entries are told apart by
// it, never by their text.
void record_schema_change(sqlite3 *db, const std::string &schema, const std::string &kind,
                          const std::optional<std::string> &table, const std::string &detail_json,
                          std::optional<std::int64_t> rv = std::nullopt,
                          std::optional<std::int64_t> origin = std::nullopt);

// A zumero table (and one of its row ids) whose foreign keys fail, looking only at
// tables that reference, or are referenced by, one of the changed tables.
struct ForeignKeyViolation {
  std::string table;
  std::int64_t recid = 0;
};
std::optional<ForeignKeyViolation> find_foreign_key_violation(sqlite3 *db, const std::string &schema,
                                                              const std::vector<std::string> &changed_tables);

// Row identities [first, last] of a table that a transaction changed.
struct RowRange {
  std::string table;
  std::int64_t first = 0;
  std::int64_t last = 0;
};

// The same check looking only at the rows a local transaction changed, so its cost
// follows the changes, not the tables: each changed row's references must find their
// parent, and each key a changed parent row gave up (its old versions, which the
// history keeps under the transaction's txid) must be referenced by no row. A
// reference whose parent key is not one plain column falls back to checking the
// whole table.
std::optional<ForeignKeyViolation> find_foreign_key_violation(sqlite3 *db, const std::string &schema,
                                                              const std::vector<RowRange> &changed,
                                                              std::int64_t txid);

std::string arguments_to_json(const std::vector<std::string> &arguments);
std::vector<std::string> arguments_from_json(const std::string &json);

}  // namespace zumero
