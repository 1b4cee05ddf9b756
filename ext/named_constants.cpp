#include "ext/named_constants.h"

#include <map>

namespace zumero {

std::optional<NamedConstant> find_named_constant(const std::string &name) {
  static const std::map<std::string, NamedConstant> constants = {
      {"action_default", action::kDefault},
      {"action_accept", action::kAccept},
      {"action_ignore", action::kIgnore},
      {"action_reject", action::kReject},
      {"action_column_merge", action::kColumnMerge},
      {"action_attempt_text_merge", action::kAttemptTextMerge},
      {"situation_del_after_mod", situation::kDelAfterMod},
      {"situation_mod_after_del", situation::kModAfterDel},
      {"situation_mod_after_mod", situation::kModAfterMod},
      {"acl_who_anyone", std::string("anyone")},
      {"acl_who_any_authenticated_user", std::string("any_authenticated_user")},
      {"acl_who_specific_user", std::string("user:")},
      {"acl_who_specific_group", std::string("group:")},
      {"acl_op_pull", std::string("pull")},
      {"acl_op_auth_add_user", std::string("auth_add_user")},
      {"acl_op_auth_set_password", std::string("auth_set_password")},
      {"acl_op_auth_set_acl_entry", std::string("auth_set_acl_entry")},
      {"acl_op_create_table", std::string("create_table")},
      {"acl_op_tbl_add_row", std::string("tbl_add_row")},
      {"acl_op_tbl_modify_row", std::string("tbl_modify_row")},
      {"acl_op_tbl_add_column", std::string("tbl_add_column")},
      {"acl_op_add_rule", std::string("add_rule")},
      {"acl_op_create_dbfile", std::string("create_dbfile")},
      {"acl_op_get_storage_usage", std::string("get_storage_usage")},
      // Spellings the guide also uses for the same operations.
      {"acl_tbl_op_add_column", std::string("tbl_add_column")},
      {"acl_op_set_acl_entry", std::string("auth_set_acl_entry")},
      {"acl_result_deny", std::string("deny")},
      {"acl_result_allow", std::string("allow")},
  };
  auto found = constants.find(name);
  if (found == constants.end()) return std::nullopt;
  return found->second;
}

}  // namespace zumero
