#include "logging/log_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace trellis::log {

bool point_stdio_at(const std::string& path) noexcept {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  // dup2 replaces each descriptor in one step: no line is ever lost
  // between the old file and the new one (logrotate's rename-then-USR1).
  bool ok = ::dup2(fd, STDOUT_FILENO) >= 0 && ::dup2(fd, STDERR_FILENO) >= 0;
  int err = errno;
  ::close(fd);
  errno = err;
  return ok;
}

void write_line(int fd, const char* data, std::size_t size) noexcept {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere to report a failing log
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

}  // namespace trellis::log
