// Serialises syncs of one database file across connections, threads and processes: an
// exclusive flock(2) on a small file next to the database ("<database>-zumero-sync").
// It is released when the holder unlocks or closes it, or dies. SQLite's own locks are
// POSIX locks on the database file itself, which flock neither sees nor disturbs.
#pragma once
#include <string>

namespace zumero::sync {

// The lock file, kept open between syncs so that taking the lock costs one flock.
// Each FileLock is its own open file description: two of them on one file exclude
// each other even within a process.
class FileLock {
public:
  // A database without a file (":memory:") needs no lock: lock() does nothing then.
  explicit FileLock(std::string database_path);
  ~FileLock();
  FileLock(const FileLock &) = delete;
  FileLock &operator=(const FileLock &) = delete;

  // Waits until the lock is free and takes it; throws zumero:invalid_argument when the
  // lock file cannot be opened.
  void lock();
  void unlock();

private:
  void open_file();
  std::string path_;  // of the lock file; empty without a database file
  int fd_ = -1;
};

// Holds a FileLock for its lifetime.
class FileLockHolder {
public:
  explicit FileLockHolder(FileLock &lock) : lock_(lock) { lock_.lock(); }
  ~FileLockHolder() { lock_.unlock(); }
  FileLockHolder(const FileLockHolder &) = delete;
  FileLockHolder &operator=(const FileLockHolder &) = delete;

private:
  FileLock &lock_;
};

// "device:inode" of a file, empty when it cannot be read.
std::string file_identity(const std::string &path);

}  // namespace zumero::sync
