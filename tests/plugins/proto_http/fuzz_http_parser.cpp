// libFuzzer target for the HTTP/1.1 request side: head parser, target and
// Host parsing, body decoding and flow control, buffer management and
// pipelining, driven through a real HttpSession on the fake core exactly as
// the event loop would, with a runtime answering every stream.
//
// Besides "no crash, no leak, no UB" (ASan), it checks the parser's central
// promise differentially: the same bytes give the same verdict and the same
// requests whether they arrive at once, byte by byte, or in random pieces.
//
// The input is exactly what the client sends (the seed corpus is plain
// request text); a hash of it picks the limits and seeds the random split.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "body_decoder.hpp"
#include "test_support.hpp"

using namespace trellis::http;
using namespace trellis::http::test;

namespace {

SessionConfig config_for(std::uint8_t selector) {
  SessionConfig c = default_config();
  if (selector & 1) c.parse.max_head = 256;
  if (selector & 2) c.parse.max_fields = 4;
  if (selector & 4) c.parse.max_body = 64;
  return c;
}

DriveOptions options_for(std::uint8_t selector) {
  DriveOptions o;
  // A runtime that takes the body piece by piece: pause, resume.
  o.body_again = (selector & 8) != 0;
  return o;
}

// Answers in a way chosen by the request, to exercise the writer too.
void responder(const trellis::sdk::Request& r, trellis::sdk::Stream& w) {
  std::size_t pick = r.path.size() % 4;
  if (pick == 0) {
    w.start("200 OK", {});
    w.write("ok", true);
    w.finish();
  } else if (pick == 1) {
    w.start("200 OK", {});
    w.write("a", false);
    w.write("b", false);
    w.finish();
  } else if (pick == 2) {
    trellis::sdk::Field h[] = {{"Content-Length", "3"}};
    w.start("404 Not Found", h);
    w.write("no", false);
    w.finish();
  } else {
    w.start("204 No Content", {});
    w.finish();
  }
}

void check_decoder(const std::uint8_t* data, std::size_t size) {
  // In place, all at once, versus into a 3-byte output a byte at a time.
  std::string a(reinterpret_cast<const char*>(data), size);
  BodyDecoder d1, d2;
  d1.reset(BodyKind::chunked, 0, 0, 256);
  d2.reset(BodyKind::chunked, 0, 0, 256);
  std::size_t used1 = 0, produced1 = 0;
  DecodeStatus s1 = d1.consume(a.data(), a.size(), a.data(), SIZE_MAX, used1, produced1);
  std::string out2;
  DecodeStatus s2 = DecodeStatus::need_more;
  std::size_t pos = 0;
  while (s2 == DecodeStatus::need_more && pos < size) {
    char buf[3];
    std::size_t used = 0, produced = 0;
    s2 = d2.consume(reinterpret_cast<const char*>(data) + pos, 1, buf, sizeof buf, used, produced);
    out2.append(buf, produced);
    pos += used;
  }
  if (s1 != s2) std::abort();
  if (s1 != DecodeStatus::error && (used1 != pos || a.compare(0, produced1, out2) != 0)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::uint32_t hash = 2166136261u;  // FNV-1a
  for (std::size_t i = 0; i < size; ++i) hash = (hash ^ data[i]) * 16777619u;
  const SessionConfig cfg = config_for(static_cast<std::uint8_t>(hash));
  const DriveOptions opt = options_for(static_cast<std::uint8_t>(hash));
  const unsigned seed = hash >> 8;
  const std::string input(reinterpret_cast<const char*>(data), size);

  const DriveResult whole_result = drive(input, whole(), cfg, responder, opt);
  // The session never stalls with input left, nor offers no space while reading.
  if (whole_result.stalled || whole_result.outcome.error_status < 0) std::abort();
  const Outcome& whole_outcome = whole_result.outcome;
  const Outcome split_outcome = drive(input, random_split(seed), cfg, responder, opt).outcome;
  if (!(whole_outcome == split_outcome)) std::abort();
  if (input.size() < 512) {
    const Outcome byte_outcome = drive(input, bytewise(), cfg, responder, opt).outcome;
    if (!(whole_outcome == byte_outcome)) std::abort();
  }
  check_decoder(data, size);
  return 0;
}
