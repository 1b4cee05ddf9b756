#include "vtab/module.h"

#include <map>
#include <memory>
#include <new>

#include "base/catalog.h"
#include "base/column_parser.h"
#include "base/column_parser.h"
#include "base/sql.h"
#include "vtab/storage.h"
#include "base/table_definition.h"

namespace zumero {
namespace {

struct PreparedPlan {
  std::string sql;
  std::unique_ptr<Statement> query;
};

struct ZumeroTable {
  sqlite3_vtab base{};
  sqlite3 *db = nullptr;
  std::shared_ptr<ConnectionState> connection;
  std::string schema;
  std::string name;
  TableDefinition definition;
  std::unique_ptr<LocalWriter> writer;
  // Prepared plans no cursor is using. Cursors take them and give them back without
  // copying the SQL: every statement on a zumero table opens and closes a cursor.
  std::vector<PreparedPlan> idle_plans;
  // An error message SQLite did not take over (it does only when a method fails).
  ~ZumeroTable() { sqlite3_free(base.zErrMsg); }
};

struct ZumeroCursor {
  sqlite3_vtab_cursor base{};
  PreparedPlan plan;
  bool eof = true;
};

ZumeroTable *table_of(sqlite3_vtab *vtab) { return reinterpret_cast<ZumeroTable *>(vtab); }
ZumeroCursor *cursor_of(sqlite3_vtab_cursor *cursor) { return reinterpret_cast<ZumeroCursor *>(cursor); }

void set_error(sqlite3_vtab *vtab, const std::string &message) {
  sqlite3_free(vtab->zErrMsg);
  vtab->zErrMsg = sqlite3_mprintf("%s", message.c_str());
}

// Runs body, turning exceptions into an SQLite result code and the table's error message.
template <typename Body>
int guarded(sqlite3_vtab *vtab, Body &&body) {
  try {
    return body();
  } catch (const Error &error) {
    set_error(vtab, user_facing_message(table_of(vtab)->name, error.what()));
    return error.code();
  } catch (const std::bad_alloc &) {
    return SQLITE_NOMEM;
  } catch (const std::exception &error) {
    set_error(vtab, error.what());
    return SQLITE_ERROR;
  } catch (...) {
    return SQLITE_ERROR;
  }
}

std::vector<std::string> module_arguments(int argc, const char *const *argv) {
  std::vector<std::string> arguments;
  for (int i = 3; i < argc; ++i) {
    std::string argument = argv[i];
    size_t begin = argument.find_first_not_of(" \t\r\n");
    if (begin == std::string::npos) continue;
    size_t end = argument.find_last_not_of(" \t\r\n");
    arguments.push_back(argument.substr(begin, end - begin + 1));
  }
  return arguments;
}

int connect_table(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out, char **error,
                  bool create) {
  auto table = std::make_unique<ZumeroTable>();
  table->db = db;
  table->connection = *static_cast<std::shared_ptr<ConnectionState> *>(aux);
  table->schema = argv[1];
  table->name = argv[2];
  try {
    if (create) {
      // Everything is checked before anything is created.
      validate_table_name(table->name);
      table->definition = parse_table_definition(module_arguments(argc, argv));
      check_reserved_table(table->name, table->definition);
      check_definition_compiles(table->name, table->definition);
      require_referenced_tables(db, table->schema, table->name, table->definition);
      ensure_housekeeping(db, table->schema);
      // zumero_adopt_existing_table creates z$T itself and moves the rows there first.
      if (!iequals(table->connection->adopting, table->name))
        exec(db, live_table_ddl(table->schema, table->name, table->definition));
      exec(db, support_ddl(table->schema, table->name, table->definition));
      save_table_definition(db, table->schema, table->name, table->definition);
      if (!table->connection->applying_remote) {
        record_schema_change(db, table->schema, "create_table", table->name,
                             arguments_to_json(table->definition.arguments()));
      }
    } else {
      // The current definition lives in t$tables: it includes columns added since creation.
      auto stored = load_table_definition(db, table->schema, table->name);
      table->definition = stored ? *stored : parse_table_definition(module_arguments(argc, argv));
    }
    int rc = sqlite3_declare_vtab(db, virtual_table_declaration(table->definition).c_str());
    if (rc != SQLITE_OK) fail_from_db(db, rc);
    sqlite3_vtab_config(db, SQLITE_VTAB_CONSTRAINT_SUPPORT, 1);
    table->writer = std::make_unique<LocalWriter>(db, *table->connection, table->schema, table->name,
                                                  table->definition);
  } catch (const std::exception &failure) {
    *error = sqlite3_mprintf("%s", failure.what());
    const Error *known = dynamic_cast<const Error *>(&failure);
    return known ? known->code() : SQLITE_ERROR;
  }
  *out = &table.release()->base;
  return SQLITE_OK;
}

int zumeroCreate(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out, char **error) {
  return connect_table(db, aux, argc, argv, out, error, true);
}

int zumeroConnect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out, char **error) {
  return connect_table(db, aux, argc, argv, out, error, false);
}

int zumeroDisconnect(sqlite3_vtab *vtab) {
  delete table_of(vtab);
  return SQLITE_OK;
}

// DROP TABLE is refused. SQLite reports a failing xDestroy with a generic message and
// only fails that statement, so inside an explicit transaction xDestroy fails at once
// (the transaction and the table are kept). In autocommit mode the refusal can carry
// zumero's own message: xDestroy lets SQLite forget the table, writes to the eponymous
// zumero_drop_guard table, and the guard's xSync fails with
// zumero:table_drop_unsupported; the implicit transaction rolls back, the schema is
// reloaded, and the table is back with its rows (its storage was never touched).
bool guard_is_reachable(sqlite3 *db) {
  // An application table of that name would take the write instead of the guard.
  Statement shadow(db, "SELECT 1 FROM main.sqlite_master WHERE name = 'zumero_drop_guard' COLLATE NOCASE "
                       "UNION ALL SELECT 1 FROM temp.sqlite_master WHERE name = 'zumero_drop_guard' COLLATE NOCASE");
  return !shadow.step();
}

int zumeroDestroy(sqlite3_vtab *vtab) {
  ZumeroTable *table = table_of(vtab);
  set_error(vtab, "zumero:table_drop_unsupported");
  if (!sqlite3_get_autocommit(table->db)) return SQLITE_ERROR;
  try {
    if (!guard_is_reachable(table->db)) return SQLITE_ERROR;
    table->connection->drop_refused = false;
    int rc = sqlite3_exec(table->db, "INSERT INTO main.zumero_drop_guard VALUES (1)", nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK || !table->connection->drop_refused) return SQLITE_ERROR;
  } catch (...) {
    return SQLITE_ERROR;
  }
  delete table;
  return SQLITE_OK;
}

// ---- the drop guard ------------------------------------------------------------------

struct DropGuard {
  sqlite3_vtab base{};
  std::shared_ptr<ConnectionState> connection;
  bool refused = false;
};

int guardConnect(sqlite3 *db, void *aux, int, const char *const *, sqlite3_vtab **out, char **) {
  int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(refused)");
  if (rc != SQLITE_OK) return rc;
  auto *guard = new (std::nothrow) DropGuard();
  if (!guard) return SQLITE_NOMEM;
  guard->connection = *static_cast<std::shared_ptr<ConnectionState> *>(aux);
  *out = &guard->base;
  return SQLITE_OK;
}

int guardDisconnect(sqlite3_vtab *vtab) {
  delete reinterpret_cast<DropGuard *>(vtab);
  return SQLITE_OK;
}

int guardBestIndex(sqlite3_vtab *, sqlite3_index_info *info) {
  info->estimatedCost = 1;
  return SQLITE_OK;
}

int guardOpen(sqlite3_vtab *, sqlite3_vtab_cursor **out) {
  *out = static_cast<sqlite3_vtab_cursor *>(sqlite3_malloc(sizeof(sqlite3_vtab_cursor)));
  return *out ? SQLITE_OK : SQLITE_NOMEM;
}

int guardClose(sqlite3_vtab_cursor *cursor) {
  sqlite3_free(cursor);
  return SQLITE_OK;
}

int guardFilter(sqlite3_vtab_cursor *, int, const char *, int, sqlite3_value **) { return SQLITE_OK; }
int guardNext(sqlite3_vtab_cursor *) { return SQLITE_OK; }
int guardEof(sqlite3_vtab_cursor *) { return 1; }
int guardColumn(sqlite3_vtab_cursor *, sqlite3_context *, int) { return SQLITE_OK; }
int guardRowid(sqlite3_vtab_cursor *, sqlite3_int64 *rowid) {
  *rowid = 0;
  return SQLITE_OK;
}

int guardUpdate(sqlite3_vtab *vtab, int, sqlite3_value **, sqlite3_int64 *) {
  auto *guard = reinterpret_cast<DropGuard *>(vtab);
  guard->refused = true;
  guard->connection->drop_refused = true;
  return SQLITE_OK;
}

int guardSync(sqlite3_vtab *vtab) {
  if (!reinterpret_cast<DropGuard *>(vtab)->refused) return SQLITE_OK;
  set_error(vtab, "zumero:table_drop_unsupported");
  return SQLITE_ERROR;
}

int guardEnd(sqlite3_vtab *vtab) {
  reinterpret_cast<DropGuard *>(vtab)->refused = false;
  return SQLITE_OK;
}

sqlite3_module make_guard_module() {
  sqlite3_module module{};
  module.xConnect = guardConnect;  // no xCreate: eponymous only
  module.xBestIndex = guardBestIndex;
  module.xDisconnect = guardDisconnect;
  module.xDestroy = guardDisconnect;
  module.xOpen = guardOpen;
  module.xClose = guardClose;
  module.xFilter = guardFilter;
  module.xNext = guardNext;
  module.xEof = guardEof;
  module.xColumn = guardColumn;
  module.xRowid = guardRowid;
  module.xUpdate = guardUpdate;
  module.xBegin = guardEnd;
  module.xSync = guardSync;
  module.xCommit = guardEnd;
  module.xRollback = guardEnd;
  return module;
}

const sqlite3_module drop_guard_module = make_guard_module();

int zumeroRename(sqlite3_vtab *vtab, const char *) {
  set_error(vtab, "zumero:table_rename_unsupported");
  return SQLITE_ERROR;
}

// ---- query planning ------------------------------------------------------------
// The plan handed from xBestIndex to xFilter (idxStr) is the SELECT run against z$T:
//   SELECT rowid, <column or NULL for each column> FROM "schema"."z$T"
//     [WHERE <term> AND ...] [ORDER BY <column> [DESC], ...]
// Terms compare a column with ?N, where N is the argvIndex given to the constraint;
// idxNum is the number of such parameters. Columns the query does not use (colUsed)
// are selected as NULL so SQLite does not decode them.

const char *operator_sql(unsigned char op, bool &has_argument, bool &omit) {
  has_argument = true;
  omit = true;
  switch (op) {
    case SQLITE_INDEX_CONSTRAINT_EQ: return "=";
    case SQLITE_INDEX_CONSTRAINT_GT: return ">";
    case SQLITE_INDEX_CONSTRAINT_LE: return "<=";
    case SQLITE_INDEX_CONSTRAINT_LT: return "<";
    case SQLITE_INDEX_CONSTRAINT_GE: return ">=";
    case SQLITE_INDEX_CONSTRAINT_NE: return "<>";
    case SQLITE_INDEX_CONSTRAINT_IS: return "IS";
    case SQLITE_INDEX_CONSTRAINT_ISNOT: return "IS NOT";
    case SQLITE_INDEX_CONSTRAINT_LIKE: omit = false; return "LIKE";
    case SQLITE_INDEX_CONSTRAINT_GLOB: omit = false; return "GLOB";
    case SQLITE_INDEX_CONSTRAINT_ISNULL: has_argument = false; return "IS NULL";
    case SQLITE_INDEX_CONSTRAINT_ISNOTNULL: has_argument = false; return "IS NOT NULL";
    default: return nullptr;
  }
}

std::string column_sql(const ZumeroTable &table, int column) {
  return column < 0 ? std::string("rowid") : quote_identifier(table.definition.columns[column].name);
}

bool column_is_rowid(const ZumeroTable &table, int column) {
  return column < 0 || column == table.definition.integer_primary_key;
}

// The collation an equality on `column` compares with, as SQLite names it.
std::string effective_collation(const std::string &collation) { return collation.empty() ? "BINARY" : collation; }

// Whether the equalities (column -> collation) pin down at most one row: they cover a
// PRIMARY KEY or UNIQUE constraint, each column compared with the collation of that
// constraint's index. (An IS would match several NULLs of a UNIQUE column: only = counts.)
bool equalities_are_unique(const TableDefinition &definition, const std::map<int, std::string> &equalities) {
  auto covered = [&](int column, const std::string &collation) {
    auto found = equalities.find(column);
    return found != equalities.end() && iequals(found->second, effective_collation(collation));
  };
  for (size_t i = 0; i < definition.columns.size(); ++i) {
    const ColumnDefinition &column = definition.columns[i];
    if ((column.primary_key || column.unique) && covered(static_cast<int>(i), column.collation)) return true;
  }
  for (const TableConstraint &constraint : definition.constraints) {
    if (constraint.kind == TableConstraint::Check || constraint.columns.empty()) continue;
    bool all = true;
    for (const IndexedColumn &indexed : constraint.columns) {
      int column = definition.column_index(indexed.name);
      if (column < 0 || !covered(column, indexed.collation.empty() ? definition.columns[column].collation
                                                                   : indexed.collation)) {
        all = false;
        break;
      }
    }
    if (all) return true;
  }
  return false;
}

int zumeroBestIndex(sqlite3_vtab *vtab, sqlite3_index_info *info) {
  return guarded(vtab, [&] {
    const ZumeroTable &table = *table_of(vtab);
    std::string where;
    int arguments = 0;
    bool unique = false;
    double rows = 1000000.0;
    std::map<int, std::string> equalities;  // column -> collation of its = constraint
    for (int i = 0; i < info->nConstraint; ++i) {
      const auto &constraint = info->aConstraint[i];
      if (!constraint.usable) continue;
      bool has_argument = false;
      bool omit = false;
      const char *op = operator_sql(constraint.op, has_argument, omit);
      if (!op) continue;
      std::string term = column_sql(table, constraint.iColumn) + " " + op;
      if (has_argument) {
        term += " ?" + std::to_string(++arguments);
        info->aConstraintUsage[i].argvIndex = arguments;
      }
      const char *collation = sqlite3_vtab_collation(info, i);
      if (constraint.iColumn >= 0 && collation && !iequals(collation, "BINARY")) {
        const std::string &declared = table.definition.columns[constraint.iColumn].collation;
        if (!iequals(collation, declared)) term += " COLLATE " + quote_identifier(collation);
      } else if (constraint.iColumn >= 0 && collation && !table.definition.columns[constraint.iColumn].collation.empty()) {
        term += " COLLATE BINARY";
      }
      info->aConstraintUsage[i].omit = omit;
      where += (where.empty() ? " WHERE " : " AND ") + term;
      if (constraint.op == SQLITE_INDEX_CONSTRAINT_EQ && constraint.iColumn >= 0)
        equalities[constraint.iColumn] = collation ? collation : "BINARY";
      if (constraint.op == SQLITE_INDEX_CONSTRAINT_EQ || constraint.op == SQLITE_INDEX_CONSTRAINT_IS ||
          constraint.op == SQLITE_INDEX_CONSTRAINT_ISNULL) {
        if (column_is_rowid(table, constraint.iColumn) && constraint.op != SQLITE_INDEX_CONSTRAINT_ISNULL) unique = true;
        rows /= 20.0;
      } else if (constraint.op != SQLITE_INDEX_CONSTRAINT_NE && constraint.op != SQLITE_INDEX_CONSTRAINT_ISNOT &&
                 constraint.op != SQLITE_INDEX_CONSTRAINT_ISNOTNULL) {
        rows /= 4.0;
      }
    }
    if (!unique && equalities_are_unique(table.definition, equalities)) unique = true;
    std::string order;
    for (int i = 0; i < info->nOrderBy; ++i) {
      order += (order.empty() ? " ORDER BY " : ", ") + column_sql(table, info->aOrderBy[i].iColumn) +
               (info->aOrderBy[i].desc ? " DESC" : "");
    }
    if (!order.empty()) info->orderByConsumed = 1;
    std::string select = "SELECT rowid";
    for (size_t i = 0; i < table.definition.columns.size(); ++i) {
      bool used = (info->colUsed >> (i < 63 ? i : 63)) & 1;
      select += ", " + (used ? column_sql(table, static_cast<int>(i)) : std::string("NULL"));
    }
    std::string plan = select + " FROM " + qualified(table.schema, live_table_name(table.name)) + where + order;
    if (unique) {
      rows = 1;
      info->idxFlags |= SQLITE_INDEX_SCAN_UNIQUE;
    }
    if (rows < 1) rows = 1;
    info->estimatedRows = static_cast<sqlite3_int64>(rows);
    info->estimatedCost = rows + 10.0;
    info->idxNum = arguments;
    info->idxStr = sqlite3_mprintf("%s", plan.c_str());
    info->needToFreeIdxStr = 1;
    return SQLITE_OK;
  });
}

// ---- cursors -----------------------------------------------------------------------

int zumeroOpen(sqlite3_vtab *, sqlite3_vtab_cursor **out) {
  *out = &(new (std::nothrow) ZumeroCursor())->base;
  return *out ? SQLITE_OK : SQLITE_NOMEM;
}

void return_query(ZumeroTable &table, ZumeroCursor &cursor) {
  if (!cursor.plan.query) return;
  cursor.plan.query->reset();
  if (table.idle_plans.size() < 16) table.idle_plans.push_back(std::move(cursor.plan));
  cursor.plan = PreparedPlan();
}

// Takes an idle prepared statement for sql, or prepares one.
PreparedPlan take_plan(ZumeroTable &table, const char *sql) {
  for (size_t i = table.idle_plans.size(); i-- > 0;) {
    if (table.idle_plans[i].sql != sql) continue;
    PreparedPlan plan = std::move(table.idle_plans[i]);
    table.idle_plans[i] = std::move(table.idle_plans.back());
    table.idle_plans.pop_back();
    return plan;
  }
  return PreparedPlan{sql, std::make_unique<Statement>(table.db, sql, true)};
}

int zumeroClose(sqlite3_vtab_cursor *base) {
  ZumeroCursor *cursor = cursor_of(base);
  try {
    return_query(*table_of(base->pVtab), *cursor);
  } catch (...) {
    // Keeping the plan for reuse failed (out of memory): it is simply dropped.
  }
  delete cursor;
  return SQLITE_OK;
}

int zumeroNext(sqlite3_vtab_cursor *base) {
  return guarded(base->pVtab, [&] {
    ZumeroCursor *cursor = cursor_of(base);
    cursor->eof = !cursor->plan.query->step();
    return SQLITE_OK;
  });
}

int zumeroFilter(sqlite3_vtab_cursor *base, int, const char *plan, int argc, sqlite3_value **argv) {
  return guarded(base->pVtab, [&] {
    ZumeroTable &table = *table_of(base->pVtab);
    ZumeroCursor *cursor = cursor_of(base);
    if (!cursor->plan.query || cursor->plan.sql != plan) {
      return_query(table, *cursor);
      cursor->plan = take_plan(table, plan);
    } else {
      cursor->plan.query->reset();
    }
    Statement &query = *cursor->plan.query;
    for (int i = 0; i < argc; ++i) query.bind_value(i + 1, argv[i]);
    cursor->eof = !query.step();
    return SQLITE_OK;
  });
}

int zumeroEof(sqlite3_vtab_cursor *base) { return cursor_of(base)->eof; }

int zumeroColumn(sqlite3_vtab_cursor *base, sqlite3_context *context, int column) {
  // An UPDATE leaves this column as it is: no need to read it.
  if (sqlite3_vtab_nochange(context)) return SQLITE_OK;
  sqlite3_result_value(context, cursor_of(base)->plan.query->column_value(column + 1));
  return SQLITE_OK;
}

int zumeroRowid(sqlite3_vtab_cursor *base, sqlite3_int64 *rowid) {
  *rowid = cursor_of(base)->plan.query->column_int(0);
  return SQLITE_OK;
}

// ---- writes and transactions -------------------------------------------------------

int zumeroUpdate(sqlite3_vtab *vtab, int argc, sqlite3_value **argv, sqlite3_int64 *rowid) {
  return guarded(vtab, [&] {
    ZumeroTable &table = *table_of(vtab);
    bool replace = sqlite3_vtab_on_conflict(table.db) == SQLITE_REPLACE;
    if (argc == 1) {
      std::int64_t last = sqlite3_last_insert_rowid(table.db);
      table.writer->remove(sqlite3_value_int64(argv[0]));
      sqlite3_set_last_insert_rowid(table.db, last);
    } else if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
      *rowid = table.writer->insert(argv[1], argv + 2, replace);
    } else {
      std::int64_t last = sqlite3_last_insert_rowid(table.db);
      table.writer->update(sqlite3_value_int64(argv[0]), argv[1], argv + 2, replace);
      sqlite3_set_last_insert_rowid(table.db, last);
    }
    return SQLITE_OK;
  });
}

int zumeroBegin(sqlite3_vtab *) { return SQLITE_OK; }

// Foreign keys between zumero tables are always deferred. With PRAGMA foreign_keys on,
// SQLite checks them at COMMIT; with it off, the module checks the tables involved.
// The check looks at the rows the transaction changed only, and once per commit (xSync
// comes once for each zumero table in the transaction).
void check_foreign_keys(sqlite3 *db, const std::string &schema, ChangeLedger &ledger) {
  int enforced = 0;
  sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_FKEY, -1, &enforced);
  if (enforced || ledger.foreign_keys_checked()) return;
  std::vector<RowRange> scratch;
  if (find_foreign_key_violation(db, schema, ledger.changed_ranges(scratch), ledger.current_txid()))
    throw Error(SQLITE_CONSTRAINT_FOREIGNKEY, "FOREIGN KEY constraint failed");
  ledger.set_foreign_keys_checked();
}

ChangeLedger &ledger_of(ZumeroTable &table) { return table.connection->ledger(table.schema); }

int zumeroSync(sqlite3_vtab *vtab) {
  return guarded(vtab, [&] {
    ZumeroTable &table = *table_of(vtab);
    ChangeLedger &ledger = ledger_of(table);
    if (!ledger.active()) return SQLITE_OK;
    check_foreign_keys(table.db, table.schema, ledger);
    ledger.flush(table.db, table.schema);
    return SQLITE_OK;
  });
}

int zumeroCommit(sqlite3_vtab *vtab) {
  return guarded(vtab, [&] {
    ledger_of(*table_of(vtab)).end();
    return SQLITE_OK;
  });
}

int zumeroRollback(sqlite3_vtab *vtab) { return zumeroCommit(vtab); }

int zumeroSavepoint(sqlite3_vtab *vtab, int level) {
  return guarded(vtab, [&] {
    ledger_of(*table_of(vtab)).savepoint(level);
    return SQLITE_OK;
  });
}

int zumeroRelease(sqlite3_vtab *vtab, int level) {
  return guarded(vtab, [&] {
    ledger_of(*table_of(vtab)).release(level);
    return SQLITE_OK;
  });
}

int zumeroRollbackTo(sqlite3_vtab *vtab, int level) {
  return guarded(vtab, [&] {
    ledger_of(*table_of(vtab)).rollback_to(level);
    return SQLITE_OK;
  });
}

sqlite3_module make_module() {
  sqlite3_module module{};
  module.iVersion = 3;
  module.xCreate = zumeroCreate;
  module.xConnect = zumeroConnect;
  module.xBestIndex = zumeroBestIndex;
  module.xDisconnect = zumeroDisconnect;
  module.xDestroy = zumeroDestroy;
  module.xOpen = zumeroOpen;
  module.xClose = zumeroClose;
  module.xFilter = zumeroFilter;
  module.xNext = zumeroNext;
  module.xEof = zumeroEof;
  module.xColumn = zumeroColumn;
  module.xRowid = zumeroRowid;
  module.xUpdate = zumeroUpdate;
  module.xBegin = zumeroBegin;
  module.xSync = zumeroSync;
  module.xCommit = zumeroCommit;
  module.xRollback = zumeroRollback;
  module.xRename = zumeroRename;
  module.xSavepoint = zumeroSavepoint;
  module.xRelease = zumeroRelease;
  module.xRollbackTo = zumeroRollbackTo;
  return module;
}

const sqlite3_module zumero_module = make_module();

}  // namespace

int register_module(sqlite3 *db, const std::shared_ptr<ConnectionState> &connection) {
  int rc = sqlite3_create_module_v2(db, "zumero_drop_guard", &drop_guard_module, ConnectionState::new_handle(connection),
                                    ConnectionState::release_handle);
  if (rc != SQLITE_OK) return rc;
  return sqlite3_create_module_v2(db, "zumero", &zumero_module, ConnectionState::new_handle(connection),
                                  ConnectionState::release_handle);
}

}  // namespace zumero
