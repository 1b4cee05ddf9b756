#include "sync/protocol.h"

#include <set>

namespace zumero::sync {

bool valid_dbfile_name(const std::string &name, bool for_push) {
  if (name.empty() || name.size() > kMaxDbfileName || name[0] < 'a' || name[0] > 'z') return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  if (name.rfind("zumero_", 0) == 0) {
    static const std::set<std::string> internal = {"zumero_config", "zumero_log", "zumero_users_admin",
                                                   "zumero_users_log"};
    if (!internal.count(name)) return false;
    if (for_push && name == "zumero_log") return false;
  }
  return true;
}

}  // namespace zumero::sync
