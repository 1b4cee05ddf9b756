#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "base/sql.h"
#include "cli/commands.h"

namespace zumero::cli {
namespace {

// The password is the file's first line (or standard input's, for "-").
std::string read_password(const std::string &file) {
  std::string password;
  if (file == "-") {
    std::getline(std::cin, password);
  } else {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw UsageError{"cannot read the password file " + file};
    std::getline(in, password);
  }
  if (!password.empty() && password.back() == '\r') password.pop_back();
  return password;
}

}  // namespace

std::optional<ResolvedCredentials> resolve_credentials(const CredentialOptions &options) {
  bool scheme_given = !options.scheme.empty() || !options.auth_dbfile.empty();
  int given = (scheme_given ? 1 : 0) + (options.user.empty() ? 0 : 1) + (options.password_file.empty() ? 0 : 1);
  if (given == 0) return std::nullopt;
  if (given != 3) throw UsageError{"credentials need all of --scheme (or --auth-dbfile), --user and --password-file"};
  ResolvedCredentials credentials;
  credentials.scheme = options.scheme.empty()
                           ? nlohmann::json{{"scheme_type", "internal"}, {"dbfile", options.auth_dbfile}}.dump()
                           : options.scheme;
  credentials.user = options.user;
  credentials.password = read_password(options.password_file);
  return credentials;
}

}  // namespace zumero::cli
