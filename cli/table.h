// Prints rows as an aligned text table, as a shell user reads them:
//   title  | stars
//   -------+------
//   sqlite | 4
#pragma once
#include <ostream>
#include <string>
#include <vector>

namespace zumero::cli {

class TextTable {
public:
  explicit TextTable(std::vector<std::string> columns) : columns_(std::move(columns)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::size_t size() const { return rows_.size(); }
  void print(std::ostream &out) const;

private:
  std::vector<std::string> columns_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace zumero::cli
