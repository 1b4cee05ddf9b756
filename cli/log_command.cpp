// zumero log URL: pulls the server log (the dbfile zumero_log, guide chapter 9) into a
// scratch database and prints the summaries of guide 9.3.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "base/sql.h"
#include "cli/client_database.h"
#include "cli/commands.h"
#include "cli/progress_display.h"
#include "cli/table.h"

namespace zumero::cli {
namespace {

// A directory for the scratch database, removed with everything in it (the database,
// its journal, the sync's lock file).
class ScratchDirectory {
public:
  ScratchDirectory() {
    const char *tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/zumero-log-XXXXXX";
    if (!mkdtemp(pattern.data())) throw Error(SQLITE_CANTOPEN, "zumero:invalid_argument (no scratch directory)");
    path_ = pattern;
  }
  ~ScratchDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string file(const std::string &name) const { return (path_ / name).string(); }

private:
  std::filesystem::path path_;
};

void print_table(sqlite3 *db, const std::string &sql) {
  Statement select(db, sql);
  std::vector<std::string> columns;
  for (int i = 0; i < select.column_count(); ++i) columns.push_back(sqlite3_column_name(select.get(), i));
  TextTable table(columns);
  while (select.step()) {
    std::vector<std::string> row;
    for (int i = 0; i < select.column_count(); ++i) row.push_back(display_value(select.get(), i));
    table.add(std::move(row));
  }
  if (table.size() == 0) std::cout << "  (none)\n";
  else table.print(std::cout);
}

std::string one_value(sqlite3 *db, const std::string &sql) {
  Statement select(db, sql);
  if (!select.step() || select.is_null(0)) return "";
  return display_value(select.get(), 0);
}

void print_summaries(sqlite3 *db) {
  std::cout << "requests logged: " << one_value(db, "SELECT count(*) FROM z$log") << "\n\n";
  std::cout << "average elapsed time (ms) per url:\n";
  print_table(db, "SELECT url, round(avg(elapsed), 1) AS avg_ms, count(*) AS requests FROM z$log "
                  "GROUP BY url ORDER BY avg(elapsed) DESC, url");
  std::string push_size = one_value(db, "SELECT round(avg(request_size), 1) FROM z$log WHERE url = '/push'");
  std::cout << "\naverage push size: " << (push_size.empty() ? "no pushes" : push_size + " bytes") << "\n";
  std::cout << "bandwidth out (responses): " << one_value(db, "SELECT coalesce(sum(response_size), 0) FROM z$log")
            << " bytes\n";
  std::cout << "bandwidth in (requests): " << one_value(db, "SELECT coalesce(sum(request_size), 0) FROM z$log")
            << " bytes\n";
  std::cout << "\nrefused (status 403):\n";
  print_table(db, "SELECT DISTINCT scheme, username FROM z$log WHERE status = 403 ORDER BY scheme, username");
  std::string compression = one_value(db,
                                      "SELECT round(100 - avg(request_size * 100 / full_request_size), 1) FROM z$log "
                                      "WHERE full_request_size > 0");
  std::cout << "\npush compression: " << (compression.empty() ? "no pushes" : compression + " %") << "\n";
}

}  // namespace

int run_log(const LogCommand &command) {
  std::optional<ResolvedCredentials> credentials = resolve_credentials(command.credentials);
  std::optional<ScratchDirectory> scratch;
  std::string path = command.keep;
  if (path.empty()) {
    scratch.emplace();
    path = scratch->file("zumero_log.db");
  }
  ClientDatabase database(path, false);
  {
    ProgressDisplay progress(database.db(), stderr, isatty(fileno(stderr)) != 1);
    for (int call = 0;; ++call) {
      if (call == 100000) throw Error(SQLITE_ERROR, "zumero:http_other (the server kept answering partial)");
      if (!parse_sync_result(zumero_sync_call(database.db(), command.url, "zumero_log", credentials)).partial) break;
    }
  }
  if (!database.has_table("z$log")) {
    std::cout << "the log is empty\n";
    return 0;
  }
  print_summaries(database.db());
  return 0;
}

}  // namespace zumero::cli
