#include "ext/functions.h"

#include <nlohmann/json.hpp>

#include "ext/named_constants.h"
#include "quarantine/quarantine.h"
#include "vtab/table_changes.h"
#include "base/catalog.h"
#include "base/column_parser.h"
#include "base/sql.h"
#include "base/table_definition.h"

namespace zumero {

std::string text_argument(sqlite3_value *value) {
  const unsigned char *text = sqlite3_value_text(value);
  return text ? std::string(reinterpret_cast<const char *>(text), sqlite3_value_bytes(value)) : std::string();
}

bool is_null(sqlite3_value *value) { return sqlite3_value_type(value) == SQLITE_NULL; }

void report_error(sqlite3_context *context, const std::exception &failure) {
  sqlite3_result_error(context, failure.what(), -1);
  const Error *known = dynamic_cast<const Error *>(&failure);
  sqlite3_result_error_code(context, known ? known->code() : SQLITE_ERROR);
}

int create_function(sqlite3 *db, const char *name, int arguments, int flags,
                    const std::shared_ptr<ConnectionState> &connection,
                    void (*body)(sqlite3_context *, int, sqlite3_value **)) {
  void *handle = nullptr;
  try {
    handle = ConnectionState::new_handle(connection);
  } catch (...) {
    return SQLITE_NOMEM;
  }
  // SQLite frees the handle when the function goes away, or at once if this fails.
  return sqlite3_create_function_v2(db, name, arguments, SQLITE_UTF8 | flags, handle, body, nullptr, nullptr,
                                    ConnectionState::release_handle);
}

namespace {

// The attached database a function works on; it must exist.
std::string attached_argument(sqlite3_context *context, sqlite3_value *value) {
  if (is_null(value)) fail("invalid_argument");
  std::string schema = text_argument(value);
  require_attached(sqlite3_context_db_handle(context), schema);
  return schema;
}

std::int64_t integer_argument(sqlite3_value *value) {
  if (sqlite3_value_numeric_type(value) != SQLITE_INTEGER) fail("invalid_argument");
  return sqlite3_value_int64(value);
}

void require_autocommit(sqlite3 *db) {
  if (!sqlite3_get_autocommit(db)) fail("invalid_argument");
}

void named_constant(sqlite3_context *context, int, sqlite3_value **argv) {
  guarded(context, [&] {
    auto constant = find_named_constant(text_argument(argv[0]));
    if (!constant) fail("unrecognized_named_constant");
    if (auto *number = std::get_if<std::int64_t>(&*constant)) {
      sqlite3_result_int64(context, *number);
    } else {
      const std::string &text = std::get<std::string>(*constant);
      sqlite3_result_text(context, text.c_str(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    }
  });
}

nlohmann::ordered_json json_value(sqlite3_value *value) {
  switch (sqlite3_value_type(value)) {
    case SQLITE_INTEGER: return sqlite3_value_int64(value);
    case SQLITE_FLOAT: return sqlite3_value_double(value);
    case SQLITE_NULL: return nullptr;
    default: return text_argument(value);
  }
}

std::string auth_scheme_json(int argc, sqlite3_value **argv) {
  if (argc < 1 || argc % 2 == 0 || is_null(argv[0])) fail("invalid_argument");
  nlohmann::ordered_json scheme;
  scheme["scheme_type"] = text_argument(argv[0]);
  for (int i = 1; i + 1 < argc; i += 2) {
    if (is_null(argv[i])) fail("invalid_argument");
    scheme[text_argument(argv[i])] = json_value(argv[i + 1]);
  }
  return scheme.dump();
}

void auth_scheme(sqlite3_context *context, int argc, sqlite3_value **argv) {
  guarded(context, [&] {
    std::string json = auth_scheme_json(argc, argv);
    sqlite3_result_text(context, json.c_str(), static_cast<int>(json.size()), SQLITE_TRANSIENT);
  });
}

void internal_auth_scheme(sqlite3_context *context, int, sqlite3_value **argv) {
  guarded(context, [&] {
    nlohmann::ordered_json scheme;
    scheme["scheme_type"] = "internal";
    scheme["dbfile"] = json_value(argv[0]);
    std::string json = scheme.dump();
    sqlite3_result_text(context, json.c_str(), static_cast<int>(json.size()), SQLITE_TRANSIENT);
  });
}

// Called by the history triggers: while the module writes rows of `table`, returns
// the transaction's id (and notes the row, which OR REPLACE may remove without the
// module seeing it); NULL otherwise, so writes that are not local changes keep no
// local history.
void recording(sqlite3_context *context, int, sqlite3_value **argv) {
  guarded(context, [&] {
    ConnectionState &connection = connection_of(context);
    if (!connection.recording || !iequals(connection.recording->table, text_argument(argv[0]))) {
      sqlite3_result_null(context);
      return;
    }
    const RecordingContext &current = *connection.recording;
    if (!is_null(argv[1])) current.ledger->note(current.table, sqlite3_value_int64(argv[1]));
    sqlite3_result_int64(context, current.txid);
  });
}

void purge_history(sqlite3_context *context, int, sqlite3_value **argv) {
  guarded(context, [&] {
    sqlite3 *db = sqlite3_context_db_handle(context);
    std::string schema = attached_argument(context, argv[0]);
    quarantine::purge_history(db, schema);
    sqlite3_result_null(context);
  });
}

void quarantine_since_last_sync(sqlite3_context *context, int, sqlite3_value **argv) {
  guarded(context, [&] {
    sqlite3 *db = sqlite3_context_db_handle(context);
    std::string schema = attached_argument(context, argv[0]);
    sqlite3_result_int64(context, quarantine::quarantine_since_last_sync(db, schema));
  });
}

void restore_quarantine(sqlite3_context *context, int, sqlite3_value **argv) {
  guarded(context, [&] {
    sqlite3 *db = sqlite3_context_db_handle(context);
    std::string schema = attached_argument(context, argv[0]);
    quarantine::restore_quarantine(db, connection_of(context), schema, integer_argument(argv[1]));
    sqlite3_result_null(context);
  });
}

void define_acl_table(sqlite3_context *context, int, sqlite3_value **argv) {
  guarded(context, [&] {
    sqlite3 *db = sqlite3_context_db_handle(context);
    std::string schema = attached_argument(context, argv[0]);
    if (load_table_definition(db, schema, "z_acl")) {
      sqlite3_result_null(context);
      return;
    }
    exec(db, create_virtual_table_sql(schema, "z_acl", parse_table_definition(acl_table_arguments())));
    // The ACL protects itself: nobody may add columns to it.
    exec(db, "INSERT INTO " + qualified(schema, "z_acl") +
                 " (scheme, who, tbl, op, result) VALUES ('', 'anyone', 'z_acl', 'tbl_add_column', 'deny')");
    sqlite3_result_null(context);
  });
}

void define_audit_table(sqlite3_context *context, int, sqlite3_value **argv) {
  guarded(context, [&] {
    sqlite3 *db = sqlite3_context_db_handle(context);
    std::string schema = attached_argument(context, argv[0]);
    if (!load_table_definition(db, schema, "z_audit")) {
      exec(db, create_virtual_table_sql(schema, "z_audit", parse_table_definition(audit_table_arguments())));
    }
    sqlite3_result_null(context);
  });
}

std::optional<std::string> optional_text(sqlite3_value *value) {
  if (is_null(value)) return std::nullopt;
  return text_argument(value);
}

void add_row_rule(sqlite3_context *context, int, sqlite3_value **argv) {
  guarded(context, [&] {
    sqlite3 *db = sqlite3_context_db_handle(context);
    std::string schema = attached_argument(context, argv[0]);
    std::optional<std::string> table = optional_text(argv[1]);
    std::int64_t situation = integer_argument(argv[2]);
    std::int64_t action = integer_argument(argv[3]);
    if (!conflict::valid_row_rule(situation, action)) fail("invalid_argument");
    ensure_housekeeping(db, schema);
    nlohmann::json detail = {{"situation", situation}, {"action", action}};
    record_schema_change(db, schema, "row_rule", table, detail.dump());
    sqlite3_result_null(context);
  });
}

void add_column_rule(sqlite3_context *context, int, sqlite3_value **argv) {
  guarded(context, [&] {
    sqlite3 *db = sqlite3_context_db_handle(context);
    std::string schema = attached_argument(context, argv[0]);
    std::optional<std::string> table = optional_text(argv[1]);
    std::optional<std::string> column = optional_text(argv[2]);
    std::int64_t action = integer_argument(argv[3]);
    if (!conflict::valid_column_rule(action)) fail("invalid_argument");
    ensure_housekeeping(db, schema);
    nlohmann::json detail = {{"column", column ? nlohmann::json(*column) : nlohmann::json(nullptr)},
                             {"action", action}};
    record_schema_change(db, schema, "column_rule", table, detail.dump());
    sqlite3_result_null(context);
  });
}

void alter_table_add_column(sqlite3_context *context, int, sqlite3_value **argv) {
  guarded(context, [&] {
    sqlite3 *db = sqlite3_context_db_handle(context);
    std::string schema = attached_argument(context, argv[0]);
    add_table_column(db, connection_of(context), schema, text_argument(argv[1]), text_argument(argv[2]));
    sqlite3_result_null(context);
  });
}

// The CREATE INDEX statements of a regular table's own indexes (not those SQLite makes
// for its constraints), parsed and checked against the table's columns.
std::vector<IndexDefinition> own_indexes(sqlite3 *db, const std::string &schema, const std::string &name,
                                         const TableDefinition &table) {
  std::vector<IndexDefinition> indexes;
  Statement select(db, "SELECT sql FROM " + quote_identifier(schema) +
                           ".sqlite_master WHERE type = 'index' AND tbl_name = ?1 COLLATE NOCASE AND sql IS NOT NULL");
  select.bind(1, name);
  while (select.step()) {
    IndexDefinition index = parse_create_index(select.column_text(0));
    auto check = [&](const Expression &expression) {
      for (const std::string &column : expression.column_references())
        if (table.column_index(column) < 0) fail("invalid_argument");
    };
    for (const IndexDefinition::Term &term : index.terms) check(term.expression);
    check(index.where);
    indexes.push_back(std::move(index));
  }
  return indexes;
}

// Turns a regular table T into a zumero table. z$T is created from the parsed
// definition (so references point at z$ tables), the rows move there with their
// rowids, T's own indexes are created again on z$T, T is dropped and the virtual table
// takes its name: views naming T now read the zumero table. Every row becomes a local
// insert for the next sync. One transaction: on any error nothing changes.
void adopt_existing_table(sqlite3_context *context, int, sqlite3_value **argv) {
  guarded(context, [&] {
    sqlite3 *db = sqlite3_context_db_handle(context);
    require_autocommit(db);
    std::string schema = attached_argument(context, argv[0]);
    validate_table_name(text_argument(argv[1]));
    std::string master = quote_identifier(schema) + ".sqlite_master";
    Statement lookup(db, "SELECT name, sql FROM " + master + " WHERE type = 'table' AND name = ?1 COLLATE NOCASE");
    lookup.bind(1, text_argument(argv[1]));
    if (!lookup.step()) fail("invalid_argument");
    std::string name = lookup.column_text(0);
    std::string create_sql = lookup.column_text(1);
    lookup.reset();
    Statement triggers(db, "SELECT 1 FROM " + master + " WHERE type = 'trigger' AND tbl_name = ?1 COLLATE NOCASE");
    triggers.bind(1, name);
    if (triggers.step()) fail("invalid_argument");
    triggers.reset();

    TableDefinition table = parse_create_table(create_sql).definition;
    check_reserved_table(name, table);
    check_definition_compiles(name, table);
    require_referenced_tables(db, schema, name, table);
    std::vector<IndexDefinition> indexes = own_indexes(db, schema, name, table);

    ConnectionState &connection = connection_of(context);
    Transaction transaction(db);
    std::string live = live_table_name(name);
    exec(db, live_table_ddl(schema, name, table));
    std::string columns = (table.integer_primary_key < 0 ? "rowid, " : "") + column_list(table);
    exec(db, "INSERT INTO " + qualified(schema, live) + " (" + columns + ") SELECT " + columns + " FROM " +
                 qualified(schema, name));
    exec(db, "DROP TABLE " + qualified(schema, name));
    for (const IndexDefinition &index : indexes) exec(db, index_ddl(schema, live, index));
    connection.adopting = name;
    try {
      exec(db, create_virtual_table_sql(schema, name, table));
    } catch (...) {
      connection.adopting.clear();
      throw;
    }
    connection.adopting.clear();
    // The function owns the transaction: it ends the ledger's transaction itself.
    ChangeLedger &ledger = connection.ledger(schema);
    struct End {
      ChangeLedger &ledger;
      ~End() { ledger.end(); }
    } end{ledger};
    ledger.txid(db, schema);
    Statement rows(db, "SELECT rowid FROM " + qualified(schema, live) + " ORDER BY rowid");
    while (rows.step()) ledger.note(name, rows.column_int(0));
    ledger.flush(db, schema);
    transaction.commit();
    sqlite3_result_null(context);
  });
}

}  // namespace

int register_local_functions(sqlite3 *db, const std::shared_ptr<ConnectionState> &connection) {
  struct Definition {
    const char *name;
    int arguments;
    int flags;
    void (*body)(sqlite3_context *, int, sqlite3_value **);
  };
  const int pure = SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
  const Definition definitions[] = {
      {"zumero_named_constant", 1, pure, named_constant},
      {"zumero_auth_scheme", -1, pure, auth_scheme},
      {"zumero_internal_auth_scheme", 1, pure, internal_auth_scheme},
      // The guide also writes it so (7.5).
      {"zumero_internal_auth", 1, pure, internal_auth_scheme},
      {"zumero_recording", 2, SQLITE_INNOCUOUS, recording},
      {"zumero_purge_history", 1, SQLITE_DIRECTONLY, purge_history},
      {"zumero_define_acl_table", 1, SQLITE_DIRECTONLY, define_acl_table},
      {"zumero_define_audit_table", 1, SQLITE_DIRECTONLY, define_audit_table},
      {"zumero_add_row_rule", 5, SQLITE_DIRECTONLY, add_row_rule},
      {"zumero_add_column_rule", 5, SQLITE_DIRECTONLY, add_column_rule},
      {"zumero_alter_table_add_column", 3, SQLITE_DIRECTONLY, alter_table_add_column},
      {"zumero_adopt_existing_table", 2, SQLITE_DIRECTONLY, adopt_existing_table},
      {"zumero_quarantine_since_last_sync", 1, SQLITE_DIRECTONLY, quarantine_since_last_sync},
      {"zumero_restore_quarantine", 2, SQLITE_DIRECTONLY, restore_quarantine},
  };
  for (const Definition &definition : definitions) {
    int rc = create_function(db, definition.name, definition.arguments, definition.flags, connection, definition.body);
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}

}  // namespace zumero
