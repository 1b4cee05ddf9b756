// The conflict resolver (guide 5.1): decides one row from the state both sides
// started from (ancestor), the state the other side made of it (already) and the state
// this side wants (incoming), by the rules of the dbfile. The server calls it for every
// pushed row that meets a change made since the pusher's base; the client calls it
// for every local change made while a sync was on the network, so the same rules decide
// a change whenever it was made.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "conflict/rules.h"
#include "sync/package.h"

namespace zumero::conflict {

using sync::Row;

struct RowVersions {
  std::optional<Row> ancestor;  // nullopt: the row did not exist
  std::optional<Row> already;   // nullopt: absent (deleted or never created)
  std::optional<Row> incoming;  // nullopt: this side deletes it
};

struct Decision {
  enum class Kind {
    NoConflict,     // one side changed nothing (or both made the same change): result
    Resolved,       // a situation arose and the rules decided it: result
    Rejected,       // a rule said action_reject
    IdentityClash,  // both sides created a row under the same identity
  };
  Kind kind = Kind::NoConflict;
  std::optional<Row> result;
  Situation situation = Situation::ModAfterMod;
  std::string column;  // the column whose rule rejected, if any
};

class Resolver {
public:
  explicit Resolver(const Rules &rules) : rules_(rules) {}
  Decision decide(const std::string &table, const std::vector<std::string> &columns, const RowVersions &versions) const;

private:
  Decision merge_columns(const std::string &table, const std::vector<std::string> &columns,
                         const RowVersions &versions) const;
  const Rules &rules_;
};

bool same_state(const std::optional<Row> &a, const std::optional<Row> &b);

// A row as a JSON object keyed by column name ("null" for no row); blobs as x'..'.
std::string row_json(const std::vector<std::string> &columns, const std::optional<Row> &row);

// The z_audit row (tbl, ancestor, already, incoming, result) of a resolved conflict.
Row audit_row(const std::string &table, const std::vector<std::string> &columns, const RowVersions &versions,
              const std::optional<Row> &result);

}  // namespace zumero::conflict
