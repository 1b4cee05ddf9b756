// The package codec: the binary form of the changes that travel between client and
// server, and the envelope around every request and reply body. docs/protocol.md
// describes the same format for readers of the wire.
//
// Envelope (all integers big-endian):
//   bytes 0-3  "ZMRO"
//   byte  4    protocol version (kProtocolVersion)
//   byte  5    flags: bit 0 set = payload is a zlib stream
//   bytes 6-9  payload length once uncompressed (u32); the receiver refuses a length
//              above its own limit before inflating anything
//   bytes 10-  payload
// Payload: u32 length of a UTF-8 JSON header (at most kMaxHeaderBytes), the header,
// then a package (may be empty).
//
// Package: a sequence of sections, each introduced by one byte:
//   'S' schema entry:  varint seq (the server's order; 0 from a client), varint rv,
//                      string kind, string table ("" = none), string detail JSON
//   'T' table:         string name, varint column count (1..kMaxColumns), column names,
//                      then rows until a 0 byte:
//                        byte kind: 1 live, 2 deleted, 3 history entry; after a server
//                          lost versions, 4 restored (a live row as those versions left
//                          it, not changed since) and 5 restored deletion
//                          (likewise, a row they deleted)
//                        svarint recid minus the previous row's recid in this section
//                          (the first row: minus 0); the sum must stay within int64
//                        varint rv (0 = unknown; in a push, the version the client had
//                          the row from when that is newer than its base)
//                        kind 3 only: varint end_rv, byte deleted flag
//                        kinds 1, 3 and 4: one value per column
//   'E' echoed ranges: string table, varint count, then count pairs
//                      (svarint first, varint last - first)
//   'R' renumbered:    string table, varint count, then count pairs (svarint recid the
//                      client sent, svarint recid the server stored it under)
// varint: unsigned LEB128, at most 64 bits. svarint: zigzag, then varint.
// rv values must fit in int64. string: varint length, bytes.
// value: byte type (0 null, 1 integer, 2 real, 3 text, 4 blob); integer: svarint;
//   real: 8 bytes IEEE-754 big-endian; text and blob: varint length, bytes.
//
// Decoding streams over the bytes (PackageReader): its memory does not grow with the
// package, and every count, length and sum is checked before it is used.
#pragma once
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/sqlite_api.h"

namespace zumero::sync {

constexpr std::uint8_t kProtocolVersion = 2;
constexpr std::size_t kMaxHeaderBytes = 64 << 10;
constexpr std::uint64_t kMaxColumns = 2000;

// Raised for any malformed, truncated or unknown input.
class DecodeError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// An envelope whose payload is larger than the receiver accepts.
class PayloadTooLarge : public DecodeError {
public:
  using DecodeError::DecodeError;
};

struct Value {
  enum Type : std::uint8_t { Null = 0, Integer = 1, Real = 2, Text = 3, Blob = 4 };
  Type type = Null;
  std::int64_t integer = 0;
  double real = 0;
  std::string bytes;

  static Value from_sqlite(sqlite3_value *value);
  static Value from_column(sqlite3_stmt *statement, int column);
  static Value of_integer(std::int64_t number) { return Value{Integer, number, 0, {}}; }
  static Value of_text(std::string text) { return Value{Text, 0, 0, std::move(text)}; }
  void bind(sqlite3_stmt *statement, int index) const;
  // Same value: NULL is NULL, numbers compare by value, text and blob by bytes and type.
  bool same_as(const Value &other) const;
  // Same value and the same storage class.
  bool identical_to(const Value &other) const { return type == other.type && same_as(other); }
};

using Row = std::vector<Value>;

bool identical_rows(const Row &a, const Row &b);

struct RowState {
  enum Kind : std::uint8_t { Live = 1, Deleted = 2, History = 3, Restored = 4, RestoredDeletion = 5 };
  Kind kind = Live;
  std::int64_t recid = 0;
  std::int64_t rv = 0;
  std::int64_t end_rv = 0;     // History only
  bool deleted_after = false;  // History only: the version ended by a deletion
  Row values;                  // Live, Restored and History

  bool live() const { return kind == Live || kind == Restored; }
  bool has_values() const { return kind != Deleted && kind != RestoredDeletion; }
  // Re-offered after the server lost the versions it came from, with no local change.
  bool restored() const { return kind == Restored || kind == RestoredDeletion; }
};

struct SchemaEntry {
  std::int64_t seq = 0;
  std::int64_t rv = 0;
  std::string kind;
  std::string table;
  std::string detail;
};

struct IdRange {
  std::int64_t first = 0;
  std::int64_t last = 0;  // inclusive
};

struct Renumbering {
  std::int64_t sent = 0;
  std::int64_t stored = 0;
};

// Writes a package section by section. Rows go into the table section opened last.
class PackageWriter {
public:
  void schema(const SchemaEntry &entry);
  void begin_table(const std::string &name, const std::vector<std::string> &columns);
  void row(const RowState &row);
  void echoed(const std::string &table, const std::vector<IdRange> &ranges);
  void renumbered(const std::string &table, const std::vector<Renumbering> &pairs);
  std::size_t size() const { return out_.size(); }
  bool empty() const { return out_.empty(); }
  // Closes any open table section and returns the bytes.
  std::string take();

private:
  void close_table();
  void byte(std::uint8_t value) { out_.push_back(static_cast<char>(value)); }
  void varint(std::uint64_t value);
  void svarint(std::int64_t value);
  void string(std::string_view text);
  void value(const Value &value);

  std::string out_;
  bool in_table_ = false;
  std::string table_;
  std::vector<std::string> columns_;
  std::int64_t previous_recid_ = 0;
};

// Reads a package section by section without materializing it. Throws DecodeError.
class PackageReader {
public:
  enum class Section { End, Schema, Table, Echoed, Renumbered };

  explicit PackageReader(std::string_view bytes) : in_(bytes) {}
  // Moves to the next section, skipping what is left of the current one.
  Section next();
  Section section() const { return section_; }

  const SchemaEntry &schema() const { return schema_; }
  // Table, Echoed and Renumbered sections.
  const std::string &table() const { return table_; }
  const std::vector<std::string> &columns() const { return columns_; }
  // Table sections: the next row (values reuse row's storage); false at the end.
  bool next_row(RowState &row);
  bool next_range(IdRange &range);
  bool next_renumbering(Renumbering &pair);
  // Bytes read so far.
  std::size_t position() const { return pos_; }

private:
  std::uint8_t byte();
  std::uint64_t varint();
  std::int64_t svarint();
  std::int64_t version_number();
  std::string string();
  void value(Value &out);
  void skip_section();

  std::string_view in_;
  std::size_t pos_ = 0;
  Section section_ = Section::End;
  SchemaEntry schema_;
  std::string table_;
  std::vector<std::string> columns_;
  std::int64_t previous_recid_ = 0;
  std::uint64_t pairs_left_ = 0;
  bool rows_left_ = false;
};

// A whole package in memory, for small packages (quarantine, tests, fuzzing).
struct TableSection {
  std::string name;
  std::vector<std::string> columns;
  std::vector<RowState> rows;
};

struct EchoedRanges {
  std::string table;
  std::vector<IdRange> ranges;
};

struct RenumberedRows {
  std::string table;
  std::vector<Renumbering> pairs;
};

struct Package {
  std::vector<SchemaEntry> schema;
  std::vector<TableSection> tables;
  std::vector<EchoedRanges> echoed;
  std::vector<RenumberedRows> renumbered;
  bool empty() const { return schema.empty() && tables.empty() && echoed.empty() && renumbered.empty(); }
};

std::string encode_package(const Package &package);
Package decode_package(std::string_view bytes);

struct Envelope {
  std::string header_json;
  std::string package_bytes;
};

// Returns the envelope bytes; full_size receives the uncompressed payload size.
std::string seal_envelope(const Envelope &envelope, std::size_t *full_size = nullptr);
// Throws PayloadTooLarge when the payload would exceed max_payload bytes, DecodeError
// for anything else malformed. Memory grows with what really inflates, not with
// what the envelope announces.
Envelope open_envelope(std::string_view bytes, std::size_t max_payload, std::size_t *full_size = nullptr);

// A 64-bit digest of bytes (FNV-1a), written as 16 hex digits; not for security, only
// to tell one package from another.
std::string digest_hex(std::string_view bytes);
class Digest {
public:
  void add(std::string_view bytes);
  std::string hex() const;

private:
  std::uint64_t state_ = 14695981039346656037ull;
};

}  // namespace zumero::sync
