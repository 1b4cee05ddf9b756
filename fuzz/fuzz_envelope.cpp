// Arbitrary bytes as a request or reply body: the envelope, then the package inside it
// read three ways (streamed with every row, streamed skipping rows, whole). The three
// must agree, and a package that decodes must survive encode -> decode unchanged.
// Only DecodeError may be thrown; anything else escapes and counts as a crash.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>

#include "sync/package.h"

using namespace zumero::sync;

namespace {

constexpr std::size_t kMaxPayload = 1 << 20;

[[noreturn]] void invariant_broken(const char *what) {
  std::fprintf(stderr, "fuzz_envelope: invariant broken: %s\n", what);
  std::abort();
}

// What a walk saw; two walks of the same bytes must see the same.
struct WalkSummary {
  std::size_t sections = 0;
  std::size_t end_position = 0;
  bool operator==(const WalkSummary &other) const {
    return sections == other.sections && end_position == other.end_position;
  }
};

// Reads every row, range and pair, as the server and client do.
std::optional<WalkSummary> walk_everything(std::string_view bytes, std::size_t *rows) {
  WalkSummary summary;
  try {
    PackageReader reader(bytes);
    RowState row;
    IdRange range;
    Renumbering pair;
    for (auto section = reader.next(); section != PackageReader::Section::End; section = reader.next()) {
      ++summary.sections;
      if (reader.section() != section) invariant_broken("section() differs from next()");
      while (reader.next_row(row)) {
        ++*rows;
        if (row.has_values() != (row.values.size() == reader.columns().size()))
          invariant_broken("a row's value count does not match its section");
      }
      while (reader.next_range(range))
        if (range.last < range.first) invariant_broken("an echoed range ends before it starts");
      while (reader.next_renumbering(pair)) {
      }
    }
    summary.end_position = reader.position();
  } catch (const DecodeError &) {
    return std::nullopt;
  }
  return summary;
}

// Only moves from section to section; the reader skips the contents itself.
std::optional<WalkSummary> walk_sections_only(std::string_view bytes) {
  WalkSummary summary;
  try {
    PackageReader reader(bytes);
    while (reader.next() != PackageReader::Section::End) ++summary.sections;
    summary.end_position = reader.position();
  } catch (const DecodeError &) {
    return std::nullopt;
  }
  return summary;
}

// Exact equality: reals by their bits, so NaN and -0.0 must survive as they are.
bool same_value(const Value &a, const Value &b) {
  if (a.type != b.type) return false;
  switch (a.type) {
    case Value::Null: return true;
    case Value::Integer: return a.integer == b.integer;
    case Value::Real: return std::memcmp(&a.real, &b.real, sizeof a.real) == 0;
    case Value::Text:
    case Value::Blob: return a.bytes == b.bytes;
  }
  return false;
}

bool same_row(const RowState &a, const RowState &b) {
  if (a.kind != b.kind || a.recid != b.recid || a.rv != b.rv || a.end_rv != b.end_rv ||
      a.deleted_after != b.deleted_after || a.values.size() != b.values.size())
    return false;
  for (std::size_t i = 0; i < a.values.size(); ++i)
    if (!same_value(a.values[i], b.values[i])) return false;
  return true;
}

bool same_package(const Package &a, const Package &b) {
  if (a.schema.size() != b.schema.size() || a.tables.size() != b.tables.size() ||
      a.echoed.size() != b.echoed.size() || a.renumbered.size() != b.renumbered.size())
    return false;
  for (std::size_t i = 0; i < a.schema.size(); ++i) {
    const SchemaEntry &x = a.schema[i], &y = b.schema[i];
    if (x.seq != y.seq || x.rv != y.rv || x.kind != y.kind || x.table != y.table || x.detail != y.detail) return false;
  }
  for (std::size_t i = 0; i < a.tables.size(); ++i) {
    const TableSection &x = a.tables[i], &y = b.tables[i];
    if (x.name != y.name || x.columns != y.columns || x.rows.size() != y.rows.size()) return false;
    for (std::size_t r = 0; r < x.rows.size(); ++r)
      if (!same_row(x.rows[r], y.rows[r])) return false;
  }
  for (std::size_t i = 0; i < a.echoed.size(); ++i) {
    const EchoedRanges &x = a.echoed[i], &y = b.echoed[i];
    if (x.table != y.table || x.ranges.size() != y.ranges.size()) return false;
    for (std::size_t r = 0; r < x.ranges.size(); ++r)
      if (x.ranges[r].first != y.ranges[r].first || x.ranges[r].last != y.ranges[r].last) return false;
  }
  for (std::size_t i = 0; i < a.renumbered.size(); ++i) {
    const RenumberedRows &x = a.renumbered[i], &y = b.renumbered[i];
    if (x.table != y.table || x.pairs.size() != y.pairs.size()) return false;
    for (std::size_t r = 0; r < x.pairs.size(); ++r)
      if (x.pairs[r].sent != y.pairs[r].sent || x.pairs[r].stored != y.pairs[r].stored) return false;
  }
  return true;
}

std::size_t row_count(const Package &package) {
  std::size_t rows = 0;
  for (const TableSection &table : package.tables) rows += table.rows.size();
  return rows;
}

void check_package(std::string_view bytes) {
  std::size_t rows_streamed = 0;
  std::optional<WalkSummary> everything = walk_everything(bytes, &rows_streamed);
  std::optional<WalkSummary> sections = walk_sections_only(bytes);
  if (everything.has_value() != sections.has_value()) invariant_broken("skipping rows changes whether a package decodes");
  if (everything && !(*everything == *sections)) invariant_broken("skipping rows changes the sections seen");

  std::optional<Package> package;
  try {
    package = decode_package(bytes);
  } catch (const DecodeError &) {
  }
  if (package.has_value() != everything.has_value()) invariant_broken("decode_package and PackageReader disagree");
  if (!package) return;
  if (row_count(*package) != rows_streamed) invariant_broken("decode_package and PackageReader count other rows");

  const std::string encoded = encode_package(*package);
  Package again;
  try {
    again = decode_package(encoded);
  } catch (const DecodeError &) {
    invariant_broken("an encoded package does not decode");
  }
  if (!same_package(*package, again)) invariant_broken("encode -> decode changes the package");
  if (encode_package(again) != encoded) invariant_broken("encoding is not deterministic");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char *>(data), size);
  Envelope envelope;
  std::size_t full_size = 0;
  try {
    envelope = open_envelope(bytes, kMaxPayload, &full_size);
  } catch (const DecodeError &) {
    return 0;
  }
  if (full_size > kMaxPayload) invariant_broken("an envelope larger than the limit was opened");
  if (envelope.header_json.size() > kMaxHeaderBytes) invariant_broken("a header above the limit was accepted");
  if (4 + envelope.header_json.size() + envelope.package_bytes.size() != full_size)
    invariant_broken("header and package do not add up to the payload");
  check_package(envelope.package_bytes);

  // Sealing what was opened gives it back.
  Envelope reopened;
  try {
    reopened = open_envelope(seal_envelope(envelope), kMaxPayload);
  } catch (const DecodeError &) {
    invariant_broken("a sealed envelope does not open");
  }
  if (reopened.header_json != envelope.header_json || reopened.package_bytes != envelope.package_bytes)
    invariant_broken("seal -> open changes the envelope");
  return 0;
}
