// Applies a pushed package on the server as one new version: schema entries first,
// then each row, resolved against the server's current state and its state at the
// client's base version by the dbfile's rules (conflict/resolver.h). Inserted rows
// whose identity the server gave to another row since the base are renumbered, and
// references to them in the same package follow. The reply tells the client what to
// change so that it matches: rows stored differently from what it sent, renumbered
// identities, and ranges stored exactly as sent.
//
// The package may arrive in several parts; they are read as one package, streaming,
// so memory does not grow with its size. Within one push the rows of each table come
// in strictly increasing identity order (a repeated or unordered row is refused).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/conflict_actions.h"
#include "base/sql.h"
#include "sync/package.h"

namespace zumero::server {

// A package refused as a whole: identifier is a zumero error identifier
// (unique_constraint_violation, package_rejected, ...), details a JSON object.
class Rejection : public Error {
public:
  Rejection(const std::string &identifier, std::string details)
      : Error(SQLITE_CONSTRAINT, "zumero:" + identifier), identifier_(identifier), details_(std::move(details)) {}
  const std::string &identifier() const { return identifier_; }
  const std::string &details() const { return details_; }

private:
  std::string identifier_;
  std::string details_;
};

// What a push does, told before it is done, so a permission check can refuse it (by
// throwing); the transaction then keeps nothing of the package.
class PushObserver {
public:
  enum class RowChange { Adds, Modifies };
  virtual ~PushObserver() = default;
  virtual void schema_entry(const sync::SchemaEntry &entry) = 0;
  virtual void row(const std::string &table, RowChange change) = 0;
  // A row met a change made since the pusher's base and the rules decided it with
  // `action` (accept, ignore, reject or column merge); told after row().
  virtual void conflict_decided(const std::string &table, conflict::Situation situation, std::int64_t action) {
    (void)table, (void)situation, (void)action;
  }
};

// The parts of one pushed package, loaded one at a time (each is read a few times).
struct PartSource {
  std::size_t count = 0;
  std::function<std::string(std::size_t)> load;
};

// Runs inside the caller's write transaction on the dbfile. Throws Rejection, or
// zumero::Error for malformed input (the caller rolls back). Returns the reply package.
std::string apply_push(sqlite3 *db, const PartSource &parts, std::int64_t base, std::int64_t version,
                       PushObserver *observer = nullptr);

}  // namespace zumero::server
