#include "flock_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace trellis::locks {

using sdk::LogLevel;
using sdk::Status;

namespace {

// An unnamed file in $TMPDIR (else /tmp): O_TMPFILE, or mkstemp + unlink
// where the file system lacks it.
int open_anonymous(std::string& where) {
  const char* env = std::getenv("TMPDIR");
  where = (env && *env) ? env : "/tmp";
  int fd = -1;
#ifdef O_TMPFILE
  fd = ::open(where.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
#endif
  std::string path = where + "/trellis-lock-XXXXXX";
  fd = ::mkostemp(path.data(), O_CLOEXEC);
  if (fd >= 0) ::unlink(path.c_str());
  return fd;
}

}  // namespace

Status FlockLock::init_master() noexcept {
  sdk::Host& host = host_;
  if (master_fd_ >= 0) ::close(master_fd_);
  std::string where;
  master_fd_ = open_anonymous(where);
  if (master_fd_ < 0) {
    host.logf(LogLevel::error, "lock engine flock: cannot create a lock file in %s: %s", where.c_str(),
              std::strerror(errno));
    return Status::io_error;
  }
  // Until init_child() runs (or in a process that never calls it) use the
  // inherited descriptor rather than none.
  fd_ = master_fd_;
  return Status::ok;
}

Status FlockLock::init_child() noexcept {
  if (master_fd_ < 0) return Status::unsupported;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/fd/%d", master_fd_);
  int fd = ::open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    host_.logf(LogLevel::error, "lock engine flock: cannot re-open the lock file (%s): %s", path,
                           std::strerror(errno));
    return Status::io_error;
  }
  if (fd_ >= 0 && fd_ != master_fd_) ::close(fd_);
  fd_ = fd;
  return Status::ok;
}

Status FlockLock::lock() noexcept {
  if (fd_ < 0) return Status::unsupported;
  threads_.lock();
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    int err = errno;
    threads_.unlock();
    host_.logf(LogLevel::error, "lock engine flock: cannot take the lock: %s", std::strerror(err));
    return Status::io_error;
  }
  return Status::ok;
}

void FlockLock::unlock() noexcept {
  if (fd_ < 0) return;
  ::flock(fd_, LOCK_UN);
  threads_.unlock();
}

}  // namespace trellis::locks
