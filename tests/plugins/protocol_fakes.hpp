// A Host and a Transport that record what a protocol plugin's code does:
// shared by the proto_http and proto_uwsgi unit tests.
#pragma once

#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "trellis/host.hpp"
#include "trellis/protocol.hpp"

namespace trellis::test {

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
    if (ended) return sdk::Status::closed;  // nothing may follow write_last()
    for (const auto& p : parts) wire.append(static_cast<const char*>(p.iov_base), p.iov_len);
    return sdk::Status::ok;
  }
  sdk::Status write_last(std::span<const struct iovec> parts) noexcept override {
    sdk::Status st = write(parts);
    if (st == sdk::Status::ok) {
      ended = true;
      ended_at = wire.size();
      ++ends;
    }
    return st;
  }
  sdk::Status send_file(int fd, std::int64_t offset, std::int64_t count) noexcept override {
    ++files;
    if (ended) return sdk::Status::closed;
    std::string buf(static_cast<std::size_t>(count), '\0');
    ssize_t n = ::pread(fd, buf.data(), buf.size(), offset);
    if (n != count) return sdk::Status::io_error;
    wire += buf;
    return sdk::Status::ok;
  }
  // Serves `source` from `read_pos`, at most `max_read` bytes per call.
  sdk::Status read(char* buf, std::size_t size, std::size_t& got) noexcept override {
    got = 0;
    if (!source || read_pos >= source->size()) return sdk::Status::ok;
    std::size_t n = std::min({size, source->size() - read_pos, max_read});
    std::memcpy(buf, source->data() + read_pos, n);
    read_pos += n;
    got = n;
    return sdk::Status::ok;
  }
  const sdk::ConnectionInfo& info() const noexcept override { return conn; }
  void abort() noexcept override { aborted = true; }

  sdk::ConnectionInfo conn{"127.0.0.1", "40000", "127.0.0.1", "3031", "127.0.0.1:3031", false};
  std::string wire;        // every byte written, in order
  int writes = 0;          // write() and write_last() calls
  int files = 0;           // send_file() calls
  int ends = 0;            // successful write_last() calls
  bool ended = false;      // write_last() succeeded: the sending side is closed
  std::size_t ended_at = 0;  // wire.size() when it did
  bool aborted = false;
  bool fail_writes = false;
  const std::string* source = nullptr;  // what read() serves
  std::size_t read_pos = 0;
  std::size_t max_read = SIZE_MAX;
};

}  // namespace trellis::test
