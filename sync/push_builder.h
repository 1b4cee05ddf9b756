// The client's side of a push: every row changed by a local transaction up to L and
// every schema entry not yet on the server (up to seq S), read in one short read
// transaction and written as package parts of about part_bytes each. Rows of a table
// come in increasing identity order, as the server requires.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/sqlite_api.h"

namespace zumero::sync {

struct PushPackage {
  std::vector<std::string> parts;
  std::string digest;
  std::int64_t last_txid = 0;  // L
  std::int64_t last_seq = 0;   // S
};

// Runs in the caller's transaction. Nothing when there is nothing to push.
// restoring_txid: after the server lost versions, the local transaction that re-offers
// the rows of those versions (0 otherwise). Such rows carry the version they came from;
// those no local transaction changed since are sent as restored.
std::optional<PushPackage> build_push(sqlite3 *db, const std::string &schema, std::size_t part_bytes,
                                      std::int64_t base, std::int64_t restoring_txid);

// The same package cut into parts of about part_bytes.
std::vector<std::string> split_parts(const std::vector<std::string> &parts, std::size_t part_bytes);

}  // namespace zumero::sync
