// BodyDecoder on its own: output-limited decoding (the 100-continue reader
// decodes straight into the application's buffer) and in-place decoding.
#include <gtest/gtest.h>

#include <string>

#include "body_decoder.hpp"

namespace trellis::http {
namespace {

// Decodes `in` fed in pieces of `step` into an output buffer of `out_cap`.
std::pair<DecodeStatus, std::string> decode(const std::string& in, std::size_t step, std::size_t out_cap,
                                            std::uint64_t max_body = 0) {
  BodyDecoder d;
  d.reset(BodyKind::chunked, 0, max_body, 1024);
  std::string out;
  std::size_t pos = 0;
  DecodeStatus st = DecodeStatus::need_more;
  while (st == DecodeStatus::need_more && pos < in.size()) {
    std::size_t n = std::min(step, in.size() - pos);
    std::size_t off = 0;
    while (off < n && st == DecodeStatus::need_more) {
      char buf[64];
      std::size_t used = 0, produced = 0;
      st = d.consume(in.data() + pos + off, n - off, buf, std::min(out_cap, sizeof buf), used, produced);
      out.append(buf, produced);
      off += used;
      if (used == 0 && produced == 0 && st == DecodeStatus::need_more) break;
    }
    pos += off;
  }
  return {st, out};
}

TEST(BodyDecoder, ChunkedWithTinyOutput) {
  const std::string in = "1a\r\nabcdefghijklmnopqrstuvwxyz\r\n3;e=\"q\\\"\"\r\n123\r\n0\r\nA: b\r\n\r\n";
  for (std::size_t step : {1u, 2u, 5u, 100u})
    for (std::size_t cap : {1u, 3u, 64u}) {
      auto [st, out] = decode(in, step, cap);
      EXPECT_EQ(st, DecodeStatus::done) << step << " " << cap;
      EXPECT_EQ(out, "abcdefghijklmnopqrstuvwxyz123");
    }
}

TEST(BodyDecoder, StopsAtTheEndOfTheBody) {
  BodyDecoder d;
  d.reset(BodyKind::chunked, 0, 0, 1024);
  std::string in = "2\r\nab\r\n0\r\n\r\nGET / HTTP/1.1";
  char out[64];
  std::size_t used = 0, produced = 0;
  EXPECT_EQ(d.consume(in.data(), in.size(), out, sizeof out, used, produced), DecodeStatus::done);
  EXPECT_EQ(std::string(out, produced), "ab");
  EXPECT_EQ(in.substr(used), "GET / HTTP/1.1");
}

TEST(BodyDecoder, InPlace) {
  BodyDecoder d;
  d.reset(BodyKind::chunked, 0, 0, 1024);
  std::string in = "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
  std::size_t used = 0, produced = 0;
  EXPECT_EQ(d.consume(in.data(), in.size(), in.data(), SIZE_MAX, used, produced), DecodeStatus::done);
  EXPECT_EQ(in.substr(0, produced), "abcde");
}

TEST(BodyDecoder, Length) {
  BodyDecoder d;
  d.reset(BodyKind::length, 5, 0, 1024);
  char out[8];
  std::size_t used = 0, produced = 0;
  EXPECT_EQ(d.consume("hel", 3, out, sizeof out, used, produced), DecodeStatus::need_more);
  EXPECT_EQ(d.remaining(), 2u);
  EXPECT_EQ(d.consume("loEXTRA", 7, out, sizeof out, used, produced), DecodeStatus::done);
  EXPECT_EQ(used, 2u);
  EXPECT_EQ(std::string(out, produced), "lo");
}

TEST(BodyDecoder, LimitIsCheckedOnTheAnnouncedSize) {
  auto [st, out] = decode("4\r\nabcd\r\n5\r\n", 100, 64, 8);
  EXPECT_EQ(st, DecodeStatus::error);
  EXPECT_EQ(out, "abcd");
}

TEST(BodyDecoder, ExtensionAndTrailerBytesAreBounded) {
  EXPECT_EQ(decode("1;" + std::string(2000, 'a') + "\r\nx\r\n0\r\n\r\n", 7, 64).first, DecodeStatus::error);
  EXPECT_EQ(decode("0\r\nX: " + std::string(2000, 'a') + "\r\n\r\n", 7, 64).first, DecodeStatus::error);
}

}  // namespace
}  // namespace trellis::http
