#include "server/backup.h"

#include <algorithm>
#include <ctime>
#include <vector>

#include "base/sql.h"
#include "server/logging.h"
#include "sync/protocol.h"

namespace zumero::server {
namespace {

namespace fs = std::filesystem;

// 20261201T101500Z: sorts by time, and names a copy taken at most once a second.
std::string utc_stamp() {
  std::time_t now = std::time(nullptr);
  std::tm parts{};
  gmtime_r(&now, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &parts);
  return text;
}

bool is_dbfile_copy(const fs::path &path) {
  return path.extension() == ".db" && path.filename().string().front() != '.';
}

}  // namespace

void BackupScheduler::start() {
  if (settings_.interval.count() <= 0 || settings_.directory.empty()) return;
  fs::create_directories(settings_.directory);
  thread_ = std::thread([this] { loop(); });
}

void BackupScheduler::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void BackupScheduler::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    if (wake_.wait_for(lock, settings_.interval, [&] { return stopping_; })) return;
    lock.unlock();
    try {
      run_once();
    } catch (const std::exception &failure) {
      log_error("backup failed: ", failure.what());
    }
    lock.lock();
  }
}

int BackupScheduler::run_once() {
  std::string stamp = utc_stamp();
  int copied = 0;
  for (const std::string &dbfile : store_.list()) {
    try {
      backup_dbfile(dbfile, stamp);
      ++copied;
    } catch (const std::exception &failure) {
      log_error("backup of ", dbfile, " failed: ", failure.what());
    }
  }
  last_backup_ = static_cast<std::int64_t>(std::time(nullptr));
  if (settings_.on_complete) settings_.on_complete(last_backup_);
  log_info("backed up ", copied, " dbfiles into ", settings_.directory.string());
  return copied;
}

void BackupScheduler::backup_dbfile(const std::string &dbfile, const std::string &stamp) {
  fs::path folder = settings_.directory / dbfile;
  fs::create_directories(folder);
  fs::path target = folder / (stamp + ".db");
  // Hidden and without the .db ending until complete, so nothing mistakes it for a copy.
  fs::path partial = folder / ("." + stamp + ".partial");
  fs::remove(partial);
  store_.backup(dbfile, partial);
  fs::rename(partial, target);
  prune(folder);
}

void BackupScheduler::prune(const fs::path &folder) {
  std::vector<fs::path> copies;
  for (const auto &entry : fs::directory_iterator(folder))
    if (is_dbfile_copy(entry.path())) copies.push_back(entry.path());
  std::sort(copies.begin(), copies.end());
  while (static_cast<int>(copies.size()) > std::max(settings_.keep, 1)) {
    fs::remove(copies.front());
    copies.erase(copies.begin());
  }
}

int restore_backup(const fs::path &from, const fs::path &data_dir, const std::string &at) {
  if (!fs::is_directory(from)) throw std::runtime_error("'" + from.string() + "' is not a backup directory");
  fs::create_directories(data_dir);
  for (const auto &entry : fs::directory_iterator(data_dir))
    if (entry.path().extension() == ".db")
      throw std::runtime_error("the data directory already holds dbfiles; restore into an empty one");
  int restored = 0;
  for (const auto &folder : fs::directory_iterator(from)) {
    std::string dbfile = folder.path().filename().string();
    if (!folder.is_directory() || !sync::valid_dbfile_name(dbfile, false)) continue;
    std::vector<fs::path> copies;
    for (const auto &entry : fs::directory_iterator(folder.path()))
      if (is_dbfile_copy(entry.path()) && (at.empty() || entry.path().stem().string() <= at))
        copies.push_back(entry.path());
    if (copies.empty()) continue;
    fs::path newest = *std::max_element(copies.begin(), copies.end());
    fs::path partial = data_dir / ("." + dbfile + ".restoring");
    copy_database_file(newest, partial);
    fs::rename(partial, data_dir / (dbfile + ".db"));
    ++restored;
  }
  return restored;
}

}  // namespace zumero::server
