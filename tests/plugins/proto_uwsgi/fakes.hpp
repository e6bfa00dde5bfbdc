// A Host and a Transport that record what the code under test does.
#pragma once

#include <sys/uio.h>
#include <unistd.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "trellis/host.hpp"
#include "trellis/protocol.hpp"

namespace trellis::uwsgi::test {

class FakeHost final : public sdk::Host {
 public:
  void log(sdk::LogLevel level, std::string_view message) noexcept override {
    logs.push_back({level, std::string(message)});
  }
  std::span<const std::string> option_values(std::string_view name) const noexcept override {
    auto it = options.find(std::string(name));
    if (it == options.end()) return {};
    return it->second;
  }
  void* shared_memory(std::size_t) noexcept override { return nullptr; }
  sdk::WorkerIdentity worker() const noexcept override { return {}; }
  bool runtime_available(std::uint8_t m) const noexcept override { return runtimes.count(m) != 0; }

  struct Line {
    sdk::LogLevel level;
    std::string text;
  };
  std::vector<Line> logs;
  std::map<std::string, std::vector<std::string>> options;
  std::set<std::uint8_t> runtimes{0};
};

class FakeTransport final : public sdk::Transport {
 public:
  sdk::Status write(std::span<const struct iovec> parts) noexcept override {
    ++writes;
    if (fail_writes) return sdk::Status::closed;
    for (const auto& p : parts) wire.append(static_cast<const char*>(p.iov_base), p.iov_len);
    return sdk::Status::ok;
  }
  sdk::Status send_file(int fd, std::int64_t offset, std::int64_t count) noexcept override {
    ++files;
    std::string buf(static_cast<std::size_t>(count), '\0');
    ssize_t r = pread(fd, buf.data(), buf.size(), offset);
    if (r != count) return sdk::Status::io_error;
    wire += buf;
    return sdk::Status::ok;
  }
  sdk::Status read(char*, std::size_t, std::size_t& got) noexcept override {
    got = 0;
    return sdk::Status::ok;
  }
  const sdk::ConnectionInfo& info() const noexcept override { return conn; }
  void abort() noexcept override { aborted = true; }
  bool aborted = false;

  std::string wire;
  int writes = 0;
  int files = 0;
  bool fail_writes = false;
  sdk::ConnectionInfo conn{"127.0.0.1", "40000", "127.0.0.1", "3031", "127.0.0.1:3031", false};
};

}  // namespace trellis::uwsgi::test
