#include "cli/table.h"

#include <algorithm>

namespace zumero::cli {
namespace {

// Width on a terminal: UTF-8 continuation bytes take no column.
std::size_t display_width(const std::string &text) {
  std::size_t width = 0;
  for (unsigned char c : text)
    if ((c & 0xC0) != 0x80) ++width;
  return width;
}

// One line per cell: newlines and tabs would break the columns.
std::string one_line(const std::string &text) {
  std::string out;
  for (char c : text) out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  return out;
}

}  // namespace

void TextTable::print(std::ostream &out) const {
  std::vector<std::vector<std::string>> cells;
  cells.push_back(columns_);
  for (const auto &row : rows_) cells.push_back(row);
  std::vector<std::size_t> widths(columns_.size(), 0);
  for (auto &row : cells) {
    row.resize(columns_.size());
    for (std::size_t i = 0; i < row.size(); ++i) {
      row[i] = one_line(row[i]);
      widths[i] = std::max(widths[i], display_width(row[i]));
    }
  }
  auto print_row = [&](const std::vector<std::string> &row) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (i) line += " | ";
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - display_width(row[i]), ' ');
    }
    out << line << '\n';
  };
  print_row(cells[0]);
  std::string rule;
  for (std::size_t i = 0; i < widths.size(); ++i) rule += (i ? "-+-" : "") + std::string(widths[i], '-');
  out << rule << '\n';
  for (std::size_t r = 1; r < cells.size(); ++r) print_row(cells[r]);
}

}  // namespace zumero::cli
