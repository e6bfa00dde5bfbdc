// RequestHeadParser on its own: it resumes across calls even when the
// bytes moved in between (the session compacts and grows its buffer), and
// it reports framing facts the session relies on.
#include <gtest/gtest.h>

#include <string>

#include "request_head_parser.hpp"

namespace trellis::http {
namespace {

TEST(HeadParser, ResumesAfterTheBufferMoved) {
  const std::string req = "\r\nPOST /p?q HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nX: y\r\n\r\nbody";
  RequestHeadParser p(ParseLimits{});
  std::string a, b;
  ParseStatus st = ParseStatus::need_more;
  for (std::size_t n = 1; n <= req.size() && st == ParseStatus::need_more; ++n) {
    // Each call sees the bytes at a different address, as after a realloc.
    std::string& buf = (n % 2) ? a : b;
    buf = req.substr(0, n);
    st = p.parse(buf.data(), buf.size());
  }
  ASSERT_EQ(st, ParseStatus::done);
  const RequestHead& h = p.head();
  const char* base = req.data();
  EXPECT_EQ(h.method.in(base), "POST");
  EXPECT_EQ(h.target.in(base), "/p?q");
  EXPECT_EQ(h.path.in(base), "/p");
  EXPECT_EQ(h.query.in(base), "q");
  EXPECT_EQ(h.head_len, req.size() - 4);
  EXPECT_EQ(h.body, BodyKind::length);
  EXPECT_EQ(h.content_length, 4);
  EXPECT_TRUE(h.keep_alive);
  ASSERT_EQ(h.fields.size(), 3u);
  EXPECT_EQ(h.fields[2].name.in(base), "X");
  EXPECT_EQ(h.fields[2].value.in(base), "y");
}

TEST(HeadParser, ResetServesTheNextRequest) {
  RequestHeadParser p(ParseLimits{});
  std::string r1 = "GET / HTTP/1.0\r\n\r\n";
  ASSERT_EQ(p.parse(r1.data(), r1.size()), ParseStatus::done);
  EXPECT_FALSE(p.head().keep_alive);
  p.reset();
  std::string r2 = "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  ASSERT_EQ(p.parse(r2.data(), r2.size()), ParseStatus::done);
  EXPECT_TRUE(p.head().keep_alive);
  EXPECT_EQ(p.head().body, BodyKind::chunked);
  EXPECT_EQ(p.head().fields.size(), 2u);
}

TEST(HeadParser, ErrorIsSticky) {
  RequestHeadParser p(ParseLimits{});
  std::string bad = "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n";
  EXPECT_EQ(p.parse(bad.data(), bad.size()), ParseStatus::error);
  EXPECT_EQ(p.error_status(), 400);
  std::string good = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  EXPECT_EQ(p.parse(good.data(), good.size()), ParseStatus::error);
}

}  // namespace
}  // namespace trellis::http
