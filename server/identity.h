// Who a request comes from (guide 7.1): the pairing of an authentication scheme and a
// user name, or nobody (anonymous). Scheme strings are JSON; two are the same scheme
// when they hold the same keys and values, whatever their spacing and key order, so
// they are kept in one canonical form.
#pragma once
#include <optional>
#include <string>

namespace zumero::server {

struct Identity {
  std::string scheme;  // canonical scheme JSON; empty for anonymous
  std::string user;

  bool anonymous() const { return scheme.empty(); }
  bool operator==(const Identity &other) const { return scheme == other.scheme && user == other.user; }
  bool operator!=(const Identity &other) const { return !(*this == other); }
};

// The canonical form of a scheme string: nullopt when it is not a JSON object with a
// string "scheme_type".
std::optional<std::string> canonical_scheme(const std::string &text);

// The scheme string of the internal auth dbfile `dbfile`, in canonical form.
std::string internal_scheme(const std::string &dbfile);

// The dbfile an internal scheme names, or nullopt for any other scheme.
std::optional<std::string> internal_scheme_dbfile(const std::string &canonical);

}  // namespace zumero::server
