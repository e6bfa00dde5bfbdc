#include "logging/appending_file_sink.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace trellis::log {

namespace {
int open_append(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}
}  // namespace

AppendingFileSink::AppendingFileSink(std::string path) : path_(std::move(path)) {
  fd_ = open_append(path_);
  if (fd_ < 0) throw std::runtime_error("cannot open log file " + path_ + ": " + std::strerror(errno));
}

AppendingFileSink::~AppendingFileSink() {
  if (fd_ >= 0) ::close(fd_);
}

void AppendingFileSink::reopen() {
  std::lock_guard<std::mutex> lock(mutex_);
  int fresh = open_append(path_);
  if (fresh < 0) return;  // keep writing to the old file rather than lose lines
  ::dup3(fresh, fd_, O_CLOEXEC);
  ::close(fresh);
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

void AppendingFileSink::sink_it_(const spdlog::details::log_msg& msg) {
  spdlog::memory_buf_t line;
  formatter_->format(msg, line);
  write_line(fd_, line.data(), line.size());
}

}  // namespace trellis::log
