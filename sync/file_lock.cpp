#include "sync/file_lock.h"

#include <cerrno>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/sql.h"

namespace zumero::sync {

FileLock::FileLock(std::string database_path) {
  if (!database_path.empty()) path_ = database_path + "-zumero-sync";
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

void FileLock::open_file() {
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) fail("invalid_argument", SQLITE_CANTOPEN);
}

void FileLock::lock() {
  if (path_.empty()) return;
  for (;;) {
    if (fd_ < 0) open_file();
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno == EINTR) continue;
      ::close(fd_);
      fd_ = -1;
      fail("invalid_argument", SQLITE_CANTOPEN);
    }
    // The lock file kept open may have been removed or replaced since: a lock on it
    // would exclude no one who opens the file by its name now.
    struct stat held {}, named {};
    if (::fstat(fd_, &held) == 0 && ::stat(path_.c_str(), &named) == 0 && held.st_dev == named.st_dev &&
        held.st_ino == named.st_ino)
      return;
    ::close(fd_);
    fd_ = -1;
  }
}

void FileLock::unlock() {
  if (fd_ >= 0) ::flock(fd_, LOCK_UN);
}

std::string file_identity(const std::string &path) {
  struct stat info {};
  if (path.empty() || ::stat(path.c_str(), &info) != 0) return std::string();
  return std::to_string(static_cast<unsigned long long>(info.st_dev)) + ":" +
         std::to_string(static_cast<unsigned long long>(info.st_ino));
}

}  // namespace zumero::sync
