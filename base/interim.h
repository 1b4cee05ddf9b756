// Stand-ins until the definition parser provides these (merged from its branch).
#pragma once
#include <string>

#include "base/column_parser.h"

namespace zumero {
void validate_table_name(const std::string &name);
bool same_column(const ColumnDefinition &a, const ColumnDefinition &b);
std::string create_virtual_table_sql(const std::string &schema, const std::string &name, const TableDefinition &table);
bool expression_function_allowed(const std::string &name);
}  // namespace zumero
