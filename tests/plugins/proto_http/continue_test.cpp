// Expect: 100-continue. The stream opens right after the head, flagged
// EXPECTS_GO_AHEAD; the session reads no body until the runtime wants it
// (on_body_wanted), and "100 Continue" goes out only then.
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace trellis::http::test {
namespace {

const std::string kHead =
    "POST /upload HTTP/1.1\r\nHost: example.com\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n";
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

void answer(Rig& rig, std::size_t i = 0) {
  sdk::Stream rt = rig.runtime(i);
  default_responder(rt.request(), rt);
}

TEST(Continue, SentOnlyWhenTheRuntimeWantsTheBody) {
  Rig rig;
  rig.feed(kHead);
  ASSERT_EQ(rig.host.streams.size(), 1u);
  FakeStream& s = rig.stream();
  EXPECT_EQ(s.head.flags & TRELLIS_REQUEST_EXPECTS_GO_AHEAD, static_cast<std::uint32_t>(TRELLIS_REQUEST_EXPECTS_GO_AHEAD));
  EXPECT_EQ(s.head.content_length, 5);
  // Nothing before the runtime asks, and no reading meanwhile: the client
  // waits for us, so no timeout runs either.
  EXPECT_EQ(rig.conn.wire, "");
  EXPECT_TRUE(rig.conn.paused);
  EXPECT_TRUE(rig.session->read_space().empty());
  EXPECT_EQ(rig.session->phase(), sdk::Phase::busy);

  rig.runtime().want_body();
  EXPECT_EQ(rig.conn.wire, kContinue);
  EXPECT_FALSE(rig.conn.paused);
  EXPECT_EQ(rig.session->phase(), sdk::Phase::body);
  for (char ch : std::string("hello")) EXPECT_EQ(rig.feed(std::string(1, ch)), 0u);
  EXPECT_EQ(s.body, "hello");
  EXPECT_TRUE(s.body_ended);
  EXPECT_TRUE(rig.conn.paused);  // request complete: nothing more read until it is answered
  // A second want is no second 100.
  s.sink->on_body_wanted(s.sink_self);
  EXPECT_EQ(rig.conn.wire, kContinue);

  answer(rig);
  EXPECT_TRUE(s.closed);
  EXPECT_EQ(rig.conn.closes, 0);  // body fully read: keep-alive
  EXPECT_EQ(rig.conn.wire.find("Connection: close"), std::string::npos);
  EXPECT_FALSE(rig.conn.paused);
}

TEST(Continue, NotSentWhenTheBodyAlreadyArrived) {
  Rig rig;
  rig.feed(kHead + "hel");
  FakeStream& s = rig.stream();
  EXPECT_EQ(s.body, "");  // not read before it is wanted
  rig.runtime().want_body();
  EXPECT_EQ(s.body, "hel");
  rig.feed("lo");
  EXPECT_EQ(s.body, "hello");
  EXPECT_TRUE(s.body_ended);
  EXPECT_EQ(rig.conn.wire, "");
}

TEST(Continue, NotSentAfterTheResponseStarted) {
  // RFC 9110 §15.2: a 1xx after the final head would land in its body.
  Rig rig;
  rig.feed(kHead);
  sdk::Stream rt = rig.runtime();
  rt.start("200 OK", {});
  rt.write("partial", false);
  rt.want_body();
  EXPECT_EQ(rig.conn.wire.find("100 Continue"), std::string::npos);
  EXPECT_FALSE(rig.conn.paused);  // the body is read all the same
  rig.feed("hello");
  EXPECT_EQ(rig.stream().body, "hello");
}

TEST(Continue, UnreadBodyMeansNoContinueAndClose) {
  Rig rig;
  rig.feed(kHead);
  answer(rig);
  EXPECT_EQ(rig.conn.wire.find("100 Continue"), std::string::npos);
  EXPECT_NE(rig.conn.wire.find("Connection: close\r\n"), std::string::npos);
  EXPECT_TRUE(rig.stream().closed);
  // The client may still send its body: drain it, never reset it.
  EXPECT_EQ(rig.conn.closes, 1);
  EXPECT_EQ(rig.conn.close_mode, static_cast<std::uint32_t>(TRELLIS_CLOSE_GRACEFUL));
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
  EXPECT_TRUE(r.outcome.requests.empty());
  EXPECT_EQ(r.outcome.resets, 0);  // refused before any stream opened
  EXPECT_EQ(r.wire.find("100 Continue"), std::string::npos);
}

TEST(Continue, ChunkedOverLimitWhileStreaming) {
  // limit-post crossed by a chunked body: the stream is reset and, the
  // response not having started, the client gets 413.
  SessionConfig cfg = default_config();
  cfg.parse.max_body = 4;
  Rig rig(cfg);
  rig.feed("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n");
  rig.runtime().want_body();
  EXPECT_EQ(rig.conn.wire, kContinue);
  rig.feed("3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n");
  FakeStream& s = rig.stream();
  EXPECT_EQ(s.body, "abc");
  EXPECT_TRUE(s.reset);
  EXPECT_EQ(s.reset_why, TRELLIS_TOO_LARGE);
  EXPECT_FALSE(s.body_ended);
  EXPECT_EQ(rig.conn.wire.substr(kContinue.size(), 12), "HTTP/1.1 413");
  EXPECT_EQ(rig.conn.close_mode, static_cast<std::uint32_t>(TRELLIS_CLOSE_GRACEFUL));
}

TEST(Continue, ChunkedOverLimitAfterTheResponseStartedIsAReset) {
  SessionConfig cfg = default_config();
  cfg.parse.max_body = 4;
  Rig rig(cfg);
  rig.feed("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n");
  sdk::Stream rt = rig.runtime();
  rt.want_body();
  rt.start("200 OK", {});
  rt.write("streaming", false);
  const std::size_t sent = rig.conn.wire.size();
  rig.feed("3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n");
  EXPECT_TRUE(rig.stream().reset);
  EXPECT_EQ(rig.stream().reset_why, TRELLIS_TOO_LARGE);
  EXPECT_EQ(rig.conn.wire.size(), sent);  // no reply can follow a started one
  EXPECT_EQ(rig.conn.close_mode, static_cast<std::uint32_t>(TRELLIS_CLOSE_ABORT));
}

TEST(Continue, TruncatedBodyResetsTheStream) {
  Rig rig;
  rig.feed(kHead);
  rig.runtime().want_body();
  rig.feed("hel");
  rig.session->on_eof();
  FakeStream& s = rig.stream();
  EXPECT_EQ(s.body, "hel");
  EXPECT_TRUE(s.reset);
  EXPECT_EQ(s.reset_why, TRELLIS_CLOSED);
  EXPECT_EQ(rig.conn.closes, 1);
  EXPECT_EQ(rig.conn.close_mode, static_cast<std::uint32_t>(TRELLIS_CLOSE_AFTER_WRITE));
}

// RFC 9110 §5.6.1.2 / §10.1.1: Expect is a list whose empty elements are
// ignored, matched case-insensitively, and repeated lines add to it. Each
// spelling must still mean "100-continue": the head alone is handed over
// and "100 Continue" goes out when the body is wanted.
TEST(Continue, ExpectIsParsedAsAList) {
  for (const std::string& expect : std::vector<std::string>{
           "Expect: 100-continue,\r\n", "Expect: , 100-continue\r\n", "Expect: ,,100-CONTINUE , ,\r\n",
           "Expect:\t100-continue\t,\t100-Continue\r\n", "Expect: ,\r\nExpect: 100-continue\r\n",
           "Expect: 100-continue\r\nExpect: ,\r\n"}) {
    Rig rig;
    rig.feed("POST /upload HTTP/1.1\r\nHost: example.com\r\n" + expect + "Content-Length: 5\r\n\r\n");
    ASSERT_EQ(rig.host.streams.size(), 1u) << expect;
    EXPECT_NE(rig.stream().head.flags & TRELLIS_REQUEST_EXPECTS_GO_AHEAD, 0u) << expect;
    EXPECT_EQ(rig.conn.wire, "") << expect;
    rig.runtime().want_body();
    EXPECT_EQ(rig.conn.wire, kContinue) << expect;
    rig.feed("hello");
    EXPECT_EQ(rig.stream().body, "hello") << expect;
    answer(rig);
    EXPECT_EQ(rig.conn.closes, 0) << expect;
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
  Rig rig;
  rig.feed("GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n");
  FakeStream& s = rig.stream();
  EXPECT_EQ(s.head.flags & TRELLIS_REQUEST_EXPECTS_GO_AHEAD, 0u);
  EXPECT_TRUE(s.body_ended);
  rig.runtime().want_body();
  answer(rig);
  EXPECT_EQ(rig.conn.wire.find("100 Continue"), std::string::npos);
  EXPECT_EQ(rig.conn.closes, 0);
}

}  // namespace
}  // namespace trellis::http::test
