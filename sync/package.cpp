#include "sync/package.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <stdexcept>

#include "base/sql.h"

namespace zumero::sync {

// ---- values ---------------------------------------------------------------------

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
    case SQLITE_TEXT: {
      out.type = Text;
      const unsigned char *text = sqlite3_value_text(value);
      if (text) out.bytes.assign(reinterpret_cast<const char *>(text), sqlite3_value_bytes(value));
      break;
    }
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
  int rc = SQLITE_OK;
  switch (type) {
    case Integer: rc = sqlite3_bind_int64(statement, index, integer); break;
    case Real: rc = sqlite3_bind_double(statement, index, real); break;
    case Text:
      rc = sqlite3_bind_text64(statement, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
      break;
    case Blob: rc = sqlite3_bind_blob64(statement, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT); break;
    case Null: rc = sqlite3_bind_null(statement, index); break;
  }
  if (rc != SQLITE_OK) throw Error(rc, std::string("cannot bind a value: ") + sqlite3_errstr(rc));
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

bool identical_rows(const Row &a, const Row &b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!a[i].identical_to(b[i])) return false;
  return true;
}

// ---- writer ----------------------------------------------------------------------

void PackageWriter::varint(std::uint64_t value) {
  while (value >= 0x80) {
    byte(static_cast<std::uint8_t>(value | 0x80));
    value >>= 7;
  }
  byte(static_cast<std::uint8_t>(value));
}

void PackageWriter::svarint(std::int64_t value) {
  std::uint64_t bits = static_cast<std::uint64_t>(value);
  varint((bits << 1) ^ (value < 0 ? ~std::uint64_t{0} : 0));
}

void PackageWriter::string(std::string_view text) {
  varint(text.size());
  out_.append(text.data(), text.size());
}

void PackageWriter::value(const Value &value) {
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

void PackageWriter::close_table() {
  if (!in_table_) return;
  byte(0);
  in_table_ = false;
}

void PackageWriter::schema(const SchemaEntry &entry) {
  close_table();
  byte('S');
  varint(static_cast<std::uint64_t>(entry.seq));
  varint(static_cast<std::uint64_t>(entry.rv));
  string(entry.kind);
  string(entry.table);
  string(entry.detail);
}

void PackageWriter::begin_table(const std::string &name, const std::vector<std::string> &columns) {
  close_table();
  byte('T');
  string(name);
  varint(columns.size());
  for (const std::string &column : columns) string(column);
  in_table_ = true;
  table_ = name;
  columns_ = columns;
  previous_recid_ = 0;
}

void PackageWriter::row(const RowState &row) {
  std::int64_t delta = 0;
  // A difference that does not fit in int64 cannot be encoded: the reader starts from 0
  // again in a new section of the same table.
  if (__builtin_sub_overflow(row.recid, previous_recid_, &delta)) {
    std::string name = table_;
    std::vector<std::string> columns = columns_;
    begin_table(name, columns);
    delta = row.recid;
  }
  byte(row.kind);
  svarint(delta);
  previous_recid_ = row.recid;
  varint(static_cast<std::uint64_t>(row.rv));
  if (row.kind == RowState::History) {
    varint(static_cast<std::uint64_t>(row.end_rv));
    byte(row.deleted_after ? 1 : 0);
  }
  if (row.has_values()) {
    for (size_t i = 0; i < columns_.size(); ++i) value(i < row.values.size() ? row.values[i] : Value());
  }
}

void PackageWriter::echoed(const std::string &table, const std::vector<IdRange> &ranges) {
  close_table();
  byte('E');
  string(table);
  varint(ranges.size());
  for (const IdRange &range : ranges) {
    svarint(range.first);
    varint(static_cast<std::uint64_t>(range.last) - static_cast<std::uint64_t>(range.first));
  }
}

void PackageWriter::renumbered(const std::string &table, const std::vector<Renumbering> &pairs) {
  close_table();
  byte('R');
  string(table);
  varint(pairs.size());
  for (const Renumbering &pair : pairs) {
    svarint(pair.sent);
    svarint(pair.stored);
  }
}

std::string PackageWriter::take() {
  close_table();
  return std::move(out_);
}

// ---- reader ----------------------------------------------------------------------

std::uint8_t PackageReader::byte() {
  if (pos_ >= in_.size()) throw DecodeError("package truncated");
  return static_cast<std::uint8_t>(in_[pos_++]);
}

std::uint64_t PackageReader::varint() {
  std::uint64_t value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    std::uint8_t b = byte();
    std::uint64_t bits = b & 0x7f;
    if (shift == 63 && bits > 1) throw DecodeError("varint too large");
    value |= bits << shift;
    if (!(b & 0x80)) return value;
  }
  throw DecodeError("varint too long");
}

std::int64_t PackageReader::svarint() {
  std::uint64_t raw = varint();
  std::uint64_t magnitude = raw >> 1;
  return static_cast<std::int64_t>((raw & 1) ? ~magnitude : magnitude);
}

std::int64_t PackageReader::version_number() {
  std::uint64_t raw = varint();
  if (raw > static_cast<std::uint64_t>(INT64_MAX)) throw DecodeError("version number out of range");
  return static_cast<std::int64_t>(raw);
}

std::string PackageReader::string() {
  std::uint64_t size = varint();
  if (size > in_.size() - pos_) throw DecodeError("string runs past the end");
  std::string text(in_.substr(pos_, size));
  pos_ += size;
  return text;
}

void PackageReader::value(Value &out) {
  std::uint8_t type = byte();
  out.integer = 0;
  out.real = 0;
  out.bytes.clear();
  switch (type) {
    case Value::Null: break;
    case Value::Integer: out.integer = svarint(); break;
    case Value::Real: {
      std::uint64_t bits = 0;
      for (int i = 0; i < 8; ++i) bits = (bits << 8) | byte();
      std::memcpy(&out.real, &bits, sizeof bits);
      break;
    }
    case Value::Text:
    case Value::Blob: {
      std::uint64_t size = varint();
      if (size > in_.size() - pos_) throw DecodeError("value runs past the end");
      out.bytes.assign(in_.data() + pos_, size);
      pos_ += size;
      break;
    }
    default: throw DecodeError("unknown value type");
  }
  out.type = static_cast<Value::Type>(type);
}

bool PackageReader::next_row(RowState &row) {
  if (section_ != Section::Table || !rows_left_) return false;
  std::uint8_t kind = byte();
  if (kind == 0) {
    rows_left_ = false;
    return false;
  }
  if (kind > RowState::RestoredDeletion) throw DecodeError("unknown row kind");
  row.kind = static_cast<RowState::Kind>(kind);
  std::int64_t delta = svarint();
  if (__builtin_add_overflow(previous_recid_, delta, &row.recid)) throw DecodeError("row identity out of range");
  previous_recid_ = row.recid;
  row.rv = version_number();
  row.end_rv = 0;
  row.deleted_after = false;
  if (row.kind == RowState::History) {
    row.end_rv = version_number();
    std::uint8_t flag = byte();
    if (flag > 1) throw DecodeError("bad deletion flag");
    row.deleted_after = flag == 1;
  }
  if (row.has_values()) {
    row.values.resize(columns_.size());
    for (Value &cell : row.values) value(cell);
  } else {
    row.values.clear();
  }
  return true;
}

bool PackageReader::next_range(IdRange &range) {
  if (section_ != Section::Echoed || pairs_left_ == 0) return false;
  --pairs_left_;
  range.first = svarint();
  __int128 last = static_cast<__int128>(range.first) + varint();
  if (last > INT64_MAX) throw DecodeError("range out of range");
  range.last = static_cast<std::int64_t>(last);
  return true;
}

bool PackageReader::next_renumbering(Renumbering &pair) {
  if (section_ != Section::Renumbered || pairs_left_ == 0) return false;
  --pairs_left_;
  pair.sent = svarint();
  pair.stored = svarint();
  return true;
}

void PackageReader::skip_section() {
  RowState row;
  IdRange range;
  Renumbering pair;
  while (next_row(row)) {
  }
  while (next_range(range)) {
  }
  while (next_renumbering(pair)) {
  }
}

PackageReader::Section PackageReader::next() {
  skip_section();
  if (pos_ >= in_.size()) return section_ = Section::End;
  std::uint8_t tag = byte();
  switch (tag) {
    case 'S':
      schema_.seq = version_number();
      schema_.rv = version_number();
      schema_.kind = string();
      schema_.table = string();
      schema_.detail = string();
      return section_ = Section::Schema;
    case 'T': {
      table_ = string();
      std::uint64_t count = varint();
      if (count == 0 || count > kMaxColumns) throw DecodeError("bad column count");
      // Every name takes at least one byte: the count cannot outrun the input.
      if (count > in_.size() - pos_) throw DecodeError("column names run past the end");
      columns_.clear();
      for (std::uint64_t i = 0; i < count; ++i) columns_.push_back(string());
      previous_recid_ = 0;
      rows_left_ = true;
      return section_ = Section::Table;
    }
    case 'E':
    case 'R':
      table_ = string();
      pairs_left_ = varint();
      if (pairs_left_ > in_.size() - pos_) throw DecodeError("ranges run past the end");
      return section_ = tag == 'E' ? Section::Echoed : Section::Renumbered;
    default: throw DecodeError("unknown package section");
  }
}

// ---- whole packages -----------------------------------------------------------------

std::string encode_package(const Package &package) {
  PackageWriter writer;
  for (const SchemaEntry &entry : package.schema) writer.schema(entry);
  for (const TableSection &table : package.tables) {
    writer.begin_table(table.name, table.columns);
    for (const RowState &row : table.rows) writer.row(row);
  }
  for (const EchoedRanges &echo : package.echoed) writer.echoed(echo.table, echo.ranges);
  for (const RenumberedRows &moved : package.renumbered) writer.renumbered(moved.table, moved.pairs);
  return writer.take();
}

Package decode_package(std::string_view bytes) {
  Package package;
  PackageReader reader(bytes);
  for (auto section = reader.next(); section != PackageReader::Section::End; section = reader.next()) {
    switch (section) {
      case PackageReader::Section::Schema: package.schema.push_back(reader.schema()); break;
      case PackageReader::Section::Table: {
        TableSection table{reader.table(), reader.columns(), {}};
        RowState row;
        while (reader.next_row(row)) table.rows.push_back(row);
        package.tables.push_back(std::move(table));
        break;
      }
      case PackageReader::Section::Echoed: {
        EchoedRanges echo{reader.table(), {}};
        IdRange range;
        while (reader.next_range(range)) echo.ranges.push_back(range);
        package.echoed.push_back(std::move(echo));
        break;
      }
      case PackageReader::Section::Renumbered: {
        RenumberedRows moved{reader.table(), {}};
        Renumbering pair;
        while (reader.next_renumbering(pair)) moved.pairs.push_back(pair);
        package.renumbered.push_back(std::move(moved));
        break;
      }
      case PackageReader::Section::End: break;
    }
  }
  return package;
}

// ---- envelope -------------------------------------------------------------------

namespace {

void put_u32(std::string &out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((value >> shift) & 0xff));
}

std::uint32_t get_u32(std::string_view in, std::size_t at) {
  if (in.size() < at + 4) throw DecodeError("body truncated");
  std::uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value = (value << 8) | static_cast<std::uint8_t>(in[at + i]);
  return value;
}

// Inflates `input` in one pass, giving each piece of output to `sink`; throws unless
// it ends after exactly `expected` bytes.
template <typename Sink>
void inflate_stream(std::string_view input, std::size_t expected, Sink &&sink) {
  z_stream stream{};
  if (inflateInit(&stream) != Z_OK) throw std::bad_alloc();
  struct End {
    z_stream &stream;
    ~End() { inflateEnd(&stream); }
  } end{stream};
  stream.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(input.data()));
  stream.avail_in = static_cast<uInt>(std::min<std::size_t>(input.size(), UINT32_MAX));
  unsigned char scratch[64 * 1024];
  std::size_t produced = 0;
  for (;;) {
    stream.next_out = scratch;
    stream.avail_out = sizeof scratch;
    int rc = inflate(&stream, Z_NO_FLUSH);
    std::size_t got = sizeof scratch - stream.avail_out;
    if (got > expected - produced) throw DecodeError("payload does not decompress to the announced size");
    sink(scratch, got, produced);
    produced += got;
    if (rc == Z_STREAM_END) break;
    if (rc == Z_BUF_ERROR && stream.avail_in == 0) throw DecodeError("payload truncated");
    if (rc != Z_OK && rc != Z_BUF_ERROR) throw DecodeError("payload does not decompress");
  }
  if (produced != expected) throw DecodeError("payload does not decompress to the announced size");
}

// Two passes: the first only checks that the stream really yields `expected` bytes,
// so memory is taken for what truly inflates, once, and never twice at a time.
std::string inflate_exactly(std::string_view input, std::size_t expected) {
  inflate_stream(input, expected, [](const unsigned char *, std::size_t, std::size_t) {});
  std::string out(expected, '\0');
  inflate_stream(input, expected, [&](const unsigned char *data, std::size_t size, std::size_t at) {
    std::memcpy(&out[at], data, size);
  });
  return out;
}

}  // namespace

namespace {

// zlib at level 2, appended to out. A small payload gets a window and hash table just
// large enough for it: setting up the default ones (a few hundred KB) costs more than
// compressing a request header. Any inflate reads the result. compressBound only holds
// for the default window and memory level; with small ones, incompressible data is cut
// into many short stored blocks and comes out larger, so out grows when deflate fills it.
void deflate_into(const std::string &payload, std::string &out) {
  int window_bits = 9;
  while (window_bits < 15 && (std::size_t(1) << window_bits) < payload.size()) ++window_bits;
  int memory_level = std::max(1, std::min(8, window_bits - 7));
  z_stream stream{};
  if (deflateInit2(&stream, 2, Z_DEFLATED, window_bits, memory_level, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::bad_alloc();
  struct End {
    z_stream &stream;
    ~End() { deflateEnd(&stream); }
  } end{stream};
  const std::size_t offset = out.size();
  out.resize(offset + deflateBound(&stream, static_cast<uLong>(payload.size())));
  stream.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(payload.data()));
  stream.avail_in = static_cast<uInt>(payload.size());
  for (;;) {
    const std::size_t written = stream.total_out;
    stream.next_out = reinterpret_cast<Bytef *>(&out[offset + written]);
    stream.avail_out = static_cast<uInt>(out.size() - offset - written);
    int rc = deflate(&stream, Z_FINISH);
    if (rc == Z_STREAM_END) break;
    // With all input given and Z_FINISH, deflate only stops early when out is full.
    if ((rc != Z_OK && rc != Z_BUF_ERROR) || stream.avail_out != 0) throw std::logic_error("zlib deflate failed");
    out.resize(out.size() + (out.size() - offset) / 8 + 64);
  }
  out.resize(offset + stream.total_out);
}

}  // namespace

std::string seal_envelope(const Envelope &envelope, std::size_t *full_size) {
  std::string payload;
  put_u32(payload, static_cast<std::uint32_t>(envelope.header_json.size()));
  payload += envelope.header_json;
  payload += envelope.package_bytes;
  if (payload.size() > UINT32_MAX) throw std::length_error("zumero:payload_too_large");
  if (full_size) *full_size = payload.size();
  std::string out = "ZMRO";
  out.push_back(static_cast<char>(kProtocolVersion));
  out.push_back(1);
  put_u32(out, static_cast<std::uint32_t>(payload.size()));
  deflate_into(payload, out);
  return out;
}

Envelope open_envelope(std::string_view bytes, std::size_t max_payload, std::size_t *full_size) {
  if (bytes.size() < 10 || bytes.substr(0, 4) != "ZMRO") throw DecodeError("not a zumero message");
  if (static_cast<std::uint8_t>(bytes[4]) != kProtocolVersion) throw DecodeError("unsupported protocol version");
  std::uint8_t flags = static_cast<std::uint8_t>(bytes[5]);
  if (flags > 1) throw DecodeError("unknown envelope flags");
  std::uint32_t size = get_u32(bytes, 6);
  if (size > max_payload) throw PayloadTooLarge("payload larger than " + std::to_string(max_payload) + " bytes");
  std::string payload;
  if (flags & 1) {
    payload = inflate_exactly(bytes.substr(10), size);
  } else {
    if (bytes.size() - 10 != size) throw DecodeError("payload length mismatch");
    payload.assign(bytes.substr(10));
  }
  if (full_size) *full_size = payload.size();
  std::uint32_t header_size = get_u32(payload, 0);
  if (header_size > kMaxHeaderBytes) throw DecodeError("header too large");
  if (header_size > payload.size() - 4) throw DecodeError("header runs past the end");
  Envelope envelope;
  envelope.header_json = payload.substr(4, header_size);
  payload.erase(0, 4 + header_size);
  envelope.package_bytes = std::move(payload);
  return envelope;
}

// ---- digest ------------------------------------------------------------------------

void Digest::add(std::string_view bytes) {
  for (unsigned char c : bytes) {
    state_ ^= c;
    state_ *= 1099511628211ull;
  }
}

std::string Digest::hex() const {
  static const char digits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 0; i < 16; ++i) out[15 - i] = digits[(state_ >> (4 * i)) & 15];
  return out;
}

std::string digest_hex(std::string_view bytes) {
  Digest digest;
  digest.add(bytes);
  return digest.hex();
}

}  // namespace zumero::sync
