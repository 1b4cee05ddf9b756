// Serialises syncs of one database file across connections, threads and processes: an
// exclusive flock(2) on a small file next to the database ("<database>-zumero-sync").
// It is released when the holder closes it or dies. SQLite's own locks are POSIX
// locks on the database file itself, which flock neither sees nor disturbs.
#pragma once
#include <string>

namespace zumero::sync {

class FileLock {
public:
  // Waits until the lock is free; a database without a file (":memory:") needs none.
  explicit FileLock(const std::string &database_path);
  ~FileLock();
  FileLock(const FileLock &) = delete;
  FileLock &operator=(const FileLock &) = delete;

private:
  int fd_ = -1;
};

// "device:inode" of a file, empty when it cannot be read.
std::string file_identity(const std::string &path);

}  // namespace zumero::sync
