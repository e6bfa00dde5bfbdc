// The HTTP response a uwsgi peer gets, through a recording Transport.
#include <gtest/gtest.h>
#include <stdio.h>
#include <unistd.h>

#include "../protocol_fakes.hpp"
#include "response_writer.hpp"

namespace trellis::uwsgi::test {
namespace {

using trellis::test::FakeHost;
using trellis::test::FakeTransport;

using sdk::Status;

struct Fixture : ::testing::Test {
  FakeHost host;
  FakeTransport transport;
  UwsgiResponseWriter writer{transport, host};
  sdk::Request request;

  void begin(std::string_view method = "GET", std::string_view protocol = "HTTP/1.1") {
    request.method = method;
    request.protocol = protocol;
    writer.begin(request);
  }
};

using ResponseWriter = Fixture;

TEST_F(ResponseWriter, StreamedBodyIsCloseDelimited) {
  begin();
  sdk::Field h[] = {{"Content-Type", "text/plain"}};
  ASSERT_EQ(writer.start("200 OK", h), Status::ok);
  EXPECT_EQ(transport.writes, 0);  // nothing before the first body byte
  EXPECT_FALSE(writer.headers_sent());
  ASSERT_EQ(writer.write("", false), Status::ok);
  EXPECT_EQ(transport.writes, 0);
  ASSERT_EQ(writer.write("hello ", false), Status::ok);
  EXPECT_TRUE(writer.headers_sent());
  ASSERT_EQ(writer.write("world", false), Status::ok);
  ASSERT_EQ(writer.finish(), Status::ok);
  EXPECT_EQ(transport.wire, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello world");
  auto s = writer.summary();
  EXPECT_EQ(s.status, 200);
  EXPECT_EQ(s.body_bytes, 11u);
  EXPECT_EQ(s.wire_bytes, transport.wire.size());
}

TEST_F(ResponseWriter, SingleLastWriteGetsAContentLength) {
  begin();
  ASSERT_EQ(writer.start("201 Created", {}), Status::ok);
  ASSERT_EQ(writer.write("done", true), Status::ok);
  ASSERT_EQ(writer.finish(), Status::ok);
  EXPECT_EQ(transport.wire, "HTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\ndone");
  EXPECT_EQ(transport.writes, 1);  // head and body in one writev
}

TEST_F(ResponseWriter, EmptyResponseAtFinish) {
  begin("GET", "HTTP/1.0");
  ASSERT_EQ(writer.start("404 Not Found", {}), Status::ok);
  ASSERT_EQ(writer.finish(), Status::ok);
  EXPECT_EQ(transport.wire, "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n");
}

TEST_F(ResponseWriter, NoLengthAddedWhereNoBodyMayFollow) {
  begin();
  ASSERT_EQ(writer.start("204 No Content", {}), Status::ok);
  ASSERT_EQ(writer.finish(), Status::ok);
  EXPECT_EQ(transport.wire, "HTTP/1.1 204 No Content\r\n\r\n");
}

TEST_F(ResponseWriter, NoContentDropsTheApplicationsLengthAndBody) {
  // QA: a 204 with Content-Length: 5 and "hello" went out as is.
  begin();
  sdk::Field h[] = {{"Content-Length", "5"}, {"X-A", "1"}, {"content-length", "5"}};
  ASSERT_EQ(writer.start("204 No Content", h), Status::ok);
  ASSERT_EQ(writer.write("hello", true), Status::ok);
  ASSERT_EQ(writer.finish(), Status::ok);
  EXPECT_EQ(transport.wire, "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n");
  EXPECT_EQ(writer.summary().body_bytes, 0u);
  EXPECT_EQ(writer.summary().wire_bytes, transport.wire.size());
  EXPECT_TRUE(host.logs.empty());  // no "short body" warning either
}

TEST_F(ResponseWriter, NoContentSwallowsStreamedBodyAndFiles) {
  begin();
  char path[] = "/tmp/trellis-uwsgi-test-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  unlink(path);
  ASSERT_EQ(::write(fd, "0123456789", 10), 10);
  ASSERT_EQ(writer.start("204 No Content", {}), Status::ok);
  ASSERT_EQ(writer.write("abc", false), Status::ok);
  ASSERT_EQ(writer.send_file(fd, 0, -1), Status::ok);
  ASSERT_EQ(writer.write("def", true), Status::ok);
  ASSERT_EQ(writer.finish(), Status::ok);
  close(fd);
  EXPECT_EQ(transport.files, 0);
  EXPECT_EQ(transport.wire, "HTTP/1.1 204 No Content\r\n\r\n");
  EXPECT_EQ(writer.summary().body_bytes, 0u);
}

TEST_F(ResponseWriter, NotModifiedKeepsTheLengthButSendsNoBody) {
  // RFC 9110 §8.6: a 304 may carry the selected representation's length.
  begin();
  sdk::Field h[] = {{"Content-Length", "10"}, {"ETag", "\"x\""}};
  ASSERT_EQ(writer.start("304 Not Modified", h), Status::ok);
  ASSERT_EQ(writer.write("0123456789", true), Status::ok);
  ASSERT_EQ(writer.finish(), Status::ok);
  EXPECT_EQ(transport.wire, "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\nETag: \"x\"\r\n\r\n");
  EXPECT_EQ(writer.summary().body_bytes, 0u);
  EXPECT_TRUE(host.logs.empty());  // 0 of 10 bytes is not a short body here
}

TEST_F(ResponseWriter, NotModifiedWithoutLengthGetsNoneAdded) {
  begin();
  ASSERT_EQ(writer.start("304 Not Modified", {}), Status::ok);
  ASSERT_EQ(writer.write("body", true), Status::ok);
  ASSERT_EQ(writer.finish(), Status::ok);
  EXPECT_EQ(transport.wire, "HTTP/1.1 304 Not Modified\r\n\r\n");
}

TEST_F(ResponseWriter, InterimStatusIsNotAFinalResponse) {
  // QA: "103 Early Hints" then a body went out as "HTTP/1.1 103" and a close.
  begin();
  for (const char* interim : {"100 Continue", "101 Switching Protocols", "103 Early Hints", "199 X", "150"}) {
    EXPECT_EQ(writer.start(interim, {}), Status::invalid_argument) << interim;
    EXPECT_FALSE(writer.started()) << interim;
  }
  for (const char* out_of_range : {"600 X", "999 X", "099 X"})
    EXPECT_EQ(writer.start(out_of_range, {}), Status::invalid_argument) << out_of_range;
  EXPECT_EQ(writer.write("hello", true), Status::invalid_argument);
  EXPECT_EQ(transport.writes, 0);
  EXPECT_EQ(writer.start("200 OK", {}), Status::ok);
  EXPECT_EQ(writer.start("599 Edge", {}), Status::ok);
  ASSERT_EQ(writer.write("x", true), Status::ok);
  EXPECT_EQ(transport.wire, "HTTP/1.1 599 Edge\r\nContent-Length: 1\r\n\r\nx");
}

TEST_F(ResponseWriter, OddServerProtocolFallsBackToHttp11) {
  begin("GET", "HTTP/1.1\r\nX-Evil: 1");
  ASSERT_EQ(writer.start("200 OK", {}), Status::ok);
  ASSERT_EQ(writer.write("x", true), Status::ok);
  EXPECT_EQ(transport.wire.rfind("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n", 0), 0u);
}

TEST_F(ResponseWriter, AppContentLengthIsPassedAndEnforced) {
  begin();
  sdk::Field h[] = {{"content-length", "5"}};
  ASSERT_EQ(writer.start("200 OK", h), Status::ok);
  ASSERT_EQ(writer.write("hel", false), Status::ok);
  ASSERT_EQ(writer.write("lo and more", true), Status::ok);
  ASSERT_EQ(writer.finish(), Status::ok);
  EXPECT_EQ(transport.wire, "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello");
  ASSERT_EQ(host.logs.size(), 1u);
  EXPECT_EQ(host.logs[0].level, sdk::LogLevel::warn);
}

TEST_F(ResponseWriter, ShortBodyAgainstContentLengthIsLogged) {
  begin();
  sdk::Field h[] = {{"Content-Length", "10"}};
  ASSERT_EQ(writer.start("200 OK", h), Status::ok);
  ASSERT_EQ(writer.write("abc", true), Status::ok);
  ASSERT_EQ(writer.finish(), Status::ok);
  ASSERT_EQ(host.logs.size(), 1u);
  EXPECT_NE(host.logs[0].text.find("3 of its 10"), std::string::npos);
}

TEST_F(ResponseWriter, RejectsWhatCouldBreakFraming) {
  begin();
  for (const char* bad : {"", "20", "2000 OK", "099 Low", "600 High", "200OK", "200 OK\r\nX: y", "abc OK"}) {
    EXPECT_EQ(writer.start(bad, {}), Status::invalid_argument) << bad;
  }
  std::vector<std::vector<sdk::Field>> bad_headers = {
      {{"X-A", "a\r\nSet-Cookie: x"}}, {{"X-A", "a\nb"}},       {{"X-A", std::string_view("a\0b", 3)}},
      {{"X A", "v"}},                  {{"", "v"}},             {{"X:A", "v"}},
      {{"Content-Length", "abc"}},     {{"Content-Length", "-1"}},
      {{"Content-Length", "5"}, {"Content-Length", "6"}},
  };
  for (const auto& hs : bad_headers) EXPECT_EQ(writer.start("200 OK", hs), Status::invalid_argument);
  EXPECT_EQ(transport.writes, 0);
  sdk::Field ok[] = {{"X-Tab", "a\tb"}, {"Content-Length", " 1 "}, {"content-length", "1"}};
  EXPECT_EQ(writer.start("200", ok), Status::ok);
}

TEST_F(ResponseWriter, StartAgainReplacesHeadersUntilSent) {
  begin();
  sdk::Field first[] = {{"X-First", "1"}};
  sdk::Field second[] = {{"X-Second", "2"}};
  ASSERT_EQ(writer.start("200 OK", first), Status::ok);
  ASSERT_EQ(writer.start("500 Internal Server Error", second), Status::ok);
  ASSERT_EQ(writer.write("oops", false), Status::ok);
  EXPECT_EQ(writer.start("200 OK", first), Status::unsupported);
  EXPECT_EQ(transport.wire, "HTTP/1.1 500 Internal Server Error\r\nX-Second: 2\r\n\r\noops");
}

TEST_F(ResponseWriter, WriteBeforeStartIsRefused) {
  begin();
  EXPECT_EQ(writer.write("x", true), Status::invalid_argument);
  EXPECT_EQ(transport.writes, 0);
}

TEST_F(ResponseWriter, HeadRequestSendsNoBody) {
  begin("HEAD");
  sdk::Field h[] = {{"Content-Length", "5"}};
  ASSERT_EQ(writer.start("200 OK", h), Status::ok);
  ASSERT_EQ(writer.write("hello", true), Status::ok);
  ASSERT_EQ(writer.finish(), Status::ok);
  EXPECT_EQ(transport.wire, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
}

TEST_F(ResponseWriter, SendFileGoesThroughTheTransport) {
  begin();
  char path[] = "/tmp/trellis-uwsgi-test-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  unlink(path);
  ASSERT_EQ(::write(fd, "0123456789", 10), 10);
  sdk::Field h[] = {{"Content-Length", "6"}};
  ASSERT_EQ(writer.start("200 OK", h), Status::ok);
  ASSERT_EQ(writer.send_file(fd, 2, -1), Status::ok);  // 8 bytes to EOF, clamped to 6
  ASSERT_EQ(writer.finish(), Status::ok);
  close(fd);
  EXPECT_EQ(transport.files, 1);
  EXPECT_EQ(transport.wire, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n234567");
  EXPECT_EQ(writer.summary().body_bytes, 6u);
}

TEST_F(ResponseWriter, TransportFailureStopsTheResponse) {
  begin();
  ASSERT_EQ(writer.start("200 OK", {}), Status::ok);
  transport.fail_writes = true;
  EXPECT_EQ(writer.write("x", false), Status::closed);
  EXPECT_TRUE(writer.broken());
  EXPECT_EQ(writer.write("y", false), Status::closed);
  EXPECT_EQ(writer.finish(), Status::closed);
}

TEST_F(ResponseWriter, AbortStopsFurtherWrites) {
  begin();
  ASSERT_EQ(writer.start("200 OK", {}), Status::ok);
  ASSERT_EQ(writer.write("partial", false), Status::ok);
  writer.abort();
  EXPECT_TRUE(writer.aborted());
  EXPECT_TRUE(transport.aborted);
  EXPECT_EQ(writer.write("more", false), Status::closed);
  EXPECT_EQ(transport.wire, "HTTP/1.1 200 OK\r\n\r\npartial");
}

// The connection closes after every uwsgi response, so its last bytes leave
// with the end of the stream (Transport::write_last): nginx sees the
// response end at once, even while the runtime still runs.
TEST_F(ResponseWriter, LastWriteEndsTheStream) {
  begin();
  ASSERT_EQ(writer.start("200 OK", {}), Status::ok);
  ASSERT_EQ(writer.write("done", true), Status::ok);
  EXPECT_EQ(transport.ends, 1);
  EXPECT_EQ(transport.ended_at, transport.wire.size());
  EXPECT_EQ(writer.write("more", false), Status::unsupported);  // nothing after the last write
  ASSERT_EQ(writer.finish(), Status::ok);
  EXPECT_EQ(transport.ends, 1);
  EXPECT_EQ(transport.writes, 1);
}

TEST_F(ResponseWriter, StreamedBodyEndsTheStreamAtFinish) {
  begin();
  ASSERT_EQ(writer.start("200 OK", {}), Status::ok);
  ASSERT_EQ(writer.write("a", false), Status::ok);
  ASSERT_EQ(writer.write("b", false), Status::ok);
  EXPECT_EQ(transport.ends, 0);
  ASSERT_EQ(writer.finish(), Status::ok);
  EXPECT_EQ(transport.ends, 1);
  EXPECT_EQ(transport.wire, "HTTP/1.1 200 OK\r\n\r\nab");
}

TEST_F(ResponseWriter, EmptyResponseEndsWithItsHead) {
  begin();
  ASSERT_EQ(writer.start("204 No Content", {}), Status::ok);
  ASSERT_EQ(writer.finish(), Status::ok);
  EXPECT_EQ(transport.ends, 1);
  EXPECT_EQ(transport.writes, 1);
  EXPECT_EQ(transport.ended_at, transport.wire.size());
}

TEST_F(ResponseWriter, AbortNeverEndsTheStreamCleanly) {
  begin();
  ASSERT_EQ(writer.start("200 OK", {}), Status::ok);
  ASSERT_EQ(writer.write("partial", false), Status::ok);
  writer.abort();
  EXPECT_EQ(writer.finish(), Status::closed);
  EXPECT_EQ(transport.ends, 0);
}

TEST_F(ResponseWriter, HopByHopFieldsFromTheApplicationAreRefused) {
  // PEP 3333 "Other HTTP Features", as the HTTP plugin does: a
  // Transfer-Encoding next to the server's framing would mislead the peer.
  begin();
  for (std::string_view name : {"Transfer-Encoding", "keep-alive", "Upgrade", "TE", "Trailer", "Proxy-Authenticate"}) {
    sdk::Field f[] = {{name, "x"}};
    EXPECT_EQ(writer.start("200 OK", f), Status::invalid_argument) << name;
  }
  ASSERT_EQ(host.logs.size(), 6u);
  EXPECT_NE(host.logs[0].text.find("hop-by-hop header field Transfer-Encoding"), std::string::npos) << host.logs[0].text;
  sdk::Field ok[] = {{"Keep-Alives", "1"}};
  ASSERT_EQ(writer.start("200 OK", ok), Status::ok);
  ASSERT_EQ(writer.write("accepted", true), Status::ok);
  EXPECT_EQ(transport.wire, "HTTP/1.1 200 OK\r\nKeep-Alives: 1\r\nContent-Length: 8\r\n\r\naccepted");
}

TEST_F(ResponseWriter, ResetContentHasAnEmptyFramedBody) {
  begin();
  sdk::Field h[] = {{"Content-Length", "4"}};
  ASSERT_EQ(writer.start("205 Reset Content", h), Status::ok);
  ASSERT_EQ(writer.write("body", true), Status::ok);
  ASSERT_EQ(writer.finish(), Status::ok);
  EXPECT_EQ(transport.wire, "HTTP/1.1 205 Reset Content\r\nContent-Length: 0\r\n\r\n");
}

}  // namespace
}  // namespace trellis::uwsgi::test
