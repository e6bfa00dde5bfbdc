// BodyDecoder on its own: output-limited decoding (the 100-continue reader
// decodes straight into the application's buffer) and in-place decoding.
#include <gtest/gtest.h>

#include <string>
#include <tuple>

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

// RFC 9112 §7.1: chunk-size is 1*HEXDIG with no digit limit; only the value
// is bounded. Every input is fed in several step sizes, so a size split
// anywhere inside its run of zeros decodes the same.
TEST(BodyDecoder, LeadingZerosInTheChunkSizeAreNotCounted) {
  const std::string zeros16 = "0000000000000003\r\nabc\r\n";
  const std::string long_last = "00000000000000000\r\n\r\n";
  for (std::size_t step : {1u, 2u, 3u, 7u, 100u}) {
    auto [st, out] = decode(zeros16 + long_last, step, 64);
    EXPECT_EQ(st, DecodeStatus::done) << step;
    EXPECT_EQ(out, "abc") << step;
    // 40 zeros, then 15 significant digits: the largest size still allowed.
    // The body is not there, so the decoder is left waiting for it.
    std::tie(st, out) = decode(std::string(40, '0') + "fffffffffffffff\r\n", step, 64);
    EXPECT_EQ(st, DecodeStatus::need_more) << step;
    // Leading zeros with extensions, and a zero-only last chunk with a trailer.
    std::tie(st, out) = decode("00000000000000000002;a=b\r\nhi\r\n" + std::string(30, '0') + "\r\nT: v\r\n\r\n",
                               step, 64);
    EXPECT_EQ(st, DecodeStatus::done) << step;
    EXPECT_EQ(out, "hi") << step;
  }
}

TEST(BodyDecoder, ChunkSizeValueIsStillBounded) {
  for (std::size_t step : {1u, 5u, 100u}) {
    // 16 significant digits: over the 60-bit limit, with or without zeros.
    EXPECT_EQ(decode("1000000000000000\r\n", step, 64).first, DecodeStatus::error) << step;
    EXPECT_EQ(decode("0001000000000000000\r\n", step, 64).first, DecodeStatus::error) << step;
    // Would wrap a uint64.
    EXPECT_EQ(decode("00ffffffffffffffffffff\r\n", step, 64).first, DecodeStatus::error) << step;
    // Zeros alone still need to be digits, and a zero size may not be empty.
    EXPECT_EQ(decode("\r\n", step, 64).first, DecodeStatus::error) << step;
  }
  BodyDecoder d;
  d.reset(BodyKind::chunked, 0, 0, 1024);
  char out[8];
  std::size_t used = 0, produced = 0;
  std::string big = "0001000000000000000\r\n";
  EXPECT_EQ(d.consume(big.data(), big.size(), out, sizeof out, used, produced), DecodeStatus::error);
  EXPECT_EQ(d.error_status(), 400);
}

TEST(BodyDecoder, EndlessLeadingZerosAreBounded) {
  // Zeros make no progress, so the per-line budget must end them; the
  // budget is per line, so a long run on each of several lines is fine.
  EXPECT_EQ(decode(std::string(2000, '0') + "1\r\nx\r\n0\r\n\r\n", 7, 64).first, DecodeStatus::error);
  std::string many;
  for (int i = 0; i < 4; ++i) many += std::string(1000, '0') + "1\r\nx\r\n";
  auto [st, out] = decode(many + std::string(1000, '0') + "\r\n\r\n", 7, 64);
  EXPECT_EQ(st, DecodeStatus::done);
  EXPECT_EQ(out, "xxxx");
}

}  // namespace
}  // namespace trellis::http
