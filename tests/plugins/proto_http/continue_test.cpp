// Expect: 100-continue. The request is handed over after its head; the body
// is read through the Transport by the application thread, and "100
// Continue" goes out only when the application first reads the body.
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace trellis::http::test {
namespace {

const std::string kHead =
    "POST /upload HTTP/1.1\r\nHost: example.com\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n";

// Feeds `head` to a session and returns it at request_ready.
HttpSession* open_with(FakeTransport& t, const std::string& head, const SessionConfig& cfg = default_config()) {
  HttpSession* s = HttpSession::create(t, cfg);
  std::span<char> space = s->read_space();
  std::memcpy(space.data(), head.data(), head.size());
  EXPECT_EQ(s->on_received(head.size()), sdk::Progress::request_ready);
  return s;
}

TEST(Continue, SentOnFirstReadThenBodyReadFromTransport) {
  FakeTransport t;
  std::string rest = "hello";
  t.source = &rest;
  t.max_read = 2;
  HttpSession* s = open_with(t, kHead);
  EXPECT_EQ(t.wire, "");  // nothing before the application asks
  EXPECT_EQ(s->request().content_length, 5);
  Captured c = capture(s->request());
  EXPECT_EQ(c.body, "hello");
  EXPECT_EQ(t.wire, "HTTP/1.1 100 Continue\r\n\r\n");
  default_responder(s->request(), s->response());
  EXPECT_EQ(s->finish_request(), sdk::Progress::need_more);  // body fully read: keep-alive
  EXPECT_EQ(t.wire.find("Connection: close"), std::string::npos);
  s->release();
}

TEST(Continue, NotSentWhenTheBodyAlreadyArrived) {
  FakeTransport t;
  HttpSession* s = open_with(t, kHead + "hel");
  std::string rest = "lo";
  t.source = &rest;
  EXPECT_EQ(capture(s->request()).body, "hello");
  EXPECT_EQ(t.wire, "");
  s->release();
}

TEST(Continue, UnreadBodyMeansNoContinueAndClose) {
  FakeTransport t;
  HttpSession* s = open_with(t, kHead);
  default_responder(s->request(), s->response());
  EXPECT_EQ(t.wire.find("100 Continue"), std::string::npos);
  EXPECT_NE(t.wire.find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(s->finish_request(), kLingeringClose);
  s->release();
}

TEST(Continue, ChunkedBodyAndPipelinedFollowerAllWays) {
  const std::string in =
      "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nTransfer-Encoding: chunked\r\n\r\n"
      "4;x=y\r\nwiki\r\n5\r\npedia\r\n0\r\nT: v\r\n\r\n"
      "GET /next HTTP/1.1\r\nHost: a\r\n\r\n";
  Outcome ref = drive(in, whole()).outcome;
  ASSERT_EQ(ref.requests.size(), 2u) << ref;
  EXPECT_EQ(ref.requests[0].body, "wikipedia");
  EXPECT_EQ(ref.requests[0].content_length, -1);
  EXPECT_EQ(ref.requests[1].path, "/next");
  EXPECT_EQ(drive(in, bytewise()).outcome, ref);
  for (unsigned seed = 1; seed <= 8; ++seed) EXPECT_EQ(drive(in, random_split(seed)).outcome, ref) << seed;
}

TEST(Continue, TooLargeIsRefusedWithoutContinue) {
  SessionConfig cfg = default_config();
  cfg.parse.max_body = 4;
  DriveResult r = drive(kHead, whole(), cfg);
  EXPECT_EQ(r.outcome.error_status, 413);
  EXPECT_EQ(r.wire.find("100 Continue"), std::string::npos);
}

TEST(Continue, ChunkedOverLimitWhileStreaming) {
  SessionConfig cfg = default_config();
  cfg.parse.max_body = 4;
  FakeTransport t;
  std::string rest = "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n";
  t.source = &rest;
  HttpSession* s = open_with(t, "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n", cfg);
  Captured c = capture(s->request());
  EXPECT_EQ(c.body, "abc");
  EXPECT_EQ(c.body_status, sdk::Status::too_large);
  default_responder(s->request(), s->response());
  EXPECT_EQ(s->finish_request(), kLingeringClose);
  s->release();
}

TEST(Continue, TruncatedBodyIsAnError) {
  FakeTransport t;
  std::string rest = "hel";
  t.source = &rest;
  HttpSession* s = open_with(t, kHead);
  Captured c = capture(s->request());
  EXPECT_EQ(c.body, "hel");
  EXPECT_EQ(c.body_status, sdk::Status::closed);
  default_responder(s->request(), s->response());
  EXPECT_EQ(s->finish_request(), kLingeringClose);
  s->release();
}

// RFC 9110 §5.6.1.2 / §10.1.1: Expect is a list whose empty elements are
// ignored, matched case-insensitively, and repeated lines add to it. Each
// spelling must still mean "100-continue": the head alone is handed over
// and "100 Continue" goes out on the first body read.
TEST(Continue, ExpectIsParsedAsAList) {
  for (const std::string& expect : std::vector<std::string>{
           "Expect: 100-continue,\r\n", "Expect: , 100-continue\r\n", "Expect: ,,100-CONTINUE , ,\r\n",
           "Expect:\t100-continue\t,\t100-Continue\r\n", "Expect: ,\r\nExpect: 100-continue\r\n",
           "Expect: 100-continue\r\nExpect: ,\r\n"}) {
    FakeTransport t;
    std::string rest = "hello";
    t.source = &rest;
    HttpSession* s = open_with(t, "POST /upload HTTP/1.1\r\nHost: example.com\r\n" + expect +
                                      "Content-Length: 5\r\n\r\n");
    EXPECT_EQ(t.wire, "") << expect;
    EXPECT_EQ(capture(s->request()).body, "hello") << expect;
    EXPECT_EQ(t.wire, "HTTP/1.1 100 Continue\r\n\r\n") << expect;
    default_responder(s->request(), s->response());
    EXPECT_EQ(s->finish_request(), sdk::Progress::need_more) << expect;
    s->release();
  }
}

TEST(Continue, ListedExpectAllWays) {
  const std::string in =
      "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue,\r\nContent-Length: 3\r\n\r\nabc"
      "POST / HTTP/1.1\r\nHost: a\r\nExpect: , 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0000000000000003\r\ndef\r\n0\r\n\r\n";
  Outcome ref = drive(in, whole()).outcome;
  ASSERT_EQ(ref.requests.size(), 2u) << ref;
  EXPECT_EQ(ref.error_status, 0);
  EXPECT_EQ(ref.requests[0].body, "abc");
  EXPECT_EQ(ref.requests[1].body, "def");
  EXPECT_EQ(drive(in, bytewise()).outcome, ref);
  for (unsigned seed = 1; seed <= 8; ++seed) EXPECT_EQ(drive(in, random_split(seed)).outcome, ref) << seed;
}

TEST(Continue, IgnoredForBodilessRequests) {
  FakeTransport t;
  HttpSession* s = open_with(t, "GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(capture(s->request()).body, "");
  default_responder(s->request(), s->response());
  EXPECT_EQ(t.wire.find("100 Continue"), std::string::npos);
  EXPECT_EQ(s->finish_request(), sdk::Progress::need_more);
  s->release();
}

}  // namespace
}  // namespace trellis::http::test
