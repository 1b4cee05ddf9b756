// zumero status DB: what the client database knows about its syncs, read from its
// housekeeping tables (docs/design.md, "Housekeeping tables").
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "base/sql.h"
#include "cli/client_database.h"
#include "cli/commands.h"

namespace zumero::cli {
namespace {

// Rows with changes not pushed yet: t$dirty holds ranges of identities per transaction,
// which may overlap; each row counts once.
std::int64_t unsynced_rows(ClientDatabase &database) {
  if (!database.has_table("t$dirty")) return 0;
  Statement ranges(database.db(), "SELECT tbl, first, last FROM \"t$dirty\" ORDER BY tbl, first, last");
  std::int64_t rows = 0;
  std::string table;
  bool open = false;
  std::int64_t first = 0, last = 0;
  auto close_range = [&] {
    if (open) rows += last - first + 1;
  };
  while (ranges.step()) {
    std::string next_table = ranges.column_text(0);
    std::int64_t next_first = ranges.column_int(1), next_last = ranges.column_int(2);
    if (open && iequals(next_table, table) && (last == INT64_MAX || next_first <= last + 1)) {
      last = std::max(last, next_last);
      continue;
    }
    close_range();
    table = next_table;
    first = next_first;
    last = next_last;
    open = true;
  }
  close_range();
  return rows;
}

std::int64_t count_if_table(ClientDatabase &database, const std::string &table, const std::string &sql) {
  return database.has_table(table) ? query_int(database.db(), sql) : 0;
}

}  // namespace

int run_status(const StatusCommand &command) {
  ClientDatabase database(command.database, true);
  sqlite3 *db = database.db();
  std::optional<std::string> dbfile = database.sync_value("dbfile");
  std::printf("database: %s\n", command.database.c_str());
  std::printf("dbfile: %s\n", dbfile ? dbfile->c_str() : "(never synced)");
  std::printf("base version: %s\n", database.sync_value("base").value_or("0").c_str());
  std::int64_t transactions = count_if_table(database, "t$dirty", "SELECT count(DISTINCT txid) FROM \"t$dirty\"");
  std::int64_t schema = count_if_table(database, "t$schema", "SELECT count(*) FROM \"t$schema\" WHERE rv IS NULL");
  std::printf("unsynced changes: %lld rows in %lld transactions, %lld schema changes\n",
              static_cast<long long>(unsynced_rows(database)), static_cast<long long>(transactions),
              static_cast<long long>(schema));
  std::printf("push in flight: %s\n", database.sync_value("pending") ? "yes" : "no");
  std::printf("pull in progress (partial): %s\n", database.sync_value("pull") ? "yes" : "no");
  std::string ids;
  std::int64_t packages = 0;
  if (database.has_table("t$q")) {
    Statement quarantined(db, "SELECT qid FROM \"t$q\" ORDER BY qid");
    while (quarantined.step()) {
      ids += (packages++ ? ", " : "") + std::to_string(quarantined.column_int(0));
    }
  }
  std::printf("quarantined packages: %lld%s\n", static_cast<long long>(packages),
              packages ? (" (qid " + ids + ")").c_str() : "");
  return 0;
}

}  // namespace zumero::cli
