// The subcommands of the zumero command-line client. Each returns the process's exit
// status; zumero errors travel as zumero::Error and are reported by main (exit 1).
#pragma once
#include <cstddef>
#include <optional>
#include <string>

namespace zumero::cli {

// --scheme S (or --auth-dbfile NAME) --user U --password-file F: all or none.
struct CredentialOptions {
  std::string scheme;
  std::string auth_dbfile;
  std::string user;
  std::string password_file;  // "-" for standard input
};

struct ResolvedCredentials {
  std::string scheme;
  std::string user;
  std::string password;
};

// Throws UsageError when only some of them are given; reads the password.
std::optional<ResolvedCredentials> resolve_credentials(const CredentialOptions &options);

// A mistake in how the command was called (exit status 2).
struct UsageError {
  std::string message;
};

struct SyncCommand {
  std::string database;
  std::string url;
  std::string dbfile;
  CredentialOptions credentials;
  bool quiet = false;
};
int run_sync(const SyncCommand &command);

struct StatusCommand {
  std::string database;
};
int run_status(const StatusCommand &command);

struct QuarantineCommand {
  std::string database;
  std::optional<long long> restore;
};
int run_quarantine(const QuarantineCommand &command);

struct LogCommand {
  std::string url;
  CredentialOptions credentials;
  std::string keep;  // a database file to keep the pulled log in; empty: a scratch file
};
int run_log(const LogCommand &command);

struct QueryCommand {
  std::string url;
  std::string dbfile;
  std::string sql;
  CredentialOptions credentials;
  bool json = false;
  std::size_t max_rows = 0;  // 0: the server's limit
};
int run_query(const QueryCommand &command);

}  // namespace zumero::cli
