// A packet captured from nginx 1.22 (Debian 12) with the stock uwsgi_params:
//   curl -X POST 'http://127.0.0.1:18080/upload/a%20b?q=1'
//        -H 'Content-Type: application/json' -H 'X-Forwarded-Proto: https'
//        --data '{"k": "v"}'
// (nginx_post.bin, recorded with a socket listening behind uwsgi_pass).
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "feed.hpp"

namespace trellis::uwsgi::test {
namespace {

std::string capture() {
  std::ifstream in(NGINX_CAPTURE_PATH, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string header(const sdk::Request& r, std::string_view name) {
  std::string out;
  int seen = 0;
  for (const auto& h : r.headers) {
    if (h.name == name) {
      out = std::string(h.value);
      ++seen;
    }
  }
  return seen == 1 ? out : "<seen " + std::to_string(seen) + " times>";
}

TEST(NginxCapture, ParsesAndMaps) {
  std::string bytes = capture();
  ASSERT_EQ(bytes.size(), 495u);
  PacketReader r(Limits{}, [](std::uint8_t m) { return m == 0; });
  Outcome o = feed(r, bytes, [] { return std::size_t(-1); });
  ASSERT_EQ(o.verdict, Verdict::ready) << o.reason;
  EXPECT_EQ(o.body, R"({"k": "v"})");
  const auto& req = r.request();
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.uri, "/upload/a%20b?q=1");
  EXPECT_EQ(req.path, "/upload/a b");
  EXPECT_EQ(req.query, "q=1");
  EXPECT_EQ(req.protocol, "HTTP/1.1");
  EXPECT_EQ(req.scheme, "http");  // X-Forwarded-Proto is only a header
  EXPECT_EQ(req.server_name, "example.org");
  EXPECT_EQ(req.server_port, "18080");
  EXPECT_EQ(req.remote_addr, "127.0.0.1");
  EXPECT_EQ(req.content_length, 10);
  EXPECT_EQ(req.cgi_vars.size(), 19u);
  // nginx sends both CONTENT_TYPE and HTTP_CONTENT_TYPE (and the same for
  // the length): each must appear once.
  EXPECT_EQ(header(req, "Content-Type"), "application/json");
  EXPECT_EQ(header(req, "Content-Length"), "10");
  EXPECT_EQ(header(req, "X-Forwarded-Proto"), "https");
  EXPECT_EQ(header(req, "User-Agent"), "curl/7.88.1");
  EXPECT_EQ(header(req, "Host"), "127.0.0.1");
}

TEST(NginxCapture, SameVerdictInAnyPieces) {
  std::string bytes = capture();
  Outcome whole = feed_whole(Limits{}, bytes);
  EXPECT_EQ(feed_bytewise(Limits{}, bytes), whole);
  for (unsigned seed = 1; seed <= 50; ++seed) EXPECT_EQ(feed_random(Limits{}, bytes, seed), whole) << seed;
  // Spooled body, same answer.
  Limits spool;
  spool.post_buffering = 1;
  Outcome spooled = feed_random(spool, bytes, 3);
  EXPECT_EQ(spooled, whole);
}

}  // namespace
}  // namespace trellis::uwsgi::test
