// Fakes and drivers shared by the proto_http tests: a Transport that records
// writes and serves reads, a Host that records logs, and a driver that feeds
// a byte string to an HttpSession in a chosen split (whole, byte by byte,
// seeded random) and captures every request and the final verdict.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "http_session.hpp"
#include "trellis/host.hpp"
#include "trellis/protocol.hpp"

namespace trellis::http::test {

class FakeHost final : public sdk::Host {
 public:
  void log(sdk::LogLevel level, std::string_view message) noexcept override {
    logs.emplace_back(level, std::string(message));
  }
  std::span<const std::string> option_values(std::string_view name) const noexcept override {
    auto it = options.find(std::string(name));
    if (it == options.end()) return {};
    return it->second;
  }
  void* shared_memory(std::size_t) noexcept override { return nullptr; }
  sdk::WorkerIdentity worker() const noexcept override { return {}; }
  bool runtime_available(std::uint8_t) const noexcept override { return true; }

  std::map<std::string, std::vector<std::string>> options;
  std::vector<std::pair<sdk::LogLevel, std::string>> logs;
};

class FakeTransport final : public sdk::Transport {
 public:
  sdk::Status write(std::span<const struct iovec> parts) noexcept override {
    ++write_calls;
    if (fail_writes) return sdk::Status::closed;
    for (const auto& p : parts) written.append(static_cast<const char*>(p.iov_base), p.iov_len);
    return sdk::Status::ok;
  }
  sdk::Status send_file(int fd, std::int64_t offset, std::int64_t count) noexcept override {
    std::string tmp(static_cast<std::size_t>(count), '\0');
    ssize_t n = ::pread(fd, tmp.data(), tmp.size(), offset);
    if (n != count) return sdk::Status::io_error;
    written += tmp;
    return sdk::Status::ok;
  }
  sdk::Status read(char* buf, std::size_t size, std::size_t& got) noexcept override {
    got = 0;
    if (!source || read_pos >= source->size()) return sdk::Status::ok;
    std::size_t n = std::min({size, source->size() - read_pos, max_read});
    std::memcpy(buf, source->data() + read_pos, n);
    read_pos += n;
    got = n;
    return sdk::Status::ok;
  }
  const sdk::ConnectionInfo& info() const noexcept override { return ci; }
  void abort() noexcept override { aborted = true; }
  bool aborted = false;

  sdk::ConnectionInfo ci{"10.0.0.7", "50312", "127.0.0.1", "8080", "127.0.0.1:8080", false};
  std::string written;
  int write_calls = 0;
  bool fail_writes = false;
  const std::string* source = nullptr;  // what read() serves
  std::size_t read_pos = 0;
  std::size_t max_read = SIZE_MAX;
};

// A request as the application saw it, copied out of the session.
struct Captured {
  std::string method, uri, path, query, protocol, scheme, server_name, server_port, remote_addr;
  std::vector<std::pair<std::string, std::string>> headers;
  std::int64_t content_length = 0;
  std::string body;
  sdk::Status body_status = sdk::Status::ok;
  bool operator==(const Captured&) const = default;

  std::string header(std::string_view name) const {
    for (const auto& [n, v] : headers)
      if (n.size() == name.size() && std::equal(n.begin(), n.end(), name.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
          }))
        return v;
    return "<none>";
  }
};

inline Captured capture(const sdk::Request& r, bool read_body = true) {
  Captured c{std::string(r.method),      std::string(r.uri),         std::string(r.path),
             std::string(r.query),       std::string(r.protocol),    std::string(r.scheme),
             std::string(r.server_name), std::string(r.server_port), std::string(r.remote_addr)};
  for (const auto& f : r.headers) c.headers.emplace_back(std::string(f.name), std::string(f.value));
  c.content_length = r.content_length;
  if (read_body && r.body) {
    char buf[7];  // odd size: exercises partial reads
    while (true) {
      std::size_t got = 0;
      c.body_status = r.body->read(buf, sizeof buf, got);
      if (c.body_status != sdk::Status::ok || got == 0) break;
      c.body.append(buf, got);
    }
  }
  return c;
}

// The application: by default answers "200 OK" with body "ok".
using Responder = std::function<void(sdk::Request&, sdk::ResponseWriter&)>;

inline void default_responder(sdk::Request&, sdk::ResponseWriter& w) {
  w.start("200 OK", {});
  w.write("ok", true);
}

struct Outcome {
  std::vector<Captured> requests;
  int error_status = 0;  // status of a respond_and_close reply
  bool closed = false;   // the session asked to close (or EOF)
  bool operator==(const Outcome&) const = default;
};

// How input is cut into reads: returns the next read size.
using Splitter = std::function<std::size_t()>;
inline Splitter whole() { return [] { return SIZE_MAX; }; }
inline Splitter bytewise() { return [] { return std::size_t{1}; }; }
inline Splitter random_split(unsigned seed) {
  auto rng = std::make_shared<std::mt19937>(seed);
  return [rng] { return std::uniform_int_distribution<std::size_t>(1, 23)(*rng); };
}

inline SessionConfig default_config() {
  SessionConfig c;
  c.parse.max_head = 32768;
  c.parse.max_fields = 100;
  c.parse.max_body = 0;
  c.post_buffering = 1 << 20;
  return c;
}

struct DriveResult {
  Outcome outcome;
  std::string wire;
};

// Feeds `input` to a fresh session the way the core's event loop would.
inline DriveResult drive(const std::string& input, Splitter split, const SessionConfig& cfg = default_config(),
                         Responder respond = default_responder, bool eof_at_end = true) {
  FakeTransport t;
  DriveResult res;
  HttpSession* s = HttpSession::create(t, cfg);
  std::size_t pos = 0;
  bool done = false;
  auto handle = [&](sdk::Progress p) {
    while (p == sdk::Progress::request_ready) {
      // 100-continue bodies are read through the transport, from the part
      // of the input the loop has not fed yet.
      t.source = &input;
      t.read_pos = pos;
      t.max_read = split();
      Captured c = capture(s->request());
      respond(s->request(), s->response());
      res.outcome.requests.push_back(std::move(c));
      pos = t.read_pos;
      p = s->finish_request();
    }
    if (p == sdk::Progress::respond_and_close) {
      std::string_view out = s->pending_output();
      res.outcome.error_status = out.size() > 12 ? std::stoi(std::string(out.substr(9, 3))) : -1;
      t.written.append(out);
      done = true;
    } else if (p == sdk::Progress::close) {
      res.outcome.closed = true;
      done = true;
    }
  };
  while (!done && pos < input.size()) {
    std::span<char> space = s->read_space();
    if (space.empty()) {
      res.outcome.error_status = -2;  // must never happen while need_more
      break;
    }
    std::size_t n = std::min({split(), space.size(), input.size() - pos});
    std::memcpy(space.data(), input.data() + pos, n);
    pos += n;
    handle(s->on_received(n));
  }
  if (!done && eof_at_end) handle(s->on_eof());
  s->release();
  res.wire = t.written;
  return res;
}

}  // namespace trellis::http::test

namespace trellis::http::test {

inline std::ostream& operator<<(std::ostream& os, const Captured& c) {
  os << "{" << c.method << " uri=" << c.uri << " path=" << c.path << " query=" << c.query << " " << c.protocol
     << " server=" << c.server_name << ":" << c.server_port << " cl=" << c.content_length << " body=[" << c.body
     << "] status=" << static_cast<int>(c.body_status) << " headers=";
  for (const auto& [n, v] : c.headers) os << n << "=" << v << ";";
  return os << "}";
}

inline std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  os << "Outcome{error=" << o.error_status << " closed=" << o.closed << " requests=[";
  for (const auto& r : o.requests) os << r << " ";
  return os << "]}";
}

}  // namespace trellis::http::test
