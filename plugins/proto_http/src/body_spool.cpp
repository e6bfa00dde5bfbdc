#include "body_spool.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

namespace trellis::http {

bool BodySpool::open() noexcept {
  close();
  const char* dir = std::getenv("TMPDIR");
  if (!dir || !*dir) dir = "/tmp";
  fd_ = ::open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    // Filesystems without O_TMPFILE (EOPNOTSUPP/EISDIR): name it, unlink it.
    std::string path;
    try {
      path = std::string(dir) + "/trellis-body-XXXXXX";
    } catch (...) {
      errno = ENOMEM;
      return false;
    }
    fd_ = ::mkostemp(path.data(), O_CLOEXEC);
    if (fd_ < 0) return false;
    ::unlink(path.c_str());
  }
  size_ = 0;
  return true;
}

bool BodySpool::append(const char* data, std::size_t n) noexcept {
  while (n > 0) {
    ssize_t w = ::write(fd_, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += w;
    n -= static_cast<std::size_t>(w);
    size_ += static_cast<std::uint64_t>(w);
  }
  return true;
}

ssize_t BodySpool::read_at(char* buf, std::size_t n, std::uint64_t offset) const noexcept {
  while (true) {
    ssize_t r = ::pread(fd_, buf, n, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    return r;
  }
}

void BodySpool::close() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  size_ = 0;
}

}  // namespace trellis::http
