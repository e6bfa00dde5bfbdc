// A request body too large for memory (beyond post-buffering) goes to an
// anonymous temporary file: O_TMPFILE where the filesystem supports it,
// else mkstemp + unlink, so nothing is left behind even after a crash.
#pragma once

#include <cstddef>
#include <cstdint>

#include <sys/types.h>

namespace trellis::http {

class BodySpool {
 public:
  BodySpool() = default;
  BodySpool(const BodySpool&) = delete;
  BodySpool& operator=(const BodySpool&) = delete;
  ~BodySpool() { close(); }

  bool open() noexcept;  // false with errno set
  bool is_open() const noexcept { return fd_ >= 0; }
  bool append(const char* data, std::size_t n) noexcept;  // false with errno set
  ssize_t read_at(char* buf, std::size_t n, std::uint64_t offset) const noexcept;
  std::uint64_t size() const noexcept { return size_; }
  void close() noexcept;

 private:
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

}  // namespace trellis::http
