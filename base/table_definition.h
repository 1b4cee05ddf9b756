// The SQL of the tables that store a zumero table T, generated from its parsed
// definition (column_parser.h) only; every name is quoted and the schema is a parameter:
//   z$T      the live rows: exactly the user's columns and constraints; rowid = row identity
//   z$old$T  superseded and deleted versions: user columns (type, collation, DEFAULT) plus
//            the history columns
//   z$rv$T   per row identity, the server version of its last synced change (sync only)
// and the declaration the virtual table hands to sqlite3_declare_vtab.
#pragma once
#include <string>
#include <vector>

#include "base/column_parser.h"

namespace zumero {

std::string live_table_name(const std::string &table);     // z$T
std::string history_table_name(const std::string &table);  // z$old$T
std::string version_table_name(const std::string &table);  // z$rv$T

// "schema"."name"
std::string qualified(const std::string &schema, const std::string &name);

// CREATE TABLE x(...) for sqlite3_declare_vtab: names, types, collations. SQLite ignores
// DEFAULT on virtual tables, so defaults are applied by the writer (default_expression).
std::string virtual_table_declaration(const TableDefinition &table);

// CREATE TABLE for z$T: user columns with all their constraints, REFERENCES pointing at
// z$ tables and always DEFERRABLE INITIALLY DEFERRED, table constraints, and with strict
// types a CHECK named z_strict_<column> per typed column.
std::string live_table_ddl(const std::string &schema, const std::string &name, const TableDefinition &table);
// CREATE TABLE for z$old$T. The user columns keep their DEFAULT so that, after a column
// is added, old versions read the same value live rows do.
std::string history_table_ddl(const std::string &schema, const std::string &name, const TableDefinition &table);
// CREATE TABLE for z$rv$T.
std::string version_table_ddl(const std::string &schema, const std::string &name);
// Drops and creates the history triggers z$update$T and z$delete$T, which name every
// column. Their bodies name no schema, so the file may be attached under any name: they
// record while zumero_recording(T, rowid) returns the local txid, that is while the
// module itself writes T.
std::string history_triggers_ddl(const std::string &schema, const std::string &name, const TableDefinition &table);
// z$old$T, z$rv$T and the history triggers: everything but z$T.
std::string support_ddl(const std::string &schema, const std::string &name, const TableDefinition &table);

// ALTER TABLE statements adding one column to z$T (with its constraints) and to z$old$T
// (type, collation and the same DEFAULT).
std::string add_column_ddl(const std::string &schema, const std::string &name, const ColumnDefinition &column,
                           bool strict_types);

// CREATE INDEX for an index of an adopted table, created again on z$T.
std::string index_ddl(const std::string &schema, const std::string &table, const IndexDefinition &index);

// CREATE VIRTUAL TABLE "schema"."name" USING zumero (<canonical arguments>).
std::string create_virtual_table_sql(const std::string &schema, const std::string &name,
                                     const TableDefinition &table);

// A query for the highest row identity T has used: live rows and every identity the
// server knows (z$rv$T keeps deleted ones), so identities are never reused.
std::string highest_recid_sql(const std::string &schema, const std::string &name);

// A constraint message from z$T, naming the zumero table instead ("z$T.a" -> "T.a").
std::string user_facing_message(const std::string &table, std::string message);

// The rendered SQL of a column's validated DEFAULT expression, or empty.
std::string default_expression(const ColumnDefinition &column);

// Comma-separated quoted user column names, optionally prefixed ("OLD." ...).
std::string column_list(const TableDefinition &table, const std::string &prefix = "");

// The names of the history columns that follow the user columns in z$old$T.
extern const char *const kHistoryColumns;  // "z_recid, z_rv, z_end_rv, z_txid, z_deleted"

// Throws zumero:invalid_argument unless the SQLite zumero runs on accepts what it will
// build from the definition: its CREATE VIRTUAL TABLE statement is parsed, z$T and
// z$old$T are created, and an INSERT into each is compiled (CHECK constraints and DEFAULT values with it), in a private in-memory
// database that is closed again; nothing is ever run on the caller's connection. The
// parser already refuses what SQLite 3.40 refuses; this also covers a SQLite built
// without a function the definition calls (the math functions are optional).
void check_definition_compiles(const std::string &name, const TableDefinition &table);

// The reserved tables (guide 3.2) may only have these definitions: z_audit the guide's
// (5.1.6); z_acl the one zumero_define_acl_table creates or the guide's five plain
// columns (7.2.1). Names compare case-insensitively.
const std::vector<std::string> &audit_table_arguments();
const std::vector<std::string> &acl_table_arguments();
// Throws zumero:invalid_argument when name is reserved and the definition is not allowed.
void check_reserved_table(const std::string &name, const TableDefinition &table);

}  // namespace zumero
