// zumero: the command-line client. Subcommands sync, status, quarantine, log and query.
// Exit status: 0 on success, 1 on a zumero error (its message on stderr, starting
// "zumero:"), 2 when the command line is wrong.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <iostream>

#include "base/sql.h"
#include "cli/commands.h"

namespace {

using zumero::cli::CredentialOptions;

constexpr int kUsageError = 2;
constexpr int kZumeroError = 1;

const char *kPasswordNote =
    "Passwords are read from a file (--password-file FILE, its first line) or from standard input "
    "(--password-file -), never from the command line, where other users of the machine could see them.";

void add_credentials(CLI::App &command, CredentialOptions &credentials) {
  auto *scheme = command.add_option("--scheme", credentials.scheme,
                                    "Credentials: the auth scheme string (JSON), as zumero_sync() takes it");
  auto *auth_dbfile = command.add_option("--auth-dbfile", credentials.auth_dbfile,
                                         "Credentials: shorthand for the internal auth scheme of this dbfile");
  scheme->excludes(auth_dbfile);
  command.add_option("--user", credentials.user, "Credentials: the user name");
  command.add_option("--password-file", credentials.password_file,
                     "Credentials: file whose first line is the password; - reads standard input");
  command.footer(kPasswordNote);
}

// The message of a failure as the user sees it: zumero's own start with "zumero:".
std::string zumero_message(const std::string &what) {
  if (what.rfind("zumero:", 0) == 0) return what;
  return "zumero:sqlite_error (" + what + ")";
}

}  // namespace

int main(int argc, char **argv) {
  CLI::App app{"zumero: sync SQLite databases with a zumero server, and look into them and the server."};
  app.require_subcommand(1);
  app.footer("Run 'zumero SUBCOMMAND --help' for the options of each.");

  zumero::cli::SyncCommand sync;
  CLI::App *sync_app = app.add_subcommand("sync", "Sync a database with a dbfile on the server, until nothing is partial");
  sync_app->add_option("DB", sync.database, "The client database file (created if missing)")->required();
  sync_app->add_option("URL", sync.url, "The server, http:// or https://")->required();
  sync_app->add_option("DBFILE", sync.dbfile, "The dbfile on the server")->required();
  sync_app->add_flag("--quiet,-q", sync.quiet, "No progress: only the summary line of each sync call");
  add_credentials(*sync_app, sync.credentials);
  sync_app->footer(std::string("Shows a progress bar on a terminal and one line per finished step otherwise; "
                               "Ctrl-C cancels the sync cleanly (zumero:cancelled). ") + kPasswordNote);

  zumero::cli::StatusCommand status;
  CLI::App *status_app = app.add_subcommand(
      "status", "Show a database's dbfile, base version, unsynced changes and quarantined packages");
  status_app->add_option("DB", status.database, "The client database file")->required();

  zumero::cli::QuarantineCommand quarantine;
  long long restore_qid = 0;
  CLI::App *quarantine_app =
      app.add_subcommand("quarantine", "List the quarantined packages of a database, or restore one");
  quarantine_app->add_option("DB", quarantine.database, "The client database file")->required();
  auto *restore_option = quarantine_app->add_option(
      "--restore", restore_qid, "Restore the package with this qid through the conflict rules (zumero_restore_quarantine)");

  zumero::cli::LogCommand log;
  CLI::App *log_app = app.add_subcommand(
      "log", "Pull the server log (zumero_log) and print its summaries: time per url, sizes, bandwidth, refusals, "
             "compression");
  log_app->add_option("URL", log.url, "The server, http:// or https://")->required();
  log_app->add_option("--db", log.keep, "Keep the pulled log in this database file (later runs pull only what is new)");
  add_credentials(*log_app, log.credentials);

  zumero::cli::QueryCommand query;
  CLI::App *query_app = app.add_subcommand("query", "Run one read-only SELECT on the server's copy of a dbfile");
  query_app->add_option("URL", query.url, "The server, http:// or https://")->required();
  query_app->add_option("DBFILE", query.dbfile, "The dbfile on the server")->required();
  query_app->add_option("SQL", query.sql, "One SELECT statement")->required();
  query_app->add_flag("--json", query.json, "Print the server's JSON answer as it came");
  query_app->add_option("--max-rows", query.max_rows, "Ask for at most this many rows (the server has its own cap)")
      ->check(CLI::PositiveNumber);
  add_credentials(*query_app, query.credentials);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &failure) {
    int status = app.exit(failure);  // prints help, or the error and a hint
    return status == 0 ? 0 : kUsageError;
  }

  try {
    if (*sync_app) return zumero::cli::run_sync(sync);
    if (*status_app) return zumero::cli::run_status(status);
    if (*quarantine_app) {
      if (*restore_option) quarantine.restore = restore_qid;
      return zumero::cli::run_quarantine(quarantine);
    }
    if (*log_app) return zumero::cli::run_log(log);
    if (*query_app) return zumero::cli::run_query(query);
  } catch (const zumero::cli::UsageError &failure) {
    std::cerr << failure.message << "\nRun with --help for more information.\n";
    return kUsageError;
  } catch (const std::bad_alloc &) {
    std::cerr << "zumero:out_of_memory\n";
    return kZumeroError;
  } catch (const std::exception &failure) {
    std::fflush(stdout);
    std::cerr << zumero_message(failure.what()) << "\n";
    return kZumeroError;
  }
  return kUsageError;
}
