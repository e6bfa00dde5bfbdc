// Drives a PacketReader the way the session does, in chosen pieces, and
// summarises the outcome so that different splits can be compared.
#pragma once

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "packet_reader.hpp"
#include "trellis/request.hpp"

namespace trellis::uwsgi::test {

struct Outcome {
  Verdict verdict = Verdict::need_more;  // end, refused, closed (need_more: undecided)
  int status = 0;
  std::string reason;
  int heads = 0;  // head events (exactly one for a request)
  std::string method, uri, runtime, body;
  std::size_t vars = 0;
  std::string order_error;  // an event out of place, e.g. body before head
  bool operator==(const Outcome&) const = default;
};

// The head the reader mapped, as a runtime sees it (string views).
inline sdk::Request request_of(const PacketReader& r) { return sdk::Request::from(&r.head(), nullptr); }

inline bool serves_default(std::string_view name) { return name.empty(); }

// `next_piece` returns how many bytes the next read delivers (>= 1). All
// input delivered without a decision means the peer closed: on_eof().
template <typename NextPiece>
Outcome feed(PacketReader& reader, const std::string& input, NextPiece next_piece) {
  Outcome o;
  std::size_t pos = 0;
  bool decided = false;
  auto act = [&](Verdict v) {
    for (; v != Verdict::need_more; v = reader.next()) {
      switch (v) {
        case Verdict::head: {
          ++o.heads;
          sdk::Request req = request_of(reader);
          o.method = std::string(req.method);
          o.uri = std::string(req.uri);
          o.runtime = std::string(req.runtime);
          o.vars = req.variables.size();
          break;
        }
        case Verdict::body:
          if (o.heads != 1) o.order_error = "body without one head";
          if (reader.body().empty()) o.order_error = "empty body event";
          o.body.append(reader.body());
          break;
        case Verdict::end:
          if (o.heads != 1) o.order_error = "end without one head";
          o.verdict = v;
          decided = true;
          if (reader.next() != Verdict::need_more) o.order_error = "an event after the end";
          return;
        case Verdict::refused:
          o.verdict = v;
          o.status = reader.refusal().status;
          o.reason = reader.refusal().reason;
          decided = true;
          return;
        case Verdict::closed:
          o.verdict = v;
          decided = true;
          return;
        case Verdict::need_more: return;
      }
    }
  };
  while (!decided && pos < input.size()) {
    auto space = reader.read_space();
    if (space.empty()) {
      o.reason = "read_space() empty while undecided";
      return o;
    }
    std::size_t k = std::min({space.size(), input.size() - pos, std::max<std::size_t>(1, next_piece())});
    std::memcpy(space.data(), input.data() + pos, k);
    pos += k;
    act(reader.on_received(k));
  }
  if (!decided) act(reader.on_eof());
  if (decided && o.verdict != Verdict::closed && !reader.read_space().empty()) o.order_error = "read_space() offered after the decision";
  return o;
}

inline Outcome feed_whole(const Limits& l, const std::string& input) {
  PacketReader r(l, serves_default);
  return feed(r, input, [] { return std::size_t(-1); });
}

inline Outcome feed_bytewise(const Limits& l, const std::string& input) {
  PacketReader r(l, serves_default);
  return feed(r, input, [] { return std::size_t(1); });
}

inline Outcome feed_random(const Limits& l, const std::string& input, unsigned seed) {
  PacketReader r(l, serves_default);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::size_t> d(1, std::max<std::size_t>(1, input.size() / 3 + 1));
  return feed(r, input, [&] { return d(rng); });
}

}  // namespace trellis::uwsgi::test
