// Drivers shared by the proto_http tests (the fakes are in
// ../protocol_fakes.hpp): a driver that feeds
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

#include "../protocol_fakes.hpp"
#include "http_session.hpp"

namespace trellis::http::test {

using trellis::test::FakeHost;
using trellis::test::FakeTransport;

// finish_request()'s answer when the connection ends while the client may
// still be sending (a keep-alive request answered with a close, a body left
// unread, bytes after the request): nothing to send, and the core closes by
// half-closing and draining, so no reset destroys the response in flight.
constexpr sdk::Progress kLingeringClose = sdk::Progress::respond_and_close;

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
  t.conn = {"10.0.0.7", "50312", "127.0.0.1", "8080", "127.0.0.1:8080", false};
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
    if (p == sdk::Progress::respond_and_close && s->pending_output().empty()) {
      // Nothing to send: the core half-closes and drains (lingering close).
      res.outcome.closed = true;
      done = true;
    } else if (p == sdk::Progress::respond_and_close) {
      std::string_view out = s->pending_output();
      res.outcome.error_status = out.size() > 12 ? std::stoi(std::string(out.substr(9, 3))) : -1;
      t.wire.append(out);
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
  res.wire = t.wire;
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
