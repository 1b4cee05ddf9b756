// Applies a pushed package on the server: resolves each incoming row against the
// server's current state and its state at the client's base version, renumbers
// colliding INTEGER PRIMARY KEY values, writes the result as one new version, and
// reports what the client must change to match (rows that differ from what it sent,
// and ranges it may keep as they are).
#pragma once
#include <cstdint>
#include <string>

#include "sync/package.h"
#include "base/sql.h"

namespace zumero::conflict {

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

// Runs inside the caller's write transaction. Throws Rejection (nothing is kept when the
// caller rolls back) or Error. Returns the reply package.
sync::Package apply_push(sqlite3 *db, sync::Package package, std::int64_t base, std::int64_t version);

}  // namespace zumero::conflict
