#include "base/interim.h"

#include "base/sql.h"
#include "base/table_definition.h"

namespace zumero {
void validate_table_name(const std::string &name) {
  if (name.find('$') != std::string::npos) fail("no_dollar_sign_in_table_name");
  if (name == "*" || name.empty()) fail("invalid_argument");
}
bool same_column(const ColumnDefinition &a, const ColumnDefinition &b) {
  return iequals(a.name, b.name) && iequals(a.type, b.type);
}
std::string create_virtual_table_sql(const std::string &schema, const std::string &name, const TableDefinition &table) {
  return create_table_sql(schema, name, table.arguments);
}
bool expression_function_allowed(const std::string &name) {
  static const NameSet functions = {"abs", "lower", "upper", "hex", "randomblob", "random", "length"};
  return functions.count(name) > 0;
}
}  // namespace zumero
