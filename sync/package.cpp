#include "sync/package.h"

#include <zlib.h>

#include <cstring>

namespace zumero::sync {
namespace {

class Writer {
public:
  void byte(std::uint8_t value) { out_.push_back(static_cast<char>(value)); }
  void varint(std::uint64_t value) {
    while (value >= 0x80) {
      byte(static_cast<std::uint8_t>(value | 0x80));
      value >>= 7;
    }
    byte(static_cast<std::uint8_t>(value));
  }
  void svarint(std::int64_t value) {
    varint((static_cast<std::uint64_t>(value) << 1) ^ static_cast<std::uint64_t>(value >> 63));
  }
  void string(std::string_view text) {
    varint(text.size());
    out_.append(text.data(), text.size());
  }
  void value(const Value &value) {
    byte(value.type);
    switch (value.type) {
      case Value::Integer: svarint(value.integer); break;
      case Value::Real: {
        std::uint64_t bits;
        std::memcpy(&bits, &value.real, sizeof bits);
        for (int shift = 56; shift >= 0; shift -= 8) byte(static_cast<std::uint8_t>(bits >> shift));
        break;
      }
      case Value::Text:
      case Value::Blob: string(value.bytes); break;
      case Value::Null: break;
    }
  }
  std::string take() { return std::move(out_); }

private:
  std::string out_;
};

class Reader {
public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool done() const { return pos_ >= in_.size(); }
  std::uint8_t byte() {
    if (pos_ >= in_.size()) throw DecodeError("package truncated");
    return static_cast<std::uint8_t>(in_[pos_++]);
  }
  std::uint64_t varint() {
    std::uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      std::uint8_t b = byte();
      value |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return value;
    }
    throw DecodeError("varint too long");
  }
  std::int64_t svarint() {
    std::uint64_t raw = varint();
    return static_cast<std::int64_t>((raw >> 1) ^ (~(raw & 1) + 1));
  }
  std::string string() {
    std::uint64_t size = varint();
    if (size > in_.size() - pos_) throw DecodeError("string runs past the end");
    std::string text(in_.substr(pos_, size));
    pos_ += size;
    return text;
  }
  Value value() {
    Value value;
    std::uint8_t type = byte();
    switch (type) {
      case Value::Null: break;
      case Value::Integer: value.integer = svarint(); break;
      case Value::Real: {
        std::uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | byte();
        std::memcpy(&value.real, &bits, sizeof bits);
        break;
      }
      case Value::Text:
      case Value::Blob: value.bytes = string(); break;
      default: throw DecodeError("unknown value type");
    }
    value.type = static_cast<Value::Type>(type);
    return value;
  }

private:
  std::string_view in_;
  std::size_t pos_ = 0;
};

void encode_table(Writer &writer, const TableSection &table) {
  writer.byte('T');
  writer.string(table.name);
  writer.varint(table.columns.size());
  for (const std::string &column : table.columns) writer.string(column);
  std::int64_t previous = 0;
  for (const RowState &row : table.rows) {
    writer.byte(row.kind);
    writer.svarint(row.recid - previous);
    previous = row.recid;
    writer.varint(static_cast<std::uint64_t>(row.rv));
    if (row.kind == RowState::History) {
      writer.varint(static_cast<std::uint64_t>(row.end_rv));
      writer.byte(row.deleted_after ? 1 : 0);
    }
    if (row.kind != RowState::Deleted) {
      for (const Value &value : row.values) writer.value(value);
    }
  }
  writer.byte(0);
}

TableSection decode_table(Reader &reader) {
  TableSection table;
  table.name = reader.string();
  std::uint64_t count = reader.varint();
  if (count > 32767) throw DecodeError("too many columns");
  for (std::uint64_t i = 0; i < count; ++i) table.columns.push_back(reader.string());
  std::int64_t previous = 0;
  for (std::uint8_t kind = reader.byte(); kind != 0; kind = reader.byte()) {
    if (kind > RowState::History) throw DecodeError("unknown row kind");
    RowState row;
    row.kind = static_cast<RowState::Kind>(kind);
    row.recid = previous + reader.svarint();
    previous = row.recid;
    row.rv = static_cast<std::int64_t>(reader.varint());
    if (row.kind == RowState::History) {
      row.end_rv = static_cast<std::int64_t>(reader.varint());
      row.deleted_after = reader.byte() != 0;
    }
    if (row.kind != RowState::Deleted) {
      row.values.reserve(count);
      for (std::uint64_t i = 0; i < count; ++i) row.values.push_back(reader.value());
    }
    table.rows.push_back(std::move(row));
  }
  return table;
}

void put_u32(std::string &out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((value >> shift) & 0xff));
}

std::uint32_t get_u32(std::string_view in, std::size_t at) {
  if (in.size() < at + 4) throw DecodeError("body truncated");
  std::uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value = (value << 8) | static_cast<std::uint8_t>(in[at + i]);
  return value;
}

}  // namespace

Value Value::from_sqlite(sqlite3_value *value) {
  Value out;
  switch (sqlite3_value_type(value)) {
    case SQLITE_INTEGER:
      out.type = Integer;
      out.integer = sqlite3_value_int64(value);
      break;
    case SQLITE_FLOAT:
      out.type = Real;
      out.real = sqlite3_value_double(value);
      break;
    case SQLITE_TEXT:
      out.type = Text;
      out.bytes.assign(reinterpret_cast<const char *>(sqlite3_value_text(value)), sqlite3_value_bytes(value));
      break;
    case SQLITE_BLOB: {
      out.type = Blob;
      const void *data = sqlite3_value_blob(value);
      if (data) out.bytes.assign(static_cast<const char *>(data), sqlite3_value_bytes(value));
      break;
    }
    default: break;
  }
  return out;
}

Value Value::from_column(sqlite3_stmt *statement, int column) {
  return from_sqlite(sqlite3_column_value(statement, column));
}

void Value::bind(sqlite3_stmt *statement, int index) const {
  switch (type) {
    case Integer: sqlite3_bind_int64(statement, index, integer); break;
    case Real: sqlite3_bind_double(statement, index, real); break;
    case Text:
      sqlite3_bind_text(statement, index, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
      break;
    case Blob:
      sqlite3_bind_blob(statement, index, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
      break;
    case Null: sqlite3_bind_null(statement, index); break;
  }
}

bool Value::same_as(const Value &other) const {
  bool numeric = (type == Integer || type == Real) && (other.type == Integer || other.type == Real);
  if (numeric) {
    if (type == Integer && other.type == Integer) return integer == other.integer;
    double a = type == Integer ? static_cast<double>(integer) : real;
    double b = other.type == Integer ? static_cast<double>(other.integer) : other.real;
    return a == b;
  }
  return type == other.type && bytes == other.bytes;
}

std::string encode_package(const Package &package) {
  Writer writer;
  for (const SchemaEntry &entry : package.schema) {
    writer.byte('S');
    writer.varint(static_cast<std::uint64_t>(entry.rv));
    writer.string(entry.kind);
    writer.string(entry.table);
    writer.string(entry.detail);
  }
  for (const TableSection &table : package.tables) encode_table(writer, table);
  for (const EchoedRanges &echo : package.echoed) {
    writer.byte('E');
    writer.string(echo.table);
    writer.varint(echo.ranges.size());
    for (const auto &range : echo.ranges) {
      writer.svarint(range.first);
      writer.varint(static_cast<std::uint64_t>(range.second - range.first));
    }
  }
  return writer.take();
}

Package decode_package(std::string_view bytes) {
  Package package;
  Reader reader(bytes);
  while (!reader.done()) {
    std::uint8_t section = reader.byte();
    if (section == 'S') {
      SchemaEntry entry;
      entry.rv = static_cast<std::int64_t>(reader.varint());
      entry.kind = reader.string();
      entry.table = reader.string();
      entry.detail = reader.string();
      package.schema.push_back(std::move(entry));
    } else if (section == 'T') {
      package.tables.push_back(decode_table(reader));
    } else if (section == 'E') {
      EchoedRanges echo;
      echo.table = reader.string();
      std::uint64_t count = reader.varint();
      for (std::uint64_t i = 0; i < count; ++i) {
        std::int64_t first = reader.svarint();
        std::int64_t length = static_cast<std::int64_t>(reader.varint());
        echo.ranges.emplace_back(first, first + length);
      }
      package.echoed.push_back(std::move(echo));
    } else {
      throw DecodeError("unknown package section");
    }
  }
  return package;
}

std::string seal_envelope(const Envelope &envelope, std::size_t *full_size) {
  std::string payload;
  put_u32(payload, static_cast<std::uint32_t>(envelope.header_json.size()));
  payload += envelope.header_json;
  payload += envelope.package_bytes;
  if (full_size) *full_size = payload.size();
  uLongf bound = compressBound(payload.size());
  std::string out = "ZMRO";
  out.push_back(static_cast<char>(kProtocolVersion));
  out.push_back(1);
  put_u32(out, static_cast<std::uint32_t>(payload.size()));
  std::size_t offset = out.size();
  out.resize(offset + bound);
  int rc = compress2(reinterpret_cast<Bytef *>(&out[offset]), &bound,
                     reinterpret_cast<const Bytef *>(payload.data()), payload.size(), 2);
  if (rc != Z_OK) throw std::runtime_error("compression failed");
  out.resize(offset + bound);
  return out;
}

Envelope open_envelope(std::string_view bytes, std::size_t *full_size) {
  if (bytes.size() < 10 || bytes.substr(0, 4) != "ZMRO") throw DecodeError("not a zumero message");
  if (static_cast<std::uint8_t>(bytes[4]) != kProtocolVersion) throw DecodeError("unsupported protocol version");
  std::uint8_t flags = static_cast<std::uint8_t>(bytes[5]);
  std::uint32_t size = get_u32(bytes, 6);
  std::string payload;
  if (flags & 1) {
    if (size > (1u << 31)) throw DecodeError("payload too large");
    payload.resize(size);
    uLongf length = size;
    int rc = uncompress(reinterpret_cast<Bytef *>(payload.data()), &length,
                        reinterpret_cast<const Bytef *>(bytes.data() + 10), bytes.size() - 10);
    if (rc != Z_OK || length != size) throw DecodeError("payload does not decompress");
  } else {
    payload.assign(bytes.substr(10));
    if (payload.size() != size) throw DecodeError("payload length mismatch");
  }
  if (full_size) *full_size = payload.size();
  std::uint32_t header_size = get_u32(payload, 0);
  if (header_size > payload.size() - 4) throw DecodeError("header runs past the end");
  Envelope envelope;
  envelope.header_json = payload.substr(4, header_size);
  envelope.package_bytes = payload.substr(4 + header_size);
  return envelope;
}

}  // namespace zumero::sync
