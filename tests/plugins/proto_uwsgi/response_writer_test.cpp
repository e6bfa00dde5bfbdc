// The HTTP response a uwsgi peer gets, through a recording connection.
#include <gtest/gtest.h>
#include <stdio.h>
#include <unistd.h>

#include <vector>

#include "../fake_host.hpp"
#include "http_head.hpp"
#include "protocol.hpp"
#include "response_writer.hpp"

namespace trellis::uwsgi::test {
namespace {

using trellis::test::FakeConnection;
using trellis::test::FakeHost;

using sdk::Status;

// A temporary file holding `text`, unlinked at once.
int temp_file(std::string_view text) {
  char path[] = "/tmp/trellis-uwsgi-test-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return -1;
  unlink(path);
  if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    close(fd);
    return -1;
  }
  return fd;
}

struct Fixture : ::testing::Test {
  FakeHost fake;
  FakeConnection& conn = fake.connection();
  std::vector<FakeHost::Line>& logs = fake.logs;
  UwsgiResponseWriter writer{fake.handle(conn), fake.host()};

  void begin(std::string_view method = "GET", std::string_view protocol = "HTTP/1.1",
             std::vector<sdk::Field> request_headers = {}) {
    request_fields.clear();
    for (const auto& f : request_headers) request_fields.push_back(sdk::to_c(f));
    writer.begin(method, protocol, sdk::FieldList(request_fields.data(), request_fields.size()));
  }
  std::vector<trellis_field> request_fields;
  // StreamSink::on_start as the core calls it: a C head, valid during the call.
  Status start(std::string_view status, std::span<const sdk::Field> headers = {}) {
    std::vector<trellis_field> c;
    for (const auto& f : headers) c.push_back(sdk::to_c(f));
    return writer.start(sdk::ResponseHead{status, sdk::FieldList(c.data(), c.size())});
  }
  Status start(std::string_view status, std::initializer_list<sdk::Field> headers) {
    return start(status, std::span<const sdk::Field>(headers.begin(), headers.size()));
  }
  Status write_file(int fd, std::int64_t offset, std::size_t len, bool last = false) {
    trellis_chunk c = sdk::file_chunk(fd, offset, len);
    return writer.write(std::span<const trellis_chunk>(&c, 1), last);
  }
};

using ResponseWriter = Fixture;

// Conditional GET as nginx's "if_modified_since exact" and the HTTP plugin
// do it (sdk::answers_not_modified): the matching Last-Modified of a 200
// turns it into a 304 that keeps only what a 304 carries.
TEST_F(ResponseWriter, MatchingIfModifiedSinceAnswersNotModified) {
  const std::string date = "Tue, 01 Jan 2030 00:00:00 GMT";
  begin("GET", "HTTP/1.1", {{"Host", "a"}, {"If-Modified-Since", date}});
  ASSERT_EQ(start("200 OK", {{"Content-Type", "text/plain"}, {"Last-Modified", date}, {"ETag", "\"x\""},
                             {"Content-Length", "5"}, {"Set-Cookie", "a=b"}}),
            Status::ok);
  ASSERT_EQ(writer.write("hello", true), Status::ok);
  ASSERT_EQ(writer.finish(), Status::ok);
  EXPECT_EQ(conn.wire, "HTTP/1.1 304 Not Modified\r\nLast-Modified: " + date + "\r\nETag: \"x\"\r\n\r\n");
  EXPECT_EQ(writer.summary().status, 304);
}

TEST_F(ResponseWriter, ConditionalGetNeedsTheExactDateAGetAndNoEntityTag) {
  const std::string date = "Tue, 01 Jan 2030 00:00:00 GMT";
  struct Case {
    std::string method;
    std::vector<sdk::Field> fields;
  };
  for (const Case& c : std::vector<Case>{{"GET", {{"If-Modified-Since", "Wed, 02 Jan 2030 00:00:00 GMT"}}},
                                         {"POST", {{"If-Modified-Since", date}}},
                                         {"GET", {{"If-Modified-Since", date}, {"If-None-Match", "\"y\""}}},
                                         {"GET", {}}}) {
    FakeHost other;
    FakeConnection& wire = other.connection();
    UwsgiResponseWriter w{other.handle(wire), other.host()};
    std::vector<trellis_field> cf;
    for (const auto& f : c.fields) cf.push_back(sdk::to_c(f));
    w.begin(c.method, "HTTP/1.1", sdk::FieldList(cf.data(), cf.size()));
    const trellis_field out[] = {sdk::to_c(sdk::Field{"Last-Modified", date})};
    ASSERT_EQ(w.start(sdk::ResponseHead{"200 OK", sdk::FieldList(out, 1)}), Status::ok);
    ASSERT_EQ(w.write("hello", true), Status::ok);
    EXPECT_TRUE(wire.wire.starts_with("HTTP/1.1 200 OK\r\n")) << c.method << " " << wire.wire;
    EXPECT_TRUE(wire.wire.ends_with("hello"));
  }
}

TEST_F(ResponseWriter, StreamedBodyIsCloseDelimited) {
  begin();
  ASSERT_EQ(start("200 OK", {{"Content-Type", "text/plain"}}), Status::ok);
  EXPECT_EQ(conn.writes, 0);  // nothing before the first body byte
  EXPECT_FALSE(writer.head_sent());
  ASSERT_EQ(writer.write("", false), Status::ok);
  EXPECT_EQ(conn.writes, 0);
  ASSERT_EQ(writer.write("hello ", false), Status::ok);
  EXPECT_TRUE(writer.head_sent());
  ASSERT_EQ(writer.write("world", false), Status::ok);
  ASSERT_EQ(writer.finish(), Status::ok);
  EXPECT_EQ(conn.wire, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello world");
  auto s = writer.summary();
  EXPECT_EQ(s.status, 200);
  EXPECT_EQ(s.body_bytes, 11u);
  EXPECT_EQ(s.wire_bytes, conn.wire.size());
}

TEST_F(ResponseWriter, SingleLastWriteGetsAContentLength) {
  begin();
  ASSERT_EQ(start("201 Created"), Status::ok);
  ASSERT_EQ(writer.write("done", true), Status::ok);
  ASSERT_EQ(writer.finish(), Status::ok);
  EXPECT_EQ(conn.wire, "HTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\ndone");
  EXPECT_EQ(conn.writes, 1);  // head and body in one writev
}

TEST_F(ResponseWriter, EmptyResponseAtFinish) {
  begin("GET", "HTTP/1.0");
  ASSERT_EQ(start("404 Not Found"), Status::ok);
  ASSERT_EQ(writer.finish(), Status::ok);
  EXPECT_EQ(conn.wire, "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n");
}

TEST_F(ResponseWriter, NoLengthAddedWhereNoBodyMayFollow) {
  begin();
  ASSERT_EQ(start("204 No Content"), Status::ok);
  ASSERT_EQ(writer.finish(), Status::ok);
  EXPECT_EQ(conn.wire, "HTTP/1.1 204 No Content\r\n\r\n");
}

TEST_F(ResponseWriter, NoContentDropsTheApplicationsLengthAndBody) {
  // QA: a 204 with Content-Length: 5 and "hello" went out as is.
  begin();
  sdk::Field h[] = {{"Content-Length", "5"}, {"X-A", "1"}, {"content-length", "5"}};
  ASSERT_EQ(start("204 No Content", h), Status::ok);
  ASSERT_EQ(writer.write("hello", true), Status::ok);
  ASSERT_EQ(writer.finish(), Status::ok);
  EXPECT_EQ(conn.wire, "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n");
  EXPECT_EQ(writer.summary().body_bytes, 0u);
  EXPECT_EQ(writer.summary().wire_bytes, conn.wire.size());
  EXPECT_TRUE(logs.empty());  // no "short body" warning either
}

TEST_F(ResponseWriter, NoContentSwallowsStreamedBodyAndFiles) {
  begin();
  int fd = temp_file("0123456789");
  ASSERT_GE(fd, 0);
  ASSERT_EQ(start("204 No Content"), Status::ok);
  ASSERT_EQ(writer.write("abc", false), Status::ok);
  ASSERT_EQ(write_file(fd, 0, 10), Status::ok);
  ASSERT_EQ(writer.write("def", true), Status::ok);
  ASSERT_EQ(writer.finish(), Status::ok);
  close(fd);
  EXPECT_EQ(conn.files, 0);
  EXPECT_EQ(conn.wire, "HTTP/1.1 204 No Content\r\n\r\n");
  EXPECT_EQ(writer.summary().body_bytes, 0u);
}

TEST_F(ResponseWriter, NotModifiedKeepsTheLengthButSendsNoBody) {
  // RFC 9110 §8.6: a 304 may carry the selected representation's length.
  begin();
  sdk::Field h[] = {{"Content-Length", "10"}, {"ETag", "\"x\""}};
  ASSERT_EQ(start("304 Not Modified", h), Status::ok);
  ASSERT_EQ(writer.write("0123456789", true), Status::ok);
  ASSERT_EQ(writer.finish(), Status::ok);
  EXPECT_EQ(conn.wire, "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\nETag: \"x\"\r\n\r\n");
  EXPECT_EQ(writer.summary().body_bytes, 0u);
  EXPECT_TRUE(logs.empty());  // 0 of 10 bytes is not a short body here
}

TEST_F(ResponseWriter, NotModifiedWithoutLengthGetsNoneAdded) {
  begin();
  ASSERT_EQ(start("304 Not Modified"), Status::ok);
  ASSERT_EQ(writer.write("body", true), Status::ok);
  ASSERT_EQ(writer.finish(), Status::ok);
  EXPECT_EQ(conn.wire, "HTTP/1.1 304 Not Modified\r\n\r\n");
}

TEST_F(ResponseWriter, InterimStatusIsNotAFinalResponse) {
  // QA: "103 Early Hints" then a body went out as "HTTP/1.1 103" and a close.
  begin();
  for (const char* interim : {"100 Continue", "101 Switching Protocols", "103 Early Hints", "199 X", "150"}) {
    EXPECT_EQ(start(interim), Status::invalid_argument) << interim;
    EXPECT_FALSE(writer.started()) << interim;
  }
  for (const char* out_of_range : {"600 X", "999 X", "099 X"})
    EXPECT_EQ(start(out_of_range), Status::invalid_argument) << out_of_range;
  EXPECT_EQ(writer.write("hello", true), Status::invalid_argument);
  EXPECT_EQ(conn.writes, 0);
  EXPECT_EQ(start("200 OK"), Status::ok);
  EXPECT_EQ(start("599 Edge"), Status::ok);
  ASSERT_EQ(writer.write("x", true), Status::ok);
  EXPECT_EQ(conn.wire, "HTTP/1.1 599 Edge\r\nContent-Length: 1\r\n\r\nx");
}

TEST_F(ResponseWriter, OddServerProtocolFallsBackToHttp11) {
  begin("GET", "HTTP/1.1\r\nX-Evil: 1");
  ASSERT_EQ(start("200 OK"), Status::ok);
  ASSERT_EQ(writer.write("x", true), Status::ok);
  EXPECT_EQ(conn.wire.rfind("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n", 0), 0u);
}

TEST_F(ResponseWriter, AppContentLengthIsPassedAndEnforced) {
  begin();
  sdk::Field h[] = {{"content-length", "5"}};
  ASSERT_EQ(start("200 OK", h), Status::ok);
  ASSERT_EQ(writer.write("hel", false), Status::ok);
  ASSERT_EQ(writer.write("lo and more", true), Status::ok);
  ASSERT_EQ(writer.finish(), Status::ok);
  EXPECT_EQ(conn.wire, "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello");
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_EQ(logs[0].level, sdk::LogLevel::warn);
}

TEST_F(ResponseWriter, ShortBodyAgainstContentLengthIsLogged) {
  begin();
  sdk::Field h[] = {{"Content-Length", "10"}};
  ASSERT_EQ(start("200 OK", h), Status::ok);
  ASSERT_EQ(writer.write("abc", true), Status::ok);
  ASSERT_EQ(writer.finish(), Status::ok);
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_NE(logs[0].text.find("3 of its 10"), std::string::npos);
}

TEST_F(ResponseWriter, RejectsWhatCouldBreakFraming) {
  begin();
  for (const char* bad : {"", "20", "2000 OK", "099 Low", "600 High", "200OK", "200 OK\r\nX: y", "abc OK"}) {
    EXPECT_EQ(start(bad), Status::invalid_argument) << bad;
  }
  std::vector<std::vector<sdk::Field>> bad_headers = {
      {{"X-A", "a\r\nSet-Cookie: x"}}, {{"X-A", "a\nb"}},       {{"X-A", std::string_view("a\0b", 3)}},
      {{"X A", "v"}},                  {{"", "v"}},             {{"X:A", "v"}},
      {{"Content-Length", "abc"}},     {{"Content-Length", "-1"}},
      {{"Content-Length", "5"}, {"Content-Length", "6"}},
  };
  // Field checks are the protocol's check_head, which the core runs before
  // a head reaches the writer.
  for (const auto& hs : bad_headers) {
    std::vector<trellis_field> c;
    for (auto& f : hs) c.push_back(sdk::to_c(f));
    const char* reason = nullptr;
    EXPECT_EQ(uwsgi::check_response_head(sdk::ResponseHead{"200 OK", sdk::FieldList(c.data(), c.size())}, nullptr, &reason),
              Status::invalid_argument)
        << hs[0].name;
    EXPECT_NE(reason, nullptr);
  }
  EXPECT_EQ(conn.writes, 0);
  sdk::Field ok[] = {{"X-Tab", "a\tb"}, {"Content-Length", " 1 "}, {"content-length", "1"}};
  EXPECT_EQ(start("200", ok), Status::ok);
}

TEST_F(ResponseWriter, StartAgainReplacesHeadersUntilSent) {
  begin();
  sdk::Field first[] = {{"X-First", "1"}};
  sdk::Field second[] = {{"X-Second", "2"}};
  ASSERT_EQ(start("200 OK", first), Status::ok);
  ASSERT_EQ(start("500 Internal Server Error", second), Status::ok);
  ASSERT_EQ(writer.write("oops", false), Status::ok);
  EXPECT_EQ(start("200 OK", first), Status::unsupported);
  EXPECT_EQ(conn.wire, "HTTP/1.1 500 Internal Server Error\r\nX-Second: 2\r\n\r\noops");
}

TEST_F(ResponseWriter, WriteBeforeStartIsRefused) {
  begin();
  EXPECT_EQ(writer.write("x", true), Status::invalid_argument);
  EXPECT_EQ(conn.writes, 0);
}

TEST_F(ResponseWriter, HeadRequestSendsNoBody) {
  begin("HEAD");
  sdk::Field h[] = {{"Content-Length", "5"}};
  ASSERT_EQ(start("200 OK", h), Status::ok);
  ASSERT_EQ(writer.write("hello", true), Status::ok);
  ASSERT_EQ(writer.finish(), Status::ok);
  EXPECT_EQ(conn.wire, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
}

// A file range stays a FILE chunk all the way to the connection, which
// sends it with sendfile(): only its length is clamped to Content-Length.
TEST_F(ResponseWriter, FileChunksGoToTheConnectionAsFiles) {
  begin();
  int fd = temp_file("0123456789");
  ASSERT_GE(fd, 0);
  sdk::Field h[] = {{"Content-Length", "6"}};
  ASSERT_EQ(start("200 OK", h), Status::ok);
  ASSERT_EQ(write_file(fd, 2, 8), Status::ok);  // 8 bytes to EOF, clamped to 6
  ASSERT_EQ(writer.finish(), Status::ok);
  close(fd);
  EXPECT_EQ(conn.files, 1);
  EXPECT_EQ(conn.wire, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n234567");
  EXPECT_EQ(writer.summary().body_bytes, 6u);
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_NE(logs[0].text.find("sent a file past its Content-Length 6"), std::string::npos) << logs[0].text;
}

TEST_F(ResponseWriter, HeadBytesAndFilesGoInOneWrite) {
  begin();
  int fd = temp_file("0123456789");
  ASSERT_GE(fd, 0);
  ASSERT_EQ(start("200 OK"), Status::ok);
  trellis_chunk parts[] = {sdk::bytes_chunk("<"), sdk::file_chunk(fd, 3, 4), sdk::bytes_chunk(""),
                           sdk::bytes_chunk(">")};
  // The last write of a response without a length: it gets one, files counted.
  ASSERT_EQ(writer.write(parts, true), Status::ok);
  close(fd);
  EXPECT_EQ(conn.writes, 1);
  EXPECT_EQ(conn.files, 1);
  EXPECT_TRUE(conn.ended);
  EXPECT_EQ(conn.wire, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n<3456>");
  EXPECT_EQ(writer.summary().body_bytes, 6u);
  EXPECT_EQ(writer.summary().wire_bytes, conn.wire.size());
}

TEST_F(ResponseWriter, ManyChunksInOneWrite) {
  begin();
  ASSERT_EQ(start("200 OK"), Status::ok);
  std::vector<std::string> texts;
  for (int i = 0; i < 40; ++i) texts.push_back(std::to_string(i % 10));
  std::vector<trellis_chunk> chunks;
  for (const auto& t : texts) chunks.push_back(sdk::bytes_chunk(t));
  ASSERT_EQ(writer.write(chunks, false), Status::ok);
  EXPECT_EQ(conn.writes, 1);
  EXPECT_EQ(conn.wire, "HTTP/1.1 200 OK\r\n\r\n0123456789012345678901234567890123456789");
}

TEST_F(ResponseWriter, ConnectionFailureStopsTheResponse) {
  begin();
  ASSERT_EQ(start("200 OK"), Status::ok);
  conn.fail_writes = true;
  EXPECT_EQ(writer.write("x", false), Status::closed);
  EXPECT_TRUE(writer.broken());
  EXPECT_EQ(writer.write("y", false), Status::closed);
  EXPECT_EQ(writer.finish(), Status::closed);
}

// The session resets the connection (CloseMode::abort, session_test); the
// writer sends nothing more.
TEST_F(ResponseWriter, AbortStopsFurtherWrites) {
  begin();
  ASSERT_EQ(start("200 OK"), Status::ok);
  ASSERT_EQ(writer.write("partial", false), Status::ok);
  writer.abort();
  EXPECT_TRUE(writer.aborted());
  EXPECT_EQ(writer.write("more", false), Status::closed);
  EXPECT_EQ(start("500 Internal Server Error"), Status::unsupported);
  EXPECT_EQ(conn.wire, "HTTP/1.1 200 OK\r\n\r\npartial");
}

// The connection closes after every uwsgi response, so its last bytes leave
// with the end of the stream (Connection::write_last): nginx sees the
// response end at once, even while the runtime still runs.
TEST_F(ResponseWriter, LastWriteEndsTheStream) {
  begin();
  ASSERT_EQ(start("200 OK"), Status::ok);
  ASSERT_EQ(writer.write("done", true), Status::ok);
  EXPECT_TRUE(conn.ended);
  EXPECT_TRUE(writer.ended());
  EXPECT_EQ(conn.ended_at, conn.wire.size());
  EXPECT_EQ(writer.write("more", false), Status::unsupported);  // nothing after the last write
  ASSERT_EQ(writer.finish(), Status::ok);
  EXPECT_EQ(conn.writes, 1);  // the end went with the bytes: finish() writes nothing
}

TEST_F(ResponseWriter, StreamedBodyEndsTheStreamAtFinish) {
  begin();
  ASSERT_EQ(start("200 OK"), Status::ok);
  ASSERT_EQ(writer.write("a", false), Status::ok);
  ASSERT_EQ(writer.write("b", false), Status::ok);
  EXPECT_FALSE(conn.ended);
  ASSERT_EQ(writer.finish(), Status::ok);
  EXPECT_TRUE(conn.ended);
  EXPECT_EQ(conn.ended_at, conn.wire.size());
  EXPECT_EQ(conn.writes, 3);  // the end alone, without bytes
  EXPECT_EQ(conn.wire, "HTTP/1.1 200 OK\r\n\r\nab");
}

TEST_F(ResponseWriter, EmptyResponseEndsWithItsHead) {
  begin();
  ASSERT_EQ(start("204 No Content"), Status::ok);
  ASSERT_EQ(writer.finish(), Status::ok);
  EXPECT_TRUE(conn.ended);
  EXPECT_EQ(conn.writes, 1);
  EXPECT_EQ(conn.ended_at, conn.wire.size());
}

TEST_F(ResponseWriter, AbortNeverEndsTheStreamCleanly) {
  begin();
  ASSERT_EQ(start("200 OK"), Status::ok);
  ASSERT_EQ(writer.write("partial", false), Status::ok);
  writer.abort();
  EXPECT_EQ(writer.finish(), Status::closed);
  EXPECT_FALSE(conn.ended);
}

TEST_F(ResponseWriter, HopByHopFieldsFromTheApplicationAreRefused) {
  // PEP 3333 "Other HTTP Features", as the HTTP plugin does: a
  // Transfer-Encoding next to the server's framing would mislead the peer.
  // The core asks UwsgiProtocol::check_head before any head reaches the
  // writer: refused there, the runtime answers 500 (session_test).
  begin();
  UwsgiProtocol protocol(fake.host());
  for (std::string_view name : {"Transfer-Encoding", "keep-alive", "Upgrade", "TE", "Trailer", "Proxy-Authenticate"}) {
    sdk::Field f[] = {{name, "x"}};
    trellis_field c[] = {sdk::to_c(f[0])};
    const char* reason = nullptr;
    EXPECT_EQ(protocol.check_head(sdk::ResponseHead{"200 OK", sdk::FieldList(c, 1)}, reason), Status::invalid_argument)
        << name;
    EXPECT_STREQ(reason, "hop-by-hop header field set by the application") << name;
    // The writer trusts what the core checked (it never sees such a head).
  }
  // check_head is pure (any thread, no side effects): it cannot log.
  EXPECT_TRUE(logs.empty());
  sdk::Field ok[] = {{"Keep-Alives", "1"}};
  ASSERT_EQ(start("200 OK", ok), Status::ok);
  ASSERT_EQ(writer.write("accepted", true), Status::ok);
  EXPECT_EQ(conn.wire, "HTTP/1.1 200 OK\r\nKeep-Alives: 1\r\nContent-Length: 8\r\n\r\naccepted");
}

TEST_F(ResponseWriter, ResetContentHasAnEmptyFramedBody) {
  begin();
  sdk::Field h[] = {{"Content-Length", "4"}};
  ASSERT_EQ(start("205 Reset Content", h), Status::ok);
  ASSERT_EQ(writer.write("body", true), Status::ok);
  ASSERT_EQ(writer.finish(), Status::ok);
  EXPECT_EQ(conn.wire, "HTTP/1.1 205 Reset Content\r\nContent-Length: 0\r\n\r\n");
}

// What start() refuses, check_head refuses first: the core asks it (on the
// runtime's thread) before a head reaches the session, and the runtime
// answers 500 instead.
TEST(CheckHead, RefusesWhatCouldBreakTheFraming) {
  FakeHost fake;
  UwsgiProtocol protocol(fake.host());
  auto check = [&](std::string_view status, std::vector<sdk::Field> headers = {}) {
    std::vector<trellis_field> c;
    for (const auto& f : headers) c.push_back(sdk::to_c(f));
    const char* reason = nullptr;
    return protocol.check_head(sdk::ResponseHead{status, sdk::FieldList(c.data(), c.size())}, reason);
  };
  for (const char* bad : {"", "20", "2000 OK", "099 Low", "600 High", "200OK", "200 OK\r\nX: y", "abc OK",
                          "100 Continue", "101 Switching Protocols", "103 Early Hints", "199 X"})
    EXPECT_EQ(check(bad), Status::invalid_argument) << bad;
  std::vector<std::vector<sdk::Field>> bad_headers = {
      {{"X-A", "a\r\nSet-Cookie: x"}}, {{"X-A", "a\nb"}}, {{"X-A", std::string_view("a\0b", 3)}},
      {{"X A", "v"}}, {{"", "v"}}, {{"X:A", "v"}}, {{"Content-Length", "abc"}}, {{"Content-Length", "-1"}},
      {{"Content-Length", "5"}, {"Content-Length", "6"}}, {{"Transfer-Encoding", "chunked"}},
      {{"Connection", "close"}, {"Keep-Alive", "timeout=5"}}, {{"upgrade", "websocket"}}};
  for (const auto& hs : bad_headers) EXPECT_EQ(check("200 OK", hs), Status::invalid_argument) << hs[0].name;
  EXPECT_EQ(check("200 OK", {{"X-Tab", "a\tb"}, {"Content-Length", " 1 "}, {"content-length", "1"}}), Status::ok);
  EXPECT_EQ(check("599 Edge"), Status::ok);
  EXPECT_EQ(check("204 No Content", {{"Content-Length", "5"}}), Status::ok);  // dropped when framed, not refused
  EXPECT_EQ(check("200 OK", {{"Connection", "close"}}), Status::ok);       // the server's anyway
  EXPECT_TRUE(fake.logs.empty());
}

}  // namespace
}  // namespace trellis::uwsgi::test
