#include "base/json_text.h"
#include "server/access_control.h"

#include <nlohmann/json.hpp>

#include "base/catalog.h"
#include "base/sql.h"

namespace zumero::server {
namespace {

const char *const kOperationNames[] = {"pull",          "create_dbfile",     "create_table",      "tbl_add_row",
                                       "tbl_modify_row", "tbl_add_column",    "add_rule",          "auth_add_user",
                                       "auth_set_password", "auth_set_acl_entry", "get_storage_usage"};

enum WhoRank { kAnyone = 1, kAuthenticated = 2, kGroup = 3, kUser = 4 };

bool starts_with(const std::string &text, const char *prefix) { return text.rfind(prefix, 0) == 0; }

}  // namespace

const char *operation_name(Operation operation) { return kOperationNames[static_cast<int>(operation)]; }

bool is_table_operation(Operation operation) {
  return operation == Operation::TblAddRow || operation == Operation::TblModifyRow ||
         operation == Operation::TblAddColumn;
}

AccessList AccessList::load(sqlite3 *db) {
  AccessList list;
  if (has_housekeeping(db, "main")) {
    Statement creator(db, "SELECT value FROM \"t$sync\" WHERE key = 'creator'");
    if (creator.step()) {
      nlohmann::json who = parse_json(creator.column_text(0));
      if (who.is_object()) list.creator_ = Identity{who.value("scheme", ""), who.value("user", "")};
    }
  }
  if (!stored_table_name(db, "main", "z_acl")) return list;
  Statement rows(db, "SELECT scheme, who, tbl, op, result FROM \"z$z_acl\"");
  while (rows.step()) {
    Entry entry;
    std::string scheme = rows.column_text(0);
    entry.scheme = scheme.empty() ? scheme : canonical_scheme(scheme).value_or(scheme);
    entry.who = rows.column_text(1);
    entry.table = rows.column_text(2);
    entry.operation = rows.column_text(3);
    entry.allow = rows.column_text(4) == "allow";
    list.entries_.push_back(std::move(entry));
  }
  return list;
}

AccessList AccessList::for_new_dbfile(const Identity &creator) {
  AccessList list;
  if (!creator.anonymous()) list.creator_ = creator;
  list.being_created_ = true;
  return list;
}

// The entry's specificity when it matches, nullopt otherwise. Higher decides; a deny
// is one above an allow of the same specificity.
std::optional<int> AccessList::rank(const Entry &entry, const Identity &identity, Operation operation,
                                    const std::string &table, const GroupCheck &groups) const {
  int who = 0;
  if (entry.who == "anyone") {
    who = kAnyone;
  } else if (identity.anonymous() || entry.scheme != identity.scheme) {
    return std::nullopt;
  } else if (entry.who == "any_authenticated_user") {
    who = kAuthenticated;
  } else if (starts_with(entry.who, "user:")) {
    if (entry.who.substr(5) != identity.user) return std::nullopt;
    who = kUser;
  } else if (starts_with(entry.who, "group:")) {
    if (!groups || !groups(identity.scheme, entry.who.substr(6), identity.user)) return std::nullopt;
    who = kGroup;
  } else {
    return std::nullopt;
  }
  int op = 0;
  if (entry.operation == operation_name(operation)) op = 2;
  else if (entry.operation == "*") op = 1;
  else return std::nullopt;
  int tbl = 0;
  if (is_table_operation(operation)) {
    if (!entry.table.empty() && entry.table != "*" && iequals(entry.table, table)) tbl = 3;
    else if (entry.table == "*") tbl = 2;
    else if (entry.table.empty() && op == 1) tbl = 1;
    else return std::nullopt;
  } else {
    if (!entry.table.empty()) return std::nullopt;
    tbl = 1;
  }
  return who * 100 + op * 10 + tbl * 2 + (entry.allow ? 0 : 1);
}

bool AccessList::permits(const Identity &identity, Operation operation, const std::string &table,
                         const GroupCheck &groups) const {
  std::optional<int> best;
  bool allow = false;
  for (const Entry &entry : entries_) {
    std::optional<int> score = rank(entry, identity, operation, table, groups);
    if (score && (!best || *score > *best)) {
      best = score;
      allow = entry.allow;
    }
  }
  if (best) return allow;
  if (being_created_) return true;
  bool creator = creator_ && *creator_ == identity;
  if (is_table_operation(operation) && iequals(table, "z_acl")) return creator;
  return !creator_ || creator;
}

void record_creator(sqlite3 *db, const Identity &creator) {
  if (creator.anonymous()) return;
  Statement insert(db, "INSERT OR REPLACE INTO \"t$sync\" (key, value) VALUES ('creator', ?1)");
  insert.bind(1, nlohmann::json{{"scheme", creator.scheme}, {"user", creator.user}}.dump()).run();
}

void check_acl_entry(const std::string &scheme, const std::string &who, const std::string &table,
                     const std::string &operation, const std::string &result) {
  bool known_op = operation == "*";
  for (const char *name : kOperationNames) known_op |= operation == name;
  bool who_ok = who == "anyone" || who == "any_authenticated_user" ||
                (starts_with(who, "user:") && who.size() > 5) || (starts_with(who, "group:") && who.size() > 6);
  bool table_op = operation == "tbl_add_row" || operation == "tbl_modify_row" || operation == "tbl_add_column";
  bool table_ok = table_op ? !table.empty() : table.empty();
  bool scheme_ok = who == "anyone" || canonical_scheme(scheme).has_value();
  if (!known_op || !who_ok || !table_ok || !scheme_ok || (result != "allow" && result != "deny"))
    fail("invalid_argument");
}

}  // namespace zumero::server
