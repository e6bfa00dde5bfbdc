// A packet captured from nginx 1.22 (Debian 12) with the stock uwsgi_params:
//   curl -X POST 'http://127.0.0.1:18080/upload/a%20b?q=1'
//        -H 'Content-Type: application/json' -H 'X-Forwarded-Proto: https'
//        --data '{"k": "v"}'
// (nginx_post.bin, recorded with a socket listening behind uwsgi_pass).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>

#include "../fake_host.hpp"
#include "feed.hpp"
#include "session.hpp"

namespace trellis::uwsgi::test {
namespace {

std::string capture() {
  std::ifstream in(NGINX_CAPTURE_PATH, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Request or FakeStream's OwnedHead.
template <typename Head>
std::string header(const Head& r, std::string_view name) {
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
  PacketReader r(Limits{}, serves_default);
  Outcome o = feed(r, bytes, [] { return std::size_t(-1); });
  ASSERT_EQ(o.verdict, Verdict::end) << o.reason;
  EXPECT_EQ(o.body, R"({"k": "v"})");
  const sdk::Request req = request_of(r);
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.uri, "/upload/a%20b?q=1");
  EXPECT_EQ(req.path, "/upload/a b");
  EXPECT_EQ(req.query, "q=1");
  EXPECT_EQ(req.protocol, "HTTP/1.1");
  EXPECT_EQ(req.scheme, "http");  // X-Forwarded-Proto is only a header
  EXPECT_EQ(req.server_name, "example.org");
  EXPECT_EQ(req.server_port, "18080");
  EXPECT_EQ(req.runtime, "");
  std::string remote_addr;
  for (const sdk::Field v : req.variables)
    if (v.name == "REMOTE_ADDR") remote_addr = std::string(v.value);
  EXPECT_EQ(remote_addr, "127.0.0.1");
  EXPECT_EQ(req.content_length, 10);
  EXPECT_EQ(req.variables.size(), 19u);
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
}

// Through the session, in random pieces, with a runtime that takes one
// piece of body at a time (every body() answered with again): the core gets
// the same head and the same body, in order.
TEST(NginxCapture, SameRequestThroughTheSessionWithBackpressure) {
  std::string bytes = capture();
  int pauses = 0;
  for (unsigned seed = 1; seed <= 20; ++seed) {
    trellis::test::FakeHost fake;
    trellis::test::FakeConnection& conn = fake.connection();
    auto* s = new UwsgiSession(fake.handle(conn), fake.host(), Limits{});
    std::mt19937 rng(seed);
    std::size_t pos = 0;
    while (pos < bytes.size()) {
      auto space = s->read_space();
      ASSERT_FALSE(space.empty()) << seed;
      std::size_t k = std::min({space.size(), bytes.size() - pos, std::size_t(rng() % 64 + 1)});
      std::memcpy(space.data(), bytes.data() + pos, k);
      pos += k;
      const bool open = !fake.streams.empty();
      const std::size_t before = open ? fake.streams[0]->body.size() : 0;
      s->on_received(k);
      // Body bytes answered with again: reading stops at once.
      if (open && fake.streams[0]->body.size() > before) {
        EXPECT_TRUE(conn.paused) << seed;
      }
      if (!fake.streams.empty()) fake.streams[0]->body_result = TRELLIS_AGAIN;
      if (conn.paused) {
        ++pauses;
        auto& st = *fake.streams[0];
        st.sink->on_body_wanted(st.sink_self);  // the runtime read it
        EXPECT_FALSE(conn.paused);
      }
    }
    ASSERT_EQ(fake.streams.size(), 1u) << seed;
    auto& st = *fake.streams[0];
    EXPECT_EQ(st.head.method, "POST");
    EXPECT_EQ(st.head.uri, "/upload/a%20b?q=1");
    EXPECT_EQ(st.head.content_length, 10);
    EXPECT_EQ(st.head.variables.size(), 19u);
    EXPECT_EQ(header(st.head, "Content-Type"), "application/json");
    EXPECT_EQ(st.body, R"({"k": "v"})") << seed;
    EXPECT_TRUE(st.body_ended);
    EXPECT_EQ(conn.closes, 0);
    EXPECT_TRUE(fake.logs.empty());
    s->release();
  }
  EXPECT_GT(pauses, 0);
}

}  // namespace
}  // namespace trellis::uwsgi::test
