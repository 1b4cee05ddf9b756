// Settings of one zumero-server process, filled from the command line and the
// environment. The sync service receives a reference that stays valid for the
// lifetime of the service.
#pragma once

#include "server/logging.h"

#include <cstddef>
#include <filesystem>
#include <string>

namespace zumero::server {

struct ServerConfig {
  // Directory holding the server's databases; created at startup when missing.
  // Always absolute once the server has started.
  std::filesystem::path data_dir = "./zumero-data";

  // Address to listen on. Port 0 picks a free port; `listen_port` then holds the
  // port actually bound once the server is listening.
  std::string listen_host = "127.0.0.1";
  int listen_port = 8080;

  // The --metrics-listen address: plain HTTP, GET /metrics and /status without
  // credentials, for a private network only. Port -1: none; 0 picks a free port.
  std::string metrics_listen_host;
  int metrics_listen_port = -1;

  // PEM files for HTTPS; both empty means plain HTTP.
  std::string tls_cert_file;
  std::string tls_key_file;

  LogLevel log_level = LogLevel::info;

  // Request bodies larger than this are refused with HTTP 413.
  std::size_t max_body_bytes = std::size_t(64) << 20;

  // Largest uncompressed payload the sync service accepts in one request.
  std::size_t max_payload_bytes = std::size_t(16) << 20;

  // The largest package one push may carry across all its parts.
  std::size_t max_push_bytes = std::size_t(256) << 20;

  // How long slow or silent clients may hold a connection (see README, "Running
  // the server"). Seconds.
  //   header_timeout: from the connection's start (TLS handshake included), or from
  //     the first byte of a later request on it, to the end of the request headers.
  //   keep_alive_timeout: how long an idle connection waits for its next request.
  //   transfer_timeout, min_transfer_rate (bytes per second): a request body must
  //     arrive, and a response leave, within transfer_timeout plus one second per
  //     min_transfer_rate bytes.
  double header_timeout = 5;
  double keep_alive_timeout = 5;
  double transfer_timeout = 10;
  std::size_t min_transfer_rate = 16384;

  // Connections served at once, each by its own thread. When all are taken, a new
  // connection closes the one that has waited longest for a request.
  std::size_t max_connections = 512;

  // Target size of one pull response chunk, for the sync service.
  std::size_t pull_chunk_bytes = std::size_t(4) << 20;

  // Failed authentications for one user or address before answers slow down, and
  // the longest delay then (milliseconds).
  int auth_throttle_after = 5;
  int auth_throttle_max_ms = 3000;

  // Where dbfiles live: empty for SQLite files under data_dir, or a postgresql://
  // connection URI (data_dir then holds this node's disposable copies).
  std::string store;

  // Scheduled online backups: every backup_interval seconds (0: none) into
  // backup_dir, keeping the newest backup_keep copies of each dbfile.
  std::filesystem::path backup_dir;
  long backup_interval = 0;
  int backup_keep = 7;

  // Remote read-only queries (POST /query): most rows in one answer, longest run.
  std::size_t query_max_rows = 10000;
  int query_timeout_ms = 2000;

  // Refuse plain HTTP: the server must serve HTTPS.
  bool require_tls = false;

  // Administrator password (--admin-password or ZUMERO_ADMIN_PASSWORD); empty when unset.
  std::string admin_password;

  // Enables debug-only routes (environment ZUMERO_TEST_HOOKS=1). Never on in production.
  bool test_hooks = false;

  bool tls() const { return !tls_cert_file.empty(); }
  bool metrics_listener() const { return metrics_listen_port >= 0; }
};

}  // namespace zumero::server
