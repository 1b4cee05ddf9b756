// Names and limits of the sync protocol shared by client and server (docs/protocol.md).
#pragma once
#include <cstddef>
#include <string>

namespace zumero::sync {

constexpr std::size_t kMaxDbfileName = 128;
constexpr std::size_t kMaxClientId = 64;
constexpr std::size_t kMaxToken = 64;

// ^[a-z][a-z0-9_]*$, at most kMaxDbfileName characters. Names starting with zumero_
// are the server's own: only its internal dbfiles, and zumero_log may only be pulled.
bool valid_dbfile_name(const std::string &name, bool for_push);

}  // namespace zumero::sync
