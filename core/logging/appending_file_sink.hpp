// A file sink that many processes can share: every line is one write(2) to
// an O_APPEND descriptor, so lines from concurrent workers never interleave,
// and reopen() swaps the descriptor in place for logrotate.
#pragma once

#include <spdlog/sinks/base_sink.h>

#include <mutex>
#include <string>

namespace trellis::log {

// Writes a whole formatted line with as few write(2) calls as the kernel
// allows (one, in practice): never interleaved with other processes' lines.
void write_line(int fd, const char* data, std::size_t size) noexcept;

class AppendingFileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit AppendingFileSink(std::string path);  // throws std::runtime_error
  ~AppendingFileSink() override;
  void reopen();
  int fd() const { return fd_; }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override {}

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace trellis::log
