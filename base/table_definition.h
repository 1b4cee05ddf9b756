// Turns a parsed table definition into the SQL of the tables that store it:
//   z$T      the live rows: exactly the user's columns and constraints; rowid = row identity
//   z$old$T  superseded and deleted versions: user columns plus history columns
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

// CREATE TABLE x(...) for sqlite3_declare_vtab: names, types, collations, defaults.
std::string virtual_table_declaration(const TableDefinition &table);

// The statement creating z$T.
std::string live_table_ddl(const std::string &schema, const std::string &name, const TableDefinition &table);
// Statements creating z$old$T, z$rv$T and the history triggers on z$T.
std::string support_ddl(const std::string &schema, const std::string &name, const TableDefinition &table);
// Statements (re)creating the history triggers, which name every column.
std::string history_triggers_ddl(const std::string &schema, const std::string &name, const TableDefinition &table);

// A query for the highest row identity T has used: live rows and every identity the
// server knows (z$rv$T keeps deleted ones), so identities are never reused.
std::string highest_recid_sql(const std::string &schema, const std::string &name);

// CREATE VIRTUAL TABLE "schema"."name" USING zumero (<arguments joined by commas>).
std::string create_table_sql(const std::string &schema, const std::string &name,
                             const std::vector<std::string> &arguments);

// A constraint message from z$T, naming the zumero table instead ("z$T.a" -> "T.a").
std::string user_facing_message(const std::string &table, std::string message);

// The expression of a column's DEFAULT clause, or empty.
std::string default_expression(const ColumnDefinition &column);

// Statements adding one column to z$T and z$old$T.
std::string add_column_ddl(const std::string &schema, const std::string &name, const ColumnDefinition &column,
                           bool strict_types);

// Comma-separated quoted user column names, optionally prefixed ("OLD." ...).
std::string column_list(const TableDefinition &table, const std::string &prefix = "");

// The names of the history columns that follow the user columns in z$old$T.
extern const char *const kHistoryColumns;  // "z_recid, z_rv, z_end_rv, z_txid, z_deleted"

}  // namespace zumero
