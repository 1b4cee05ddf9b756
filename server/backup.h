// Scheduled online backups (--backup-dir, --backup-interval, --backup-keep): every
// interval, each dbfile (zumero_log and the internal auth dbfiles included) is copied
// with SQLite's online backup API into <backup-dir>/<dbfile>/<UTC time>.db, and only
// the newest `keep` copies of each dbfile stay. A copy is a consistent snapshot of its
// dbfile: it is taken in one read transaction, and in WAL mode readers never block the
// writers, so pushes go on while it runs. A copy is written under a temporary name and
// renamed when complete, so a backup directory never holds half a copy.
//
// `restore` brings the newest copy of every dbfile (or the newest one taken at or
// before a given time) back into an empty data directory.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>

#include <functional>

#include "server/storage.h"

namespace zumero::server {

struct BackupSettings {
  std::filesystem::path directory;
  std::chrono::seconds interval{0};
  int keep = 7;
  // Told the Unix time of every complete round of backups.
  std::function<void(std::int64_t)> on_complete;
};

class BackupScheduler {
public:
  BackupScheduler(Storage &store, BackupSettings settings) : store_(store), settings_(std::move(settings)) {}
  ~BackupScheduler() { stop(); }
  BackupScheduler(const BackupScheduler &) = delete;
  BackupScheduler &operator=(const BackupScheduler &) = delete;

  // The first backup runs one interval after start().
  void start();
  void stop();
  // Backs up every dbfile now; returns how many were copied.
  int run_once();
  // Unix time of the last complete round of backups; 0 before the first.
  std::int64_t last_backup() const { return last_backup_.load(); }

private:
  void loop();
  void backup_dbfile(const std::string &dbfile, const std::string &stamp);
  void prune(const std::filesystem::path &folder);

  Storage &store_;
  BackupSettings settings_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::atomic<std::int64_t> last_backup_{0};
};

// Copies the newest backup of each dbfile found under `from` (at or before `at`, a
// UTC time as the copies are named, when not empty) into `data_dir`, which must hold no
// dbfile. Returns the number of dbfiles restored. Throws std::runtime_error.
int restore_backup(const std::filesystem::path &from, const std::filesystem::path &data_dir, const std::string &at);

}  // namespace zumero::server
