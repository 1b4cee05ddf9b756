// Arbitrary bytes as the "cursor" of a pull header. parse_cursor either refuses with
// zumero::Error or returns a cursor the server could have written; cursor_json of it
// must parse back to the same cursor.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "base/sql.h"
#include "server/pull_builder.h"

using zumero::server::cursor_json;
using zumero::server::parse_cursor;
using zumero::server::PullCursor;

namespace {

[[noreturn]] void invariant_broken(const char *what) {
  std::fprintf(stderr, "fuzz_pull_cursor: invariant broken: %s\n", what);
  std::abort();
}

bool same_cursor(const PullCursor &a, const PullCursor &b) {
  return a.phase == b.phase && a.table == b.table && a.after == b.after;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  // The server parses the whole header the same way (RequestHeader), then hands the
  // "cursor" value over.
  nlohmann::json json = nlohmann::json::parse(data, data + size, nullptr, false);
  if (json.is_discarded()) return 0;

  PullCursor cursor;
  try {
    cursor = parse_cursor(json);
  } catch (const zumero::Error &error) {
    if (std::string(error.what()) != "zumero:invalid_argument") invariant_broken("a cursor was refused with another error");
    return 0;
  }
  if (json.is_null()) {
    if (!same_cursor(cursor, PullCursor{})) invariant_broken("a null cursor does not start from the beginning");
    return 0;
  }
  if (cursor.phase < 1 || cursor.phase > 2 || cursor.table < 0 || cursor.table > INT32_MAX)
    invariant_broken("parse_cursor accepted a cursor out of range");

  const nlohmann::json written = cursor_json(cursor);
  // Only a cursor this server could have written is accepted: it is written back as is.
  if (written != json) invariant_broken("parse_cursor accepted a cursor the server would not write");
  PullCursor again;
  try {
    again = parse_cursor(nlohmann::json::parse(written.dump()));
  } catch (const zumero::Error &) {
    invariant_broken("a cursor the server wrote does not parse");
  }
  if (!same_cursor(cursor, again)) invariant_broken("cursor_json -> parse_cursor changes the cursor");
  if (cursor_json(again) != written) invariant_broken("cursor_json is not stable");
  return 0;
}
