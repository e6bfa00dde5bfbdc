// Drivers shared by the proto_http tests (the fake core is
// ../fake_host.hpp): feed a byte string to an HttpSession in a chosen split
// (whole, byte by byte, seeded random) the way the core's event loop would,
// play a runtime on the streams it opens, and capture every request and
// the final verdict.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "../fake_host.hpp"
#include "http_session.hpp"
#include "response_encoder.hpp"

namespace trellis::http::test {

using trellis::test::FakeConnection;
using trellis::test::FakeHost;
using trellis::test::FakeStream;

// A request as the runtime saw it (sdk::Request over the core's copy).
struct Captured {
  std::string method, uri, path, query, protocol, scheme, server_name, server_port, remote_addr, upgrade;
  std::vector<std::pair<std::string, std::string>> headers;
  std::int64_t content_length = 0;
  std::uint32_t flags = 0;
  std::string body;
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

inline Captured capture(FakeHost& host, FakeStream& s) {
  sdk::Request r = host.runtime_handle(s).request();
  Captured c{std::string(r.method),      std::string(r.uri),         std::string(r.path),
             std::string(r.query),       std::string(r.protocol),    std::string(r.scheme),
             std::string(r.server_name), std::string(r.server_port), std::string(r.remote_addr),
             std::string(r.upgrade)};
  for (const sdk::Field f : r.headers) c.headers.emplace_back(std::string(f.name), std::string(f.value));
  c.content_length = r.content_length;
  c.flags = s.head.flags;
  c.body = s.body;
  return c;
}

// The application: by default answers "200 OK" with body "ok".
using Responder = std::function<void(const sdk::Request&, sdk::Stream&)>;

inline void default_responder(const sdk::Request&, sdk::Stream& w) {
  w.start("200 OK", {});
  w.write("ok", true);
  w.finish();
}

struct Outcome {
  std::vector<Captured> requests;  // streams whose body came whole, answered
  int resets = 0;                  // streams the session reset (body refused or cut)
  int error_status = 0;            // status of a refusal reply; -1: refused, no such reply on the wire
  bool closed = false;             // the session closed the connection
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
  return c;
}

// What the core would ask the protocol when the runtime calls start().
inline void use_check_head(FakeHost& host) {
  host.check_head = [](const trellis_response_head* h) {
    const char* reason = nullptr;
    return sdk::to_c(check_response_head(sdk::ResponseHead::from(h), reason));
  };
}

inline void set_addresses(FakeConnection& c) {
  c.info.remote_addr = {"10.0.0.7", 8};
  c.info.remote_port = {"50312", 5};
  c.info.local_addr = {"127.0.0.1", 9};
  c.info.local_port = {"8080", 4};
  c.info.socket_name = {"127.0.0.1:8080", 14};
}

struct DriveOptions {
  bool eof_at_end = true;
  // stream_body answers `again` every time; the runtime wants more once it
  // took a piece (on_body_wanted), as the core does after a consume.
  bool body_again = false;
};

struct DriveResult {
  Outcome outcome;
  std::string wire;
  std::uint32_t close_mode = 0xffffffffu;
  bool stalled = false;  // input left, but the session paused for good
  std::vector<FakeHost::Line> logs;
};

// The refusal the session logged, checked against the wire: the reply
// must be the last thing written, with "Connection: close".
inline int refusal_status(const FakeHost& host, const FakeConnection& c) {
  int status = 0;
  for (const auto& l : host.logs)
    if (l.text.starts_with("http: refused a request with ")) status = std::atoi(l.text.c_str() + 29);
  if (status == 0) return 0;
  const std::string needle = "HTTP/1.1 " + std::to_string(status) + " ";
  std::size_t at = c.wire.rfind(needle);
  if (at == std::string::npos || c.wire.find("\r\nConnection: close\r\n", at) == std::string::npos ||
      c.close_mode != TRELLIS_CLOSE_GRACEFUL)
    return -1;
  return status;
}

// Feeds `input` to a fresh session the way the core's event loop would,
// and plays a blocking runtime: it wants the body at once (as its first
// read would) and answers once the body is complete.
inline DriveResult drive(const std::string& input, Splitter split, SessionConfig cfg = default_config(),
                         Responder respond = default_responder, DriveOptions opt = {}) {
  FakeHost host;
  use_check_head(host);
  FakeConnection& c = host.connection();
  set_addresses(c);
  cfg.host = host.host();
  HttpSession* s = HttpSession::create(host.handle(c), cfg);
  DriveResult res;
  std::size_t pos = 0;
  std::size_t next = 0;  // the stream being served
  auto run_runtime = [&] {
    while (c.closes == 0 && next < host.streams.size()) {
      FakeStream& st = *host.streams[next];
      sdk::Stream rt = host.runtime_handle(st);
      if (st.reset) {
        ++res.outcome.resets;
        ++next;
        continue;
      }
      if (opt.body_again) st.body_result = TRELLIS_AGAIN;
      if (!st.body_wanted) rt.want_body();
      // The runtime took what it was given: the core wants more.
      if (c.paused && !st.body_ended && !st.reset && st.sink) st.sink->on_body_wanted(st.sink_self);
      if (st.reset || !st.body_ended) return;  // more body first
      res.outcome.requests.push_back(capture(host, st));
      respond(rt.request(), rt);
      // What the core does when a runtime returns without finishing.
      if (!st.finished && !st.aborted && !st.reset && !st.closed) rt.abort();
      rt.done();
      ++next;
    }
  };
  run_runtime();
  while (c.closes == 0 && pos < input.size()) {
    if (c.paused) {
      res.stalled = true;
      break;
    }
    std::span<char> space = s->read_space();
    if (space.empty()) {
      res.outcome.error_status = -2;  // must never happen while reading
      break;
    }
    std::size_t n = std::min({split(), space.size(), input.size() - pos});
    std::memcpy(space.data(), input.data() + pos, n);
    pos += n;
    s->on_received(n);
    run_runtime();
  }
  if (c.closes == 0 && opt.eof_at_end && pos == input.size() && res.outcome.error_status == 0) {
    if (c.paused) {
      res.stalled = true;
    } else {
      s->on_eof();
      run_runtime();
    }
  }
  // Streams reset at the very end (EOF mid-body) still count.
  while (next < host.streams.size())
    if (host.streams[next++]->reset) ++res.outcome.resets;
  if (res.outcome.error_status == 0) res.outcome.error_status = refusal_status(host, c);
  res.outcome.closed = c.closes > 0;
  res.close_mode = c.close_mode;
  res.wire = c.wire;
  res.logs = host.logs;
  s->release();
  return res;
}

inline DriveResult drive(const std::string& input, Splitter split, SessionConfig cfg, Responder respond,
                         bool eof_at_end) {
  DriveOptions opt;
  opt.eof_at_end = eof_at_end;
  return drive(input, std::move(split), std::move(cfg), std::move(respond), opt);
}

// A session on a fake connection, driven step by step by a test.
struct Rig {
  FakeHost host;
  FakeConnection& conn;
  HttpSession* session;

  explicit Rig(SessionConfig cfg = default_config()) : conn(host.connection()) {
    use_check_head(host);
    set_addresses(conn);
    cfg.host = host.host();
    session = HttpSession::create(host.handle(conn), cfg);
  }
  ~Rig() { session->release(); }
  Rig(const Rig&) = delete;
  Rig& operator=(const Rig&) = delete;

  // Delivers `bytes` in as few reads as the read space allows, while the
  // session reads; returns how many it would not take.
  std::size_t feed(std::string_view bytes) {
    while (!bytes.empty() && conn.closes == 0) {
      std::span<char> space = session->read_space();
      if (space.empty()) break;
      std::size_t n = std::min(space.size(), bytes.size());
      std::memcpy(space.data(), bytes.data(), n);
      bytes.remove_prefix(n);
      session->on_received(n);
    }
    return bytes.size();
  }
  FakeStream& stream(std::size_t i = 0) { return *host.streams.at(i); }
  sdk::Stream runtime(std::size_t i = 0) { return host.runtime_handle(stream(i)); }
};

}  // namespace trellis::http::test

namespace trellis::http::test {

inline std::ostream& operator<<(std::ostream& os, const Captured& c) {
  os << "{" << c.method << " uri=" << c.uri << " path=" << c.path << " query=" << c.query << " " << c.protocol
     << " server=" << c.server_name << ":" << c.server_port << " cl=" << c.content_length << " flags=" << c.flags
     << " body=[" << c.body << "] headers=";
  for (const auto& [n, v] : c.headers) os << n << "=" << v << ";";
  return os << "}";
}

inline std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  os << "Outcome{error=" << o.error_status << " closed=" << o.closed << " resets=" << o.resets << " requests=[";
  for (const auto& r : o.requests) os << r << " ";
  return os << "]}";
}

}  // namespace trellis::http::test
