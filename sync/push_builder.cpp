#include "sync/push_builder.h"

#include <algorithm>
#include <map>

#include "base/catalog.h"
#include "base/sql.h"
#include "base/table_definition.h"
#include "sync/package.h"
#include "sync/row_store.h"

namespace zumero::sync {
namespace {

using Ranges = std::vector<IdRange>;

// Sorted, with overlapping and adjacent ranges joined.
Ranges merge_ranges(Ranges ranges) {
  std::sort(ranges.begin(), ranges.end(), [](const IdRange &a, const IdRange &b) { return a.first < b.first; });
  Ranges merged;
  for (const IdRange &range : ranges) {
    if (!merged.empty() && (merged.back().last == INT64_MAX || range.first <= merged.back().last + 1))
      merged.back().last = std::max(merged.back().last, range.last);
    else
      merged.push_back(range);
  }
  return merged;
}

// Writes sections into parts, cutting a part once it holds part_bytes; a table cut in
// two goes on in the next part under a new section header.
class PartWriter {
public:
  explicit PartWriter(std::size_t part_bytes) : part_bytes_(part_bytes) {}
  void schema(const SchemaEntry &entry) {
    writer_.schema(entry);
    content_ = true;
  }
  void begin_table(const std::string &name, const std::vector<std::string> &columns) {
    table_ = name;
    columns_ = columns;
    writer_.begin_table(name, columns);
  }
  void row(const RowState &row) {
    writer_.row(row);
    content_ = true;
    if (writer_.size() < part_bytes_) return;
    parts_.push_back(writer_.take());
    writer_ = PackageWriter();
    writer_.begin_table(table_, columns_);
    content_ = false;
  }
  std::vector<std::string> take() {
    // A last part that holds only the header of a section without rows adds nothing.
    std::string last = writer_.take();
    if (content_ || parts_.empty()) parts_.push_back(std::move(last));
    return std::move(parts_);
  }

private:
  std::size_t part_bytes_;
  PackageWriter writer_;
  std::vector<std::string> parts_;
  std::string table_;
  std::vector<std::string> columns_;
  bool content_ = false;
};

// A row whose version the server lost carries that version; one no local transaction
// changed since is restored as it was.
void mark_restored(RowStore &store, Statement &changed_locally, std::int64_t restoring_txid, std::int64_t base,
                   RowState &row) {
  std::optional<VersionInfo> version = store.version(row.recid);
  if (!version || version->rv <= base) return;
  row.rv = version->rv;
  changed_locally.bind(1, store.name()).bind(2, row.recid).bind(3, restoring_txid);
  bool changed = changed_locally.step();
  changed_locally.reset();
  if (changed) return;
  if (row.kind == RowState::Live) row.kind = RowState::Restored;
  else if (version->deleted) row.kind = RowState::RestoredDeletion;
}

}  // namespace

std::optional<PushPackage> build_push(sqlite3 *db, const std::string &schema, std::size_t part_bytes,
                                      std::int64_t base, std::int64_t restoring_txid) {
  std::string prefix = quote_identifier(schema) + ".";
  PushPackage package;
  package.last_txid = query_int(db, "SELECT coalesce(max(txid), 0) FROM " + prefix + "\"t$tx\"");
  package.last_seq = query_int(db, "SELECT coalesce(max(seq), 0) FROM " + prefix + "\"t$schema\" WHERE rv IS NULL");
  PartWriter writer(part_bytes);
  bool any = false;
  Statement entries(db, "SELECT kind, coalesce(tbl, ''), detail FROM " + prefix +
                            "\"t$schema\" WHERE rv IS NULL AND seq <= ?1 ORDER BY seq");
  entries.bind(1, package.last_seq);
  while (entries.step()) {
    writer.schema({0, 0, entries.column_text(0), entries.column_text(1), entries.column_text(2)});
    any = true;
  }
  NameMap<Ranges> dirty;
  Statement ranges(db, "SELECT tbl, first, last FROM " + prefix + "\"t$dirty\" WHERE txid <= ?1");
  ranges.bind(1, package.last_txid);
  while (ranges.step()) dirty[ranges.column_text(0)].push_back({ranges.column_int(1), ranges.column_int(2)});
  Statement changed_locally(db, "SELECT 1 FROM " + prefix +
                                   "\"t$dirty\" WHERE tbl = ?1 AND ?2 BETWEEN first AND last AND txid <> ?3 LIMIT 1");
  for (auto &entry : dirty) {
    if (!stored_table_name(db, schema, entry.first)) continue;
    RowStore store(db, schema, entry.first);
    writer.begin_table(store.name(), store.column_names());
    for (const IdRange &range : merge_ranges(entry.second)) {
      store.read_range(range.first, range.last, [&](RowState &row) {
        row.rv = 0;
        if (restoring_txid) mark_restored(store, changed_locally, restoring_txid, base, row);
        writer.row(row);
        any = true;
      });
    }
  }
  if (!any) return std::nullopt;
  package.parts = writer.take();
  Digest digest;
  for (const std::string &part : package.parts) digest.add(part);
  package.digest = digest.hex();
  return package;
}

std::vector<std::string> split_parts(const std::vector<std::string> &parts, std::size_t part_bytes) {
  PartWriter writer(part_bytes);
  for (const std::string &part : parts) {
    PackageReader reader(part);
    for (auto section = reader.next(); section != PackageReader::Section::End; section = reader.next()) {
      if (section == PackageReader::Section::Schema) {
        writer.schema(reader.schema());
      } else if (section == PackageReader::Section::Table) {
        writer.begin_table(reader.table(), reader.columns());
        RowState row;
        while (reader.next_row(row)) writer.row(row);
      }
    }
  }
  return writer.take();
}

}  // namespace zumero::sync
