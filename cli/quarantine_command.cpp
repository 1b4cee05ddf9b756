// zumero quarantine DB [--restore QID]: the packages zumero set aside in t$q (guide
// chapter 6), or the restore of one through the dbfile's conflict rules.
#include <cstdio>
#include <ctime>
#include <iostream>
#include <set>
#include <string>

#include "base/sql.h"
#include "cli/client_database.h"
#include "cli/commands.h"
#include "cli/table.h"
#include "sync/package.h"

namespace zumero::cli {
namespace {

std::string utc_time(std::int64_t unix_time) {
  std::time_t when = static_cast<std::time_t>(unix_time);
  std::tm parts{};
  gmtime_r(&when, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &parts);
  return text;
}

// Tables and rows a set-aside package holds: each row comes as its state now, after an
// optional history entry with its state before.
void describe(const std::string &package, std::string &tables, std::int64_t &rows) {
  NameSet names;
  rows = 0;
  sync::PackageReader reader(package);
  for (auto section = reader.next(); section != sync::PackageReader::Section::End; section = reader.next()) {
    if (section != sync::PackageReader::Section::Table) continue;
    names.insert(reader.table());
    sync::RowState row;
    while (reader.next_row(row))
      if (row.kind != sync::RowState::History) ++rows;
  }
  for (const std::string &name : names) tables += (tables.empty() ? "" : ", ") + name;
}

}  // namespace

int run_quarantine(const QuarantineCommand &command) {
  ClientDatabase database(command.database, true);
  sqlite3 *db = database.db();
  if (command.restore) {
    Statement restore(db, "SELECT zumero_restore_quarantine('main', ?1)");
    restore.bind(1, static_cast<std::int64_t>(*command.restore));
    restore.step();
    std::printf("restored quarantined package %lld\n", *command.restore);
    return 0;
  }
  if (!database.has_table("t$q")) {
    std::printf("no quarantined packages\n");
    return 0;
  }
  TextTable table({"qid", "quarantined at", "tables", "rows"});
  Statement select(db, "SELECT qid, unix_time, package FROM \"t$q\" ORDER BY qid");
  while (select.step()) {
    const void *data = sqlite3_column_blob(select.get(), 2);
    std::string package(static_cast<const char *>(data ? data : ""), sqlite3_column_bytes(select.get(), 2));
    std::string tables;
    std::int64_t rows = 0;
    describe(package, tables, rows);
    table.add({std::to_string(select.column_int(0)), utc_time(select.column_int(1)), tables, std::to_string(rows)});
  }
  if (table.size() == 0) {
    std::printf("no quarantined packages\n");
    return 0;
  }
  table.print(std::cout);
  return 0;
}

}  // namespace zumero::cli
