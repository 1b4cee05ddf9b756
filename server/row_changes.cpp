// Debian's SQLite is built with the preupdate hook; its declaration is behind this macro.
#define SQLITE_ENABLE_PREUPDATE_HOOK 1
#include "server/row_changes.h"

#include <cstring>
#include <vector>

#include "base/sql.h"

namespace zumero::server {
namespace {

constexpr std::string_view kMagic = "ZRC1";
enum ValueType : unsigned char { kNull = 0, kInteger = 1, kReal = 2, kText = 3, kBlob = 4 };

class RecordWriter {
public:
  void raw(std::string_view bytes) { out_.append(bytes); }
  void varint(std::uint64_t value) {
    while (value >= 0x80) {
      out_.push_back(static_cast<char>((value & 0x7f) | 0x80));
      value >>= 7;
    }
    out_.push_back(static_cast<char>(value));
  }
  void signed_varint(std::int64_t value) {
    std::uint64_t bits = static_cast<std::uint64_t>(value);
    varint((bits << 1) ^ (value < 0 ? ~std::uint64_t(0) : 0));
  }
  void bytes(const void *data, std::size_t size) {
    varint(size);
    out_.append(static_cast<const char *>(data), size);
  }
  void text(std::string_view value) { bytes(value.data(), value.size()); }
  void value(sqlite3_value *value);
  std::string take() { return std::move(out_); }

private:
  std::string out_;
};

void RecordWriter::value(sqlite3_value *value) {
  switch (sqlite3_value_type(value)) {
    case SQLITE_INTEGER:
      out_.push_back(static_cast<char>(kInteger));
      signed_varint(sqlite3_value_int64(value));
      break;
    case SQLITE_FLOAT: {
      out_.push_back(static_cast<char>(kReal));
      double number = sqlite3_value_double(value);
      std::uint64_t bits;
      std::memcpy(&bits, &number, sizeof bits);
      for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
      break;
    }
    case SQLITE_TEXT:
      out_.push_back(static_cast<char>(kText));
      bytes(sqlite3_value_text(value), static_cast<std::size_t>(sqlite3_value_bytes(value)));
      break;
    case SQLITE_BLOB:
      out_.push_back(static_cast<char>(kBlob));
      bytes(sqlite3_value_blob(value), static_cast<std::size_t>(sqlite3_value_bytes(value)));
      break;
    default:
      out_.push_back(static_cast<char>(kNull));
  }
}

// Reads a record; every length is checked against what is left.
class RecordReader {
public:
  explicit RecordReader(std::string_view data) : data_(data) {}
  bool at_end() const { return position_ == data_.size(); }
  std::string_view raw(std::size_t size) {
    if (size > data_.size() - position_) malformed();
    std::string_view part = data_.substr(position_, size);
    position_ += size;
    return part;
  }
  std::uint64_t varint() {
    std::uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      unsigned char byte = static_cast<unsigned char>(raw(1)[0]);
      value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return value;
    }
    malformed();
  }
  std::int64_t signed_varint() {
    std::uint64_t bits = varint();
    return static_cast<std::int64_t>((bits >> 1) ^ (~(bits & 1) + 1));
  }
  // A count of items that each take at least one byte.
  std::size_t count() {
    std::uint64_t value = varint();
    if (value > data_.size() - position_) malformed();
    return static_cast<std::size_t>(value);
  }
  std::string_view bytes() { return raw(count()); }
  void bind_value(Statement &statement, int index);

  [[noreturn]] static void malformed() { throw Error(SQLITE_CORRUPT, "zumero: a stored change record is malformed"); }

private:
  std::string_view data_;
  std::size_t position_ = 0;
};

void RecordReader::bind_value(Statement &statement, int index) {
  switch (static_cast<unsigned char>(raw(1)[0])) {
    case kNull:
      statement.bind_null(index);
      break;
    case kInteger:
      statement.bind(index, signed_varint());
      break;
    case kReal: {
      std::string_view part = raw(8);
      std::uint64_t bits = 0;
      for (int i = 0; i < 8; ++i) bits |= static_cast<std::uint64_t>(static_cast<unsigned char>(part[i])) << (8 * i);
      double number;
      std::memcpy(&number, &bits, sizeof number);
      statement.bind(index, number);
      break;
    }
    case kText:
      statement.bind(index, bytes());
      break;
    case kBlob: {
      std::string_view part = bytes();
      statement.bind_blob(index, part.data(), part.size());
      break;
    }
    default:
      malformed();
  }
}

// Writes one table's part: its columns, the rowids now absent, the rows now present.
bool encode_table(sqlite3 *db, const std::string &table, const std::set<std::int64_t> &rowids, RecordWriter &out) {
  Statement select;
  try {
    select = Statement(db, "SELECT rowid, * FROM " + quote_identifier(table) + " WHERE rowid = ?1");
  } catch (const Error &) {
    return false;  // gone, or WITHOUT ROWID
  }
  std::vector<std::int64_t> absent;
  RecordWriter present;
  std::size_t present_count = 0;
  for (std::int64_t rowid : rowids) {
    select.bind(1, rowid);
    if (select.step()) {
      present.signed_varint(rowid);
      for (int i = 1; i < select.column_count(); ++i) present.value(select.column_value(i));
      ++present_count;
    } else {
      absent.push_back(rowid);
    }
    select.reset();
  }
  // Counted once the statement ran: a kept statement prepared before the table gained
  // a column is prepared again, with the new column, only when it is stepped.
  int columns = select.column_count() - 1;
  out.text(table);
  out.varint(static_cast<std::uint64_t>(columns));
  for (int i = 1; i <= columns; ++i) out.text(sqlite3_column_name(select.get(), i));
  out.varint(absent.size());
  for (std::int64_t rowid : absent) out.signed_varint(rowid);
  out.varint(present_count);
  out.raw(present.take());
  return true;
}

struct TablePart {
  std::string name;
  std::vector<std::string> columns;
};

TablePart read_table_header(RecordReader &in) {
  TablePart part;
  part.name = std::string(in.bytes());
  std::size_t columns = in.count();
  for (std::size_t i = 0; i < columns; ++i) part.columns.emplace_back(in.bytes());
  return part;
}

std::string upsert_sql(const TablePart &part) {
  std::string names = "rowid", values = "?1";
  for (std::size_t i = 0; i < part.columns.size(); ++i) {
    names += ", " + quote_identifier(part.columns[i]);
    values += ", ?" + std::to_string(i + 2);
  }
  return "INSERT OR REPLACE INTO " + quote_identifier(part.name) + " (" + names + ") VALUES (" + values + ")";
}

void apply_table(sqlite3 *db, RecordReader &in) {
  TablePart part = read_table_header(in);
  if (part.columns.size() > 2000) RecordReader::malformed();
  Statement remove(db, "DELETE FROM " + quote_identifier(part.name) + " WHERE rowid = ?1");
  for (std::size_t i = 0, n = in.count(); i < n; ++i) {
    remove.bind(1, in.signed_varint());
    remove.run();
  }
  Statement upsert(db, upsert_sql(part));
  for (std::size_t i = 0, n = in.count(); i < n; ++i) {
    upsert.bind(1, in.signed_varint());
    for (std::size_t c = 0; c < part.columns.size(); ++c) in.bind_value(upsert, static_cast<int>(c + 2));
    upsert.run();
  }
}

// Restores a connection setting when the application of a record ends.
class RecursiveTriggersOff {
public:
  explicit RecursiveTriggersOff(sqlite3 *db) : db_(db), was_on_(query_int(db, "PRAGMA recursive_triggers") != 0) {
    if (was_on_) exec(db_, "PRAGMA recursive_triggers = OFF");
  }
  ~RecursiveTriggersOff() {
    if (was_on_) sqlite3_exec(db_, "PRAGMA recursive_triggers = ON", nullptr, nullptr, nullptr);
  }

private:
  sqlite3 *db_;
  bool was_on_;
};

}  // namespace

RowChangeTracker::RowChangeTracker(sqlite3 *db, std::string ignored) : db_(db), ignored_(std::move(ignored)) {
  sqlite3_preupdate_hook(db_, &RowChangeTracker::on_change, this);
}

RowChangeTracker::~RowChangeTracker() { sqlite3_preupdate_hook(db_, nullptr, nullptr); }

void RowChangeTracker::on_change(void *self, sqlite3 *, int op, const char *database, const char *table,
                                 sqlite3_int64 old_rowid, sqlite3_int64 new_rowid) {
  auto *tracker = static_cast<RowChangeTracker *>(self);
  if (std::strcmp(database, "main") != 0 || iequals(table, tracker->ignored_)) return;
  auto &rowids = tracker->touched_[table];
  if (op != SQLITE_INSERT) rowids.insert(old_rowid);
  if (op != SQLITE_DELETE) rowids.insert(new_rowid);
}

std::optional<std::string> encode_changes(sqlite3 *db, const RowChangeTracker &tracker) {
  RecordWriter out;
  out.raw(kMagic);
  out.varint(tracker.touched().size());
  for (const auto &[table, rowids] : tracker.touched())
    if (!encode_table(db, table, rowids, out)) return std::nullopt;
  return out.take();
}

void apply_changes(sqlite3 *db, std::string_view record) {
  // With foreign keys on, a REPLACE would run ON DELETE actions the record already holds.
  if (query_int(db, "PRAGMA foreign_keys") != 0)
    throw Error(SQLITE_MISUSE, "zumero: change records are applied with foreign keys off");
  RecursiveTriggersOff quiet(db);
  RecordReader in(record);
  if (in.raw(kMagic.size()) != kMagic) RecordReader::malformed();
  for (std::size_t i = 0, tables = in.count(); i < tables; ++i) apply_table(db, in);
  if (!in.at_end()) RecordReader::malformed();
}

}  // namespace zumero::server
