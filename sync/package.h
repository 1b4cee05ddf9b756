// The package codec: the binary form of the changes that travel between client and
// server, and the envelope around every request and reply body.
//
// Envelope (all integers big-endian):
//   bytes 0-3  "ZMRO"
//   byte  4    protocol version (kProtocolVersion)
//   byte  5    flags: bit 0 set = payload is a zlib stream
//   bytes 6-9  payload length once uncompressed (u32)
//   bytes 10-  payload
// Payload: u32 length of a UTF-8 JSON header, the header, then a package (may be empty).
//
// Package: a sequence of sections, each introduced by one byte:
//   'S' schema entry:  varint rv, string kind, string table ("" = none), string detail JSON
//   'T' table:         string name, varint column count, column names (strings),
//                      then rows until a 0 byte:
//                        byte kind: 1 live row, 2 deleted row, 3 history entry
//                        svarint recid delta from the previous row of this table
//                        varint rv (0 = unknown)
//                        kind 3 only: varint end_rv, byte deleted flag
//                        kinds 1 and 3: one value per column
//   'E' echoed ranges: string table, varint count, then count pairs (svarint first, varint length-1)
// varint: unsigned LEB128. svarint: zigzag then varint. string: varint length, bytes.
// value: byte type (0 null, 1 integer, 2 real, 3 text, 4 blob); integer: svarint;
//   real: 8 bytes IEEE-754 big-endian; text and blob: varint length, bytes.
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

constexpr std::uint8_t kProtocolVersion = 1;

// Raised for any malformed, truncated or unknown input.
class DecodeError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct Value {
  enum Type : std::uint8_t { Null = 0, Integer = 1, Real = 2, Text = 3, Blob = 4 };
  Type type = Null;
  std::int64_t integer = 0;
  double real = 0;
  std::string bytes;

  static Value from_sqlite(sqlite3_value *value);
  static Value from_column(sqlite3_stmt *statement, int column);
  void bind(sqlite3_stmt *statement, int index) const;
  // Same value: NULL is NULL, numbers compare by value, text and blob by bytes and type.
  bool same_as(const Value &other) const;
};

using Row = std::vector<Value>;

struct RowState {
  enum Kind : std::uint8_t { Live = 1, Deleted = 2, History = 3 };
  Kind kind = Live;
  std::int64_t recid = 0;
  std::int64_t rv = 0;
  std::int64_t end_rv = 0;    // History only
  bool deleted_after = false;  // History only: the version ended by a deletion
  Row values;                 // Live and History
};

struct TableSection {
  std::string name;
  std::vector<std::string> columns;
  std::vector<RowState> rows;
};

struct SchemaEntry {
  std::int64_t rv = 0;
  std::string kind;
  std::string table;
  std::string detail;
};

struct EchoedRanges {
  std::string table;
  std::vector<std::pair<std::int64_t, std::int64_t>> ranges;  // inclusive first, last
};

struct Package {
  std::vector<SchemaEntry> schema;
  std::vector<TableSection> tables;
  std::vector<EchoedRanges> echoed;
  bool empty() const { return schema.empty() && tables.empty() && echoed.empty(); }
};

std::string encode_package(const Package &package);
Package decode_package(std::string_view bytes);

struct Envelope {
  std::string header_json;
  std::string package_bytes;
};

// Returns the envelope bytes; full_size receives the uncompressed payload size.
std::string seal_envelope(const Envelope &envelope, std::size_t *full_size = nullptr);
Envelope open_envelope(std::string_view bytes, std::size_t *full_size = nullptr);

}  // namespace zumero::sync
