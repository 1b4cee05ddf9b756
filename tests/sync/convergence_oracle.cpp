// End checks of the convergence suite, run after every client's final syncs:
//   - every client equals a fresh observer synced from the server (zumero tables, their
//     columns, their rows with typed values, the conflict rules);
//   - integrity_check and foreign_key_check are clean everywhere;
//   - no write is lost or doubled: each token is on the server (live or in history)
//     under one row identity, or in z_audit, or was superseded locally before any push,
//     or is in the quarantined package that took it;
//   - no deletion is lost: a deleted row is gone from the server unless z_audit shows
//     the deletion overruled, or the deletion was quarantined.
#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "convergence_internal.h"

namespace zumero::convergence {

using synctest::Rows;
using synctest::SqlError;
using synctest::sql_quote;

std::string quote_identifier(const std::string &name) {
  std::string quoted = "\"";
  for (char c : name) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

std::vector<std::vector<std::string>> typed_rows(Client &client, const std::string &sql) {
  sqlite3_stmt *statement = nullptr;
  if (sqlite3_prepare_v2(client.db(), sql.c_str(), -1, &statement, nullptr) != SQLITE_OK)
    throw SqlError(sqlite3_errcode(client.db()), std::string(sqlite3_errmsg(client.db())) + " in " + sql);
  std::vector<std::vector<std::string>> rows;
  int rc;
  while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int i = 0; i < sqlite3_column_count(statement); ++i) {
      switch (sqlite3_column_type(statement, i)) {
        case SQLITE_INTEGER: row.push_back("i:" + std::to_string(sqlite3_column_int64(statement, i))); break;
        case SQLITE_FLOAT: {
          char text[40];
          std::snprintf(text, sizeof text, "r:%.17g", sqlite3_column_double(statement, i));
          row.emplace_back(text);
          break;
        }
        case SQLITE_TEXT:
          row.push_back("t:" + std::string(reinterpret_cast<const char *>(sqlite3_column_text(statement, i)),
                                           static_cast<std::size_t>(sqlite3_column_bytes(statement, i))));
          break;
        case SQLITE_BLOB: {
          static const char digits[] = "0123456789abcdef";
          const auto *bytes = static_cast<const unsigned char *>(sqlite3_column_blob(statement, i));
          std::string hex = "b:";
          for (int k = 0; k < sqlite3_column_bytes(statement, i); ++k) {
            hex += digits[bytes[k] >> 4];
            hex += digits[bytes[k] & 15];
          }
          row.push_back(hex);
          break;
        }
        default: row.emplace_back("null");
      }
    }
    rows.push_back(std::move(row));
  }
  std::string message = sqlite3_errmsg(client.db());
  sqlite3_finalize(statement);
  if (rc != SQLITE_DONE) throw SqlError(rc, message + " in " + sql);
  return rows;
}

namespace {

using TypedRows = std::vector<std::vector<std::string>>;

std::string render(const std::vector<std::string> &row) {
  std::string text = "(";
  for (std::size_t i = 0; i < row.size(); ++i) text += (i ? ", " : "") + row[i];
  return text + ")";
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

// What a database holds of the dbfile, in comparable form.
struct Snapshot {
  std::vector<std::string> tables;            // zumero tables, as named in sqlite_master
  std::map<std::string, TypedRows> columns;   // by lower-case table name: table_info of z$T
  std::map<std::string, TypedRows> rows;      // by lower-case table name: SELECT rowid, *
  std::set<std::string> rules;                // row and column rules, normalised
};

std::set<std::string> rules_of(Client &client) {
  std::set<std::string> rules;
  if (client.integer("SELECT count(*) FROM sqlite_master WHERE name = 't$schema'") == 0) return rules;
  for (const auto &row : client.rows("SELECT kind, coalesce(tbl, ''), detail FROM \"t$schema\" "
                                     "WHERE kind IN ('row_rule', 'column_rule')")) {
    auto detail = nlohmann::json::parse(row[2], nullptr, false);
    rules.insert(row[0] + " " + lower(row[1]) + " " + (detail.is_discarded() ? row[2] : detail.dump()));
  }
  return rules;
}

Snapshot snapshot(Client &client) {
  Snapshot shot;
  for (const auto &row : client.rows("SELECT name FROM sqlite_master WHERE type = 'table' "
                                     "AND sql LIKE 'CREATE VIRTUAL TABLE%USING zumero%' ORDER BY lower(name)"))
    shot.tables.push_back(row[0]);
  for (const std::string &table : shot.tables) {
    shot.columns[lower(table)] = typed_rows(
        client, "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(" + sql_quote("z$" + table) + ")");
    shot.rows[lower(table)] = typed_rows(client, "SELECT rowid, * FROM " + quote_identifier(table) + " ORDER BY rowid");
  }
  shot.rules = rules_of(client);
  return shot;
}

std::string list(const std::vector<std::string> &items) {
  std::string text;
  for (const auto &item : items) text += (text.empty() ? "" : ", ") + item;
  return "[" + text + "]";
}

// The rows only one side has, by rowid, at most a few of each.
std::string row_difference(const TypedRows &client, const TypedRows &observer) {
  std::map<std::string, std::string> mine, theirs;
  for (const auto &row : client) mine[row.empty() ? "" : row[0]] = render(row);
  for (const auto &row : observer) theirs[row.empty() ? "" : row[0]] = render(row);
  std::string text;
  int shown = 0;
  for (const auto &entry : mine) {
    auto other = theirs.find(entry.first);
    if (other != theirs.end() && other->second == entry.second) continue;
    if (++shown > 6) break;
    text += "\n      client:   " + entry.second + "\n      observer: " + (other == theirs.end() ? "-" : other->second);
  }
  for (const auto &entry : theirs) {
    if (mine.count(entry.first)) continue;
    if (++shown > 6) break;
    text += "\n      client:   -\n      observer: " + entry.second;
  }
  return "client has " + std::to_string(client.size()) + " rows, observer " + std::to_string(observer.size()) + text;
}

void compare(Context &context, const std::string &who, const Snapshot &observer, const Snapshot &client) {
  if (client.tables != observer.tables)
    context.failures.add("tables", who + " has zumero tables " + list(client.tables) + ", observer " +
                                       list(observer.tables));
  for (const auto &table : observer.rows) {
    auto columns = client.columns.find(table.first);
    if (columns == client.columns.end()) continue;  // reported with the tables
    if (columns->second != observer.columns.at(table.first)) {
      std::vector<std::string> mine, theirs;
      for (const auto &row : columns->second) mine.push_back(render(row));
      for (const auto &row : observer.columns.at(table.first)) theirs.push_back(render(row));
      context.failures.add("columns", who + " " + table.first + ": " + list(mine) + " vs observer " + list(theirs));
    }
    const TypedRows &rows = client.rows.at(table.first);
    if (rows != table.second)
      context.failures.add("rows", who + " " + table.first + ": " + row_difference(rows, table.second));
  }
  if (client.rules != observer.rules) {
    std::vector<std::string> mine(client.rules.begin(), client.rules.end());
    std::vector<std::string> theirs(observer.rules.begin(), observer.rules.end());
    context.failures.add("rules", who + " has " + list(mine) + ", observer " + list(theirs));
  }
}

void check_health(Context &context, const std::string &who, Client &client) {
  Rows integrity = client.rows("PRAGMA integrity_check");
  if (integrity != Rows{{"ok"}}) context.failures.add("integrity_check", who + ": " + synctest::to_string(integrity));
  Rows foreign = client.rows("PRAGMA foreign_key_check");
  if (!foreign.empty()) context.failures.add("foreign_key_check", who + ": " + synctest::to_string(foreign));
}

std::string hex_of(const std::string &bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : bytes) {
    hex += digits[c >> 4];
    hex += digits[c & 15];
  }
  return hex;
}

// Where tokens are looked up on the server's side: the observer.
class ServerView {
public:
  explicit ServerView(Client &observer) : observer_(observer) {
    has_audit_ = observer.integer("SELECT count(*) FROM sqlite_master WHERE name = 'z$z_audit'") > 0;
  }
  bool live(const std::string &table, const std::string &tag) {
    return observer_.integer("SELECT count(*) FROM " + quote_identifier(table) + " WHERE tag = " + sql_quote(tag)) > 0;
  }
  // How many row identities ever held `tag` on the server (live or in history).
  std::int64_t identities(const std::string &table, const std::string &tag) {
    return observer_.integer("SELECT count(*) FROM (SELECT rowid FROM " + quote_identifier(table) +
                             " WHERE tag = " + sql_quote(tag) + " UNION SELECT z_recid FROM " +
                             quote_identifier("z$old$" + table) + " WHERE tag = " + sql_quote(tag) + ")");
  }
  bool in_audit_incoming(const std::string &tag) {
    return has_audit_ && observer_.integer("SELECT count(*) FROM z_audit WHERE instr(incoming, " +
                                           sql_quote("\"" + tag + "\"") + ") > 0") > 0;
  }
  // z_audit shows a deletion of `table`'s row that was overruled, leaving `tag` live.
  bool deletion_overruled(const std::string &table, const std::string &tag) {
    return has_audit_ &&
           observer_.integer("SELECT count(*) FROM z_audit WHERE tbl = " + sql_quote(table) +
                             " COLLATE NOCASE AND (incoming IS NULL OR incoming = 'null') AND instr(result, " +
                             sql_quote("\"" + tag + "\"") + ") > 0") > 0;
  }

private:
  Client &observer_;
  bool has_audit_ = false;
};

ClientFile *file_by_index(Context &context, int index) {
  for (auto &file : context.files)
    if (file->index == index) return file.get();
  return nullptr;
}

bool quarantine_exists(Context &context, int file_index, std::int64_t qid) {
  ClientFile *file = file_by_index(context, file_index);
  return file && file->connection->integer("SELECT count(*) FROM \"t$q\" WHERE qid = " + std::to_string(qid)) > 0;
}

bool quarantine_holds(Context &context, int file_index, std::int64_t qid, const std::string &token) {
  ClientFile *file = file_by_index(context, file_index);
  return file && package_holds(*file->connection, qid, token);
}

void check_writes(Context &context, ServerView &server) {
  for (const Write &write : context.ledger.writes()) {
    // One write is one row; a file copy may legitimately push its pending rows again.
    std::int64_t identities = server.identities(write.table, write.token);
    if (identities > 1 && !write.duplicated)
      context.failures.add("write_duplicated", write.token + " (" + write.table + ", by c" +
                                                   std::to_string(write.writer) + ") is on the server under " +
                                                   std::to_string(identities) + " row identities");
    if (identities > 0) continue;
    if (server.in_audit_incoming(write.token)) continue;
    std::vector<std::string> problems;
    for (const auto &[file, holding] : write.holders) {
      std::string where = "c" + std::to_string(file);
      switch (holding.fate) {
        case Fate::superseded: break;
        case Fate::quarantined:
          if (!quarantine_holds(context, file, holding.qid, write.token))
            problems.push_back("quarantined by " + where + " (qid " + std::to_string(holding.qid) +
                               ") but not in its t$q package");
          break;
        case Fate::pending: problems.push_back("still unsynced in " + where + " after the final syncs"); break;
        case Fate::pushed: problems.push_back("pushed by " + where + " but not on the server"); break;
      }
    }
    if (!problems.empty())
      context.failures.add("write_lost", write.token + " (" + write.table + ", by c" + std::to_string(write.writer) +
                                             "): " + list(problems));
  }
}

void check_deletions(Context &context, ServerView &server) {
  std::map<std::string, bool> duplicated;
  for (const Write &write : context.ledger.writes()) duplicated[write.token] = write.duplicated;
  for (const Deletion &deletion : context.ledger.deletions()) {
    if (!server.live(deletion.table, deletion.tag)) continue;
    if (duplicated[deletion.tag]) continue;  // a file copy pushed the row as its own too
    if (server.identities(deletion.table, deletion.tag) > 1) continue;  // reported as write_duplicated
    if (server.deletion_overruled(deletion.table, deletion.tag)) continue;
    bool all_quarantined = true;
    std::vector<std::string> fates;
    for (const auto &[file, holding] : deletion.holders) {
      fates.push_back("c" + std::to_string(file) + " " + fate_name(holding.fate));
      if (holding.fate != Fate::quarantined || !quarantine_exists(context, file, holding.qid)) all_quarantined = false;
    }
    if (all_quarantined) continue;
    context.failures.add("deletion_lost", "row " + deletion.tag + " of " + deletion.table + " deleted by c" +
                                              std::to_string(deletion.deleter) + " " + list(fates) +
                                              " is live on the server, and z_audit shows no overruled deletion");
  }
}

}  // namespace

// The token as a value of the package, or inside the JSON of a z_audit row it holds (a
// change the rules overruled while the client restored it, recorded locally and then
// quarantined with the rest).
bool package_holds(Client &client, std::int64_t qid, const std::string &token) {
  std::string value = std::string(1, static_cast<char>(token.size())) + token;
  std::string in_json = "\"" + token + "\"";
  return client.integer("SELECT count(*) FROM \"t$q\" WHERE qid = " + std::to_string(qid) + " AND (instr(package, x'" +
                        hex_of(value) + "') > 0 OR instr(package, x'" + hex_of(in_json) + "') > 0)") > 0;
}

void check_convergence(Context &context, Client &observer) {
  Snapshot expected = snapshot(observer);
  check_health(context, "observer", observer);
  for (auto &file : context.files) {
    try {
      compare(context, file->name(), expected, snapshot(*file->connection));
      check_health(context, file->name(), *file->connection);
    } catch (const SqlError &error) {
      context.failures.add("inspect", file->name() + ": " + error.what());
    }
  }
  ServerView server(observer);
  check_writes(context, server);
  check_deletions(context, server);
}

}  // namespace zumero::convergence
