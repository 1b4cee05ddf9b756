// The server log: every request becomes a row of the zumero table `log` in the dbfile
// zumero_log, written as a server version so clients can sync it like any dbfile.
#pragma once
#include <cstdint>
#include <mutex>
#include <string>

#include "server/storage.h"

namespace zumero::server {

struct LogEntry {
  std::string dbfile;
  std::string url;
  std::string ip_address;
  std::int64_t unix_time = 0;
  std::string scheme;
  std::string username;
  std::int64_t request_size = 0;
  std::int64_t response_size = 0;
  std::int64_t status = 0;
  std::int64_t elapsed = 0;
  std::string constraint_details;
  std::int64_t full_request_size = 0;
  std::int64_t full_response_size = 0;
  std::int64_t txid_max = 0;
};

class ServerLog {
public:
  explicit ServerLog(Storage &store) : store_(store) {}
  void append(const LogEntry &entry);

private:
  Storage &store_;
  std::mutex mutex_;
};

}  // namespace zumero::server
