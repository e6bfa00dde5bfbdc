// Drives a PacketReader the way the event loop does, in chosen pieces, and
// summarises the outcome so that different splits can be compared.
#pragma once

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "packet_reader.hpp"

namespace trellis::uwsgi::test {

struct Outcome {
  Verdict verdict = Verdict::need_more;
  int status = 0;
  std::string reason;
  std::string method, uri, body;
  std::size_t vars = 0;
  bool operator==(const Outcome&) const = default;
};

inline std::string drain(sdk::BodyReader& r) {
  std::string out;
  char buf[7];  // odd size: exercises partial reads
  std::size_t got = 0;
  while (r.read(buf, sizeof buf, got) == sdk::Status::ok && got > 0) out.append(buf, got);
  return out;
}

// `next_piece` returns how many bytes the next read delivers (>= 1). All
// input delivered without a decision means the peer closed: on_eof().
template <typename NextPiece>
Outcome feed(PacketReader& reader, const std::string& input, NextPiece next_piece) {
  Outcome o;
  std::size_t pos = 0;
  Verdict v = Verdict::need_more;
  while (v == Verdict::need_more && pos < input.size()) {
    auto space = reader.read_space();
    if (space.empty()) {
      o.reason = "read_space() empty while need_more";
      return o;
    }
    std::size_t k = std::min({space.size(), input.size() - pos, std::max<std::size_t>(1, next_piece())});
    std::memcpy(space.data(), input.data() + pos, k);
    pos += k;
    v = reader.on_received(k);
  }
  if (v == Verdict::need_more) v = reader.on_eof();
  o.verdict = v;
  if (v == Verdict::refused) {
    o.status = reader.refusal().status;
    o.reason = reader.refusal().reason;
  }
  if (v == Verdict::ready) {
    auto& req = reader.request();
    o.method = std::string(req.method);
    o.uri = std::string(req.uri);
    o.vars = req.cgi_vars.size();
    o.body = drain(*req.body);
  }
  return o;
}

inline Outcome feed_whole(const Limits& l, const std::string& input) {
  PacketReader r(l, [](std::uint8_t m) { return m == 0; });
  return feed(r, input, [] { return std::size_t(-1); });
}

inline Outcome feed_bytewise(const Limits& l, const std::string& input) {
  PacketReader r(l, [](std::uint8_t m) { return m == 0; });
  return feed(r, input, [] { return std::size_t(1); });
}

inline Outcome feed_random(const Limits& l, const std::string& input, unsigned seed) {
  PacketReader r(l, [](std::uint8_t m) { return m == 0; });
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::size_t> d(1, std::max<std::size_t>(1, input.size() / 3 + 1));
  return feed(r, input, [&] { return d(rng); });
}

}  // namespace trellis::uwsgi::test
