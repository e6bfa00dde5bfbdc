// ResponseWriter and keep-alive decisions, through a session and a fake
// transport that records exactly what went on the wire.
#include <gtest/gtest.h>

#include <cstdio>
#include <regex>

#include "test_support.hpp"

namespace trellis::http::test {
namespace {

using sdk::Field;
using sdk::Status;

const std::string kGet = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
const std::string kGet10 = "GET / HTTP/1.0\r\n\r\n";
const std::string kHead = "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n";

struct Exchange {
  std::string wire;  // Date values replaced by "X"
  sdk::Progress next;
  int writes = 0;
  sdk::ResponseSummary summary;
  std::vector<FakeHost::Line> logs;
  bool transport_aborted = false;
  int ends = 0;              // write_last() calls: the sending side was shut
  std::size_t ended_at = 0;  // bytes on the wire when it was
};

Exchange run_exchange(const std::string& request, const Responder& app, bool drain = false, bool fail_writes = false) {
  FakeTransport t;
  FakeHost host;
  SessionConfig cfg = default_config();
  cfg.host = &host;
  HttpSession* s = HttpSession::create(t, cfg);
  std::span<char> space = s->read_space();
  std::memcpy(space.data(), request.data(), request.size());
  Exchange e;
  EXPECT_EQ(s->on_received(request.size()), sdk::Progress::request_ready);
  capture(s->request());
  if (drain) s->close_after_response();
  t.fail_writes = fail_writes;
  app(s->request(), s->response());
  e.next = s->finish_request();
  e.summary = s->summary();
  e.writes = t.writes;
  e.wire = std::regex_replace(t.wire, std::regex("Date: [^\r]+"), "Date: X");
  e.logs = host.logs;
  e.transport_aborted = t.aborted;
  e.ends = t.ends;
  e.ended_at = t.ended_at;
  s->release();
  return e;
}

TEST(ResponseWriter, HelloWorldIsOneWriteWithContentLength) {
  Exchange e = run_exchange(kGet, [](sdk::Request&, sdk::ResponseWriter& w) {
    Field h[] = {{"Content-Type", "text/plain"}};
    EXPECT_EQ(w.start("200 OK", h), Status::ok);
    EXPECT_FALSE(w.headers_sent());
    EXPECT_EQ(w.write("hello", true), Status::ok);
    EXPECT_TRUE(w.headers_sent());
  });
  EXPECT_EQ(e.wire,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nServer: trellis\r\nDate: X\r\n\r\nhello");
  EXPECT_EQ(e.writes, 1);
  EXPECT_EQ(e.next, sdk::Progress::need_more);
  EXPECT_EQ(e.summary.status, 200);
  EXPECT_EQ(e.summary.body_bytes, 5u);
  EXPECT_EQ(e.summary.wire_bytes, e.wire.size() + std::string("Tue, 01 Jan 2030 00:00:00 GMT").size() - 1);
}

TEST(ResponseWriter, StreamingIsChunkedOnHttp11) {
  Exchange e = run_exchange(kGet, [](sdk::Request&, sdk::ResponseWriter& w) {
    w.start("200 OK", {});
    EXPECT_EQ(w.write("", false), Status::ok);  // nothing reaches the wire yet
    w.write("ab", false);
    w.write("cdefghijklmnopq", false);
    w.finish();
  });
  EXPECT_EQ(e.wire,
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nServer: trellis\r\nDate: X\r\n\r\n"
            "2\r\nab\r\nf\r\ncdefghijklmnopq\r\n0\r\n\r\n");
  EXPECT_EQ(e.writes, 3);
  EXPECT_EQ(e.next, sdk::Progress::need_more);
}

TEST(ResponseWriter, LastChunkRidesWithTheLastWrite) {
  Exchange e = run_exchange(kGet, [](sdk::Request&, sdk::ResponseWriter& w) {
    w.start("200 OK", {});
    w.write("ab", false);
    w.write("cd", true);
    EXPECT_EQ(w.finish(), Status::ok);
  });
  EXPECT_NE(e.wire.find("\r\n\r\n2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n"), std::string::npos);
  EXPECT_EQ(e.writes, 2);
}

TEST(ResponseWriter, FinishWithoutBodyIsContentLengthZero) {
  Exchange e = run_exchange(kGet, [](sdk::Request&, sdk::ResponseWriter& w) {
    w.start("201 Created", {});
    w.finish();
  });
  EXPECT_EQ(e.wire, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\nServer: trellis\r\nDate: X\r\n\r\n");
  EXPECT_EQ(e.next, sdk::Progress::need_more);
}

TEST(ResponseWriter, Http10StreamingIsCloseDelimited) {
  Exchange e = run_exchange(kGet10, [](sdk::Request&, sdk::ResponseWriter& w) {
    w.start("200 OK", {});
    w.write("ab", false);
    w.write("cd", false);
    w.finish();
  });
  EXPECT_EQ(e.wire, "HTTP/1.1 200 OK\r\nConnection: close\r\nServer: trellis\r\nDate: X\r\n\r\nabcd");
  EXPECT_EQ(e.next, sdk::Progress::close);
}

TEST(ResponseWriter, Http10KeepAlive) {
  Exchange e = run_exchange("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", default_responder);
  EXPECT_NE(e.wire.find("\r\nConnection: keep-alive\r\n"), std::string::npos);
  EXPECT_EQ(e.next, sdk::Progress::need_more);
  e = run_exchange(kGet10, default_responder);
  EXPECT_NE(e.wire.find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_EQ(e.next, sdk::Progress::close);
}

TEST(ResponseWriter, ClientConnectionClose) {
  Exchange e = run_exchange("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", default_responder);
  EXPECT_NE(e.wire.find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_EQ(e.next, sdk::Progress::close);
}

TEST(ResponseWriter, ApplicationContentLengthIsNeverExceeded) {
  Exchange e = run_exchange(kGet, [](sdk::Request&, sdk::ResponseWriter& w) {
    Field h[] = {{"Content-Length", "5"}};
    w.start("200 OK", h);
    w.write("hello world", false);
    w.write("more", false);
    w.finish();
  });
  EXPECT_EQ(e.wire, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: trellis\r\nDate: X\r\n\r\nhello");
  EXPECT_EQ(e.next, sdk::Progress::need_more);
  ASSERT_EQ(e.logs.size(), 1u);
  EXPECT_EQ(e.logs[0].level, sdk::LogLevel::warn);
}

TEST(ResponseWriter, FewerBytesThanContentLengthCloses) {
  Exchange e = run_exchange(kGet, [](sdk::Request&, sdk::ResponseWriter& w) {
    Field h[] = {{"Content-Length", "10"}};
    w.start("200 OK", h);
    w.write("hello", false);
    w.finish();
  });
  EXPECT_EQ(e.next, kLingeringClose);
  EXPECT_NE(e.wire.find("Content-Length: 10\r\n"), std::string::npos);
}

TEST(ResponseWriter, HeadKeepsContentLengthButSendsNoBody) {
  Exchange e = run_exchange(kHead, [](sdk::Request&, sdk::ResponseWriter& w) {
    Field h[] = {{"Content-Length", "5"}};
    w.start("200 OK", h);
    w.write("hello", true);
  });
  EXPECT_EQ(e.wire, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: trellis\r\nDate: X\r\n\r\n");
  EXPECT_EQ(e.next, sdk::Progress::need_more);
  e = run_exchange(kHead, default_responder);
  EXPECT_EQ(e.wire, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nServer: trellis\r\nDate: X\r\n\r\n");
  e = run_exchange(kHead, [](sdk::Request&, sdk::ResponseWriter& w) {
    w.start("200 OK", {});
    w.write("a", false);
    w.finish();
  });
  EXPECT_EQ(e.wire, "HTTP/1.1 200 OK\r\nServer: trellis\r\nDate: X\r\n\r\n");
  EXPECT_EQ(e.next, sdk::Progress::need_more);
}

TEST(ResponseWriter, NoBodyStatuses) {
  Exchange e = run_exchange(kGet, [](sdk::Request&, sdk::ResponseWriter& w) {
    Field h[] = {{"Content-Length", "3"}};
    w.start("204 No Content", h);
    w.write("abc", true);
  });
  EXPECT_EQ(e.wire, "HTTP/1.1 204 No Content\r\nServer: trellis\r\nDate: X\r\n\r\n");
  EXPECT_EQ(e.next, sdk::Progress::need_more);
  e = run_exchange(kGet, [](sdk::Request&, sdk::ResponseWriter& w) {
    Field h[] = {{"Content-Length", "10"}, {"ETag", "\"x\""}};
    w.start("304 Not Modified", h);
    w.finish();
  });
  EXPECT_EQ(e.wire, "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\nETag: \"x\"\r\nServer: trellis\r\nDate: X\r\n\r\n");
  EXPECT_EQ(e.next, sdk::Progress::need_more);
}

TEST(ResponseWriter, NoBodyStatusesSwallowStreamedBodyAndFiles) {
  char path[] = "/tmp/trellis-http-test-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  unlink(path);
  ASSERT_EQ(::write(fd, "0123456789", 10), 10);
  Exchange e = run_exchange(kGet, [fd](sdk::Request&, sdk::ResponseWriter& w) {
    Field h[] = {{"Content-Length", "5"}, {"X-A", "1"}};
    EXPECT_EQ(w.start("204 No Content", h), Status::ok);
    EXPECT_EQ(w.write("abc", false), Status::ok);
    EXPECT_EQ(w.send_file(fd, 0, -1), Status::ok);
    EXPECT_EQ(w.write("de", false), Status::ok);
    EXPECT_EQ(w.finish(), Status::ok);
  });
  EXPECT_EQ(e.wire, "HTTP/1.1 204 No Content\r\nX-A: 1\r\nServer: trellis\r\nDate: X\r\n\r\n");
  EXPECT_EQ(e.summary.body_bytes, 0u);
  EXPECT_EQ(e.next, sdk::Progress::need_more);
  e = run_exchange(kGet, [fd](sdk::Request&, sdk::ResponseWriter& w) {
    Field h[] = {{"Content-Length", "10"}};
    EXPECT_EQ(w.start("304 Not Modified", h), Status::ok);
    EXPECT_EQ(w.send_file(fd, 0, -1), Status::ok);
    EXPECT_EQ(w.write("0123456789", true), Status::ok);
  });
  close(fd);
  EXPECT_EQ(e.wire, "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\nServer: trellis\r\nDate: X\r\n\r\n");
  EXPECT_EQ(e.summary.body_bytes, 0u);
  EXPECT_EQ(e.next, sdk::Progress::need_more);
}

TEST(ResponseWriter, InterimStatusIsNotAFinalResponse) {
  // QA: start_response('103 Early Hints', []) then a body went out as a 103.
  Exchange e = run_exchange(kGet, [](sdk::Request&, sdk::ResponseWriter& w) {
    for (std::string_view interim : {"100 Continue", "101 Switching Protocols", "103 Early Hints", "199 X"})
      EXPECT_EQ(w.start(interim, {}), Status::invalid_argument) << interim;
    for (std::string_view out_of_range : {"600 X", "999 X", "000 X"})
      EXPECT_EQ(w.start(out_of_range, {}), Status::invalid_argument) << out_of_range;
    EXPECT_EQ(w.write("hello", true), Status::invalid_argument);  // nothing valid started
    EXPECT_FALSE(w.headers_sent());
  });
  // The session completes the exchange with its own 500.
  EXPECT_EQ(e.wire.substr(0, 36), "HTTP/1.1 500 Internal Server Error\r\n");
  EXPECT_EQ(e.wire.find("103"), std::string::npos);
  EXPECT_EQ(e.wire.find("hello"), std::string::npos);
  EXPECT_EQ(e.summary.status, 500);
  bool logged = false;
  for (const auto& [level, text] : e.logs)
    if (text.find("interim (1xx) status") != std::string::npos) logged = true;
  EXPECT_TRUE(logged);

  e = run_exchange(kGet, [](sdk::Request&, sdk::ResponseWriter& w) {
    EXPECT_EQ(w.start("200 OK", {}), Status::ok);
    EXPECT_EQ(w.start("599 Edge", {}), Status::ok);
    w.write("x", true);
  });
  EXPECT_EQ(e.wire, "HTTP/1.1 599 Edge\r\nContent-Length: 1\r\nServer: trellis\r\nDate: X\r\n\r\nx");
}

TEST(ResponseWriter, HeaderInjectionIsRefused) {
  Exchange e = run_exchange(kGet, [](sdk::Request&, sdk::ResponseWriter& w) {
    const std::vector<std::vector<Field>> bad = {
        {{"X-A", "a\r\nSet-Cookie: evil=1"}}, {{"X-A", "a\nb"}},         {{"X-A", "a\rb"}},
        {{"X-A", std::string_view("a\0b", 3)}}, {{"X A", "b"}},          {{"X-A:", "b"}},
        {{"", "b"}},                             {{"X-A\r\nY", "b"}},    {{"X-A", "\x01"}},
        {{"Content-Length", "abc"}},             {{"Content-Length", "-1"}},
        {{"Content-Length", "5"}, {"Content-Length", "6"}},             {{"Transfer-Encoding", "chunked"}}};
    for (const auto& fields : bad) EXPECT_EQ(w.start("200 OK", fields), Status::invalid_argument) << fields[0].name;
    for (std::string_view status : {"20 OK", "200OK", "abc OK", "200 O\r\nK", "2000 OK", "099 X", "600 X", "", "200"})
      EXPECT_EQ(w.start(status, {}), Status::invalid_argument) << status;
    EXPECT_EQ(w.write("x", true), Status::invalid_argument);  // nothing valid started
    EXPECT_EQ(w.start("500 Internal Server Error", {}), Status::ok);
    w.write("oops", true);
  });
  EXPECT_EQ(e.wire.substr(0, 36), "HTTP/1.1 500 Internal Server Error\r\n");
  EXPECT_EQ(e.wire.find("evil"), std::string::npos);
  EXPECT_FALSE(e.logs.empty());
}

TEST(ResponseWriter, HopByHopFieldsFromTheApplicationAreRefused) {
  // PEP 3333 "Other HTTP Features": a fatal error of the application.
  Exchange e = run_exchange(kGet, [](sdk::Request&, sdk::ResponseWriter& w) {
    for (std::string_view name : {"Keep-Alive", "upgrade", "TE", "Trailer", "Trailers", "Transfer-Encoding",
                                  "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection"}) {
      Field f[] = {{name, "x"}};
      EXPECT_EQ(w.start("200 OK", f), Status::invalid_argument) << name;
    }
    // Look-alikes are ordinary fields; Connection is the server's, but an
    // application's "close" is honoured (below).
    Field ok[] = {{"Keep-Alives", "1"}, {"Tea", "2"}, {"Connection", "close"}};
    EXPECT_EQ(w.start("200 OK", ok), Status::ok);
    w.write("ok", true);
  });
  EXPECT_NE(e.wire.find("Keep-Alives: 1\r\nTea: 2\r\n"), std::string::npos) << e.wire;
  EXPECT_NE(e.wire.find("Connection: close\r\n"), std::string::npos) << e.wire;
  EXPECT_EQ(e.next, kLingeringClose);
}

TEST(ResponseWriter, ResetContentHasAnEmptyFramedBody) {
  // RFC 9110 §15.3.6: no content in a 205; it is framed with a zero length
  // (a client does not know a 205 to be bodiless), so keep-alive goes on.
  Exchange e = run_exchange(kGet, [](sdk::Request&, sdk::ResponseWriter& w) {
    Field h[] = {{"Content-Length", "4"}};
    EXPECT_EQ(w.start("205 Reset Content", h), Status::ok);
    EXPECT_EQ(w.write("body", true), Status::ok);
  });
  EXPECT_EQ(e.wire, "HTTP/1.1 205 Reset Content\r\nContent-Length: 0\r\nServer: trellis\r\nDate: X\r\n\r\n");
  EXPECT_EQ(e.next, sdk::Progress::need_more);
  EXPECT_EQ(e.summary.body_bytes, 0u);
}

TEST(ResponseWriter, EmptyReasonPhraseIsValid) {
  Exchange e = run_exchange(kGet, [](sdk::Request&, sdk::ResponseWriter& w) {
    EXPECT_EQ(w.start("299 ", {}), Status::ok);
    w.finish();
  });
  EXPECT_EQ(e.wire.substr(0, 15), "HTTP/1.1 299 \r\n");
}

TEST(ResponseWriter, ApplicationConnectionCloseIsHonoured) {
  Exchange e = run_exchange(kGet, [](sdk::Request&, sdk::ResponseWriter& w) {
    Field h[] = {{"Connection", "Close"}};
    w.start("200 OK", h);
    w.write("x", true);
  });
  EXPECT_EQ(e.wire, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\nServer: trellis\r\nDate: X\r\n\r\nx");
  EXPECT_EQ(e.next, kLingeringClose);
}

TEST(ResponseWriter, ApplicationDateAndServerAreKept) {
  Exchange e = run_exchange(kGet, [](sdk::Request&, sdk::ResponseWriter& w) {
    Field h[] = {{"server", "mine"}, {"DATE", "Thu, 01 Jan 1970 00:00:00 GMT"}};
    w.start("200 OK", h);
    w.finish();
  });
  EXPECT_EQ(e.wire, "HTTP/1.1 200 OK\r\nserver: mine\r\nDATE: Thu, 01 Jan 1970 00:00:00 GMT\r\nContent-Length: 0\r\n\r\n");
}

TEST(ResponseWriter, StartCanBeRepeatedUntilHeadersAreSent) {
  Exchange e = run_exchange(kGet, [](sdk::Request&, sdk::ResponseWriter& w) {
    Field h[] = {{"X-First", "1"}};
    w.start("200 OK", h);
    w.start("503 Service Unavailable", {});
    w.write("busy", true);
    EXPECT_EQ(w.start("200 OK", {}), Status::unsupported);
    EXPECT_EQ(w.write("more", false), Status::unsupported);
  });
  EXPECT_EQ(e.wire.substr(0, 34), "HTTP/1.1 503 Service Unavailable\r\n");
  EXPECT_EQ(e.wire.find("X-First"), std::string::npos);
  EXPECT_EQ(e.summary.status, 503);
}

TEST(ResponseWriter, AbortAfterHeadersNeverCompletesTheChunkedBody) {
  Exchange e = run_exchange(kGet, [](sdk::Request&, sdk::ResponseWriter& w) {
    w.start("200 OK", {});
    w.write("abc", false);
    w.abort();
    EXPECT_EQ(w.write("x", false), Status::unsupported);
  });
  EXPECT_EQ(e.wire.size() - e.wire.rfind("3\r\nabc\r\n"), 8u);  // ends right after the chunk
  EXPECT_EQ(e.next, sdk::Progress::close);
  EXPECT_TRUE(e.transport_aborted);  // the connection is reset, not closed cleanly
}

TEST(ResponseWriter, AbortBeforeHeadersSendsNothing) {
  Exchange e = run_exchange(kGet, [](sdk::Request&, sdk::ResponseWriter& w) {
    w.start("200 OK", {});
    w.abort();
  });
  EXPECT_EQ(e.wire, "");
  EXPECT_EQ(e.next, sdk::Progress::close);
  EXPECT_FALSE(e.transport_aborted);
}

TEST(ResponseWriter, DrainingClosesAfterTheResponse) {
  Exchange e = run_exchange(kGet, default_responder, /*drain=*/true);
  EXPECT_NE(e.wire.find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_EQ(e.next, kLingeringClose);
}

TEST(ResponseWriter, RuntimeThatNeverAnsweredGets500) {
  Exchange e = run_exchange(kGet, [](sdk::Request&, sdk::ResponseWriter&) {});
  EXPECT_EQ(e.wire.substr(0, 36), "HTTP/1.1 500 Internal Server Error\r\n");
  EXPECT_EQ(e.next, sdk::Progress::need_more);
}

TEST(ResponseWriter, UnfinishedResponseIsFinished) {
  Exchange e = run_exchange(kGet, [](sdk::Request&, sdk::ResponseWriter& w) {
    w.start("200 OK", {});
    w.write("abc", false);
  });
  EXPECT_EQ(e.wire.substr(e.wire.size() - 5), "0\r\n\r\n");
  EXPECT_EQ(e.next, sdk::Progress::need_more);
}

TEST(ResponseWriter, WriteFailureClosesTheConnection) {
  Exchange e = run_exchange(kGet, [](sdk::Request&, sdk::ResponseWriter& w) {
    w.start("200 OK", {});
    EXPECT_EQ(w.write("abc", true), Status::closed);
  }, false, /*fail_writes=*/true);
  EXPECT_EQ(e.next, sdk::Progress::close);
}

TEST(ResponseWriter, SendFileIsFramed) {
  std::FILE* f = std::tmpfile();
  std::fputs("0123456789", f);
  std::fflush(f);
  int fd = fileno(f);
  Exchange e = run_exchange(kGet, [fd](sdk::Request&, sdk::ResponseWriter& w) {
    w.start("200 OK", {});
    EXPECT_EQ(w.send_file(fd, 2, -1), Status::ok);
    w.finish();
  });
  EXPECT_NE(e.wire.find("Transfer-Encoding: chunked\r\n"), std::string::npos);
  EXPECT_EQ(e.wire.substr(e.wire.find("\r\n\r\n") + 4), "8\r\n23456789\r\n0\r\n\r\n");
  EXPECT_EQ(e.next, sdk::Progress::need_more);
  e = run_exchange(kGet, [fd](sdk::Request&, sdk::ResponseWriter& w) {
    Field h[] = {{"Content-Length", "4"}};
    w.start("200 OK", h);
    EXPECT_EQ(w.send_file(fd, 0, 6), Status::ok);
    w.finish();
  });
  EXPECT_EQ(e.wire.substr(e.wire.find("\r\n\r\n") + 4), "0123");
  EXPECT_EQ(e.summary.body_bytes, 4u);
  EXPECT_EQ(e.next, sdk::Progress::need_more);
  std::fclose(f);
}

TEST(ResponseWriter, PipelinedRequestIsParsedAfterTheResponse) {
  FakeTransport t;
  HttpSession* s = HttpSession::create(t, default_config());
  std::string in = kGet + "GET /second HTTP/1.1\r\nHost: a\r\n\r\nGET /thi";
  std::span<char> space = s->read_space();
  std::memcpy(space.data(), in.data(), in.size());
  ASSERT_EQ(s->on_received(in.size()), sdk::Progress::request_ready);
  EXPECT_EQ(s->request().path, "/");
  default_responder(s->request(), s->response());
  ASSERT_EQ(s->finish_request(), sdk::Progress::request_ready);
  EXPECT_EQ(s->request().path, "/second");
  default_responder(s->request(), s->response());
  EXPECT_EQ(s->finish_request(), sdk::Progress::need_more);
  EXPECT_EQ(s->phase(), sdk::Phase::head);
  s->release();
}

TEST(ResponseWriter, PhaseFollowsTheConnection) {
  FakeTransport t;
  HttpSession* s = HttpSession::create(t, default_config());
  EXPECT_EQ(s->phase(), sdk::Phase::idle);
  std::string in = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\na";
  std::memcpy(s->read_space().data(), in.data(), in.size());
  EXPECT_EQ(s->on_received(in.size() - 2), sdk::Progress::need_more);
  EXPECT_EQ(s->phase(), sdk::Phase::head);
  // (the remaining bytes were already copied into the read space)
  EXPECT_EQ(s->on_received(2), sdk::Progress::need_more);
  EXPECT_EQ(s->phase(), sdk::Phase::body);
  std::memcpy(s->read_space().data(), "bc", 2);
  EXPECT_EQ(s->on_received(2), sdk::Progress::request_ready);
  default_responder(s->request(), s->response());
  EXPECT_EQ(s->finish_request(), sdk::Progress::need_more);
  EXPECT_EQ(s->phase(), sdk::Phase::idle);
  s->release();
}

// A response after which the connection closes leaves with the end of the
// stream (Transport::write_last): its final bytes carry the FIN, so the client
// sees the end at once, even while the runtime still runs. Keep-alive
// responses never end the stream.
const std::string kGetClose = "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
const std::string kHeadClose = "HEAD / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";

void hello(sdk::Request&, sdk::ResponseWriter& w) {
  w.start("200 OK", {});
  w.write("hello", true);
}

TEST(ResponseEnd, KeepAliveResponsesNeverEndTheStream) {
  EXPECT_EQ(run_exchange(kGet, hello).ends, 0);
  Exchange streamed = run_exchange(kGet, [](sdk::Request&, sdk::ResponseWriter& w) {
    w.start("200 OK", {});
    w.write("ab", false);
    w.finish();
  });
  EXPECT_EQ(streamed.ends, 0);
  EXPECT_EQ(streamed.next, sdk::Progress::need_more);
}

TEST(ResponseEnd, OneWriteResponseEndsTheStreamWithIt) {
  Exchange e = run_exchange(kGetClose, hello);
  EXPECT_EQ(e.writes, 1);
  EXPECT_EQ(e.ends, 1);
  EXPECT_EQ(e.ended_at, e.wire.size() + std::string("Tue, 01 Jan 2030 00:00:00 GMT").size() - 1);
  EXPECT_NE(e.wire.find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(e.next, sdk::Progress::close);
}

TEST(ResponseEnd, TheWriteThatCompletesTheContentLengthEndsTheStream) {
  Exchange e = run_exchange(kGetClose, [](sdk::Request&, sdk::ResponseWriter& w) {
    Field h[] = {{"Content-Length", "5"}};
    w.start("200 OK", h);
    EXPECT_EQ(w.write("hel", false), Status::ok);
    EXPECT_EQ(w.write("lo", false), Status::ok);
    EXPECT_EQ(w.write("", false), Status::ok);  // nothing left to send
    EXPECT_EQ(w.finish(), Status::ok);
  });
  EXPECT_EQ(e.writes, 2);
  EXPECT_EQ(e.ends, 1);
  EXPECT_TRUE(e.wire.ends_with("\r\n\r\nhello")) << e.wire;
}

TEST(ResponseEnd, ChunkedResponseEndsWithItsLastChunk) {
  Exchange e = run_exchange(kGetClose, [](sdk::Request&, sdk::ResponseWriter& w) {
    w.start("200 OK", {});
    w.write("ab", false);
    w.finish();
  });
  EXPECT_EQ(e.ends, 1);
  EXPECT_TRUE(e.wire.ends_with("2\r\nab\r\n0\r\n\r\n")) << e.wire;
  EXPECT_EQ(e.writes, 2);  // the terminator is the write that ends the stream
}

TEST(ResponseEnd, CloseDelimitedHttp10BodyEndsAtFinish) {
  Exchange e = run_exchange(kGet10, [](sdk::Request&, sdk::ResponseWriter& w) {
    w.start("200 OK", {});
    w.write("ab", false);
    w.write("cd", false);
    w.finish();
  });
  EXPECT_EQ(e.ends, 1);
  EXPECT_EQ(e.writes, 3);  // head+ab, cd, then the end alone
  EXPECT_TRUE(e.wire.ends_with("\r\n\r\nabcd")) << e.wire;
}

TEST(ResponseEnd, HeadResponseEndsWithItsHead) {
  Exchange e = run_exchange(kHeadClose, [](sdk::Request&, sdk::ResponseWriter& w) {
    w.start("200 OK", {});
    w.write("ignored body", false);
    w.finish();
  });
  EXPECT_EQ(e.ends, 1);
  EXPECT_TRUE(e.wire.ends_with("\r\n\r\n")) << e.wire;
}

TEST(ResponseEnd, DrainingServerEndsTheStream) {
  Exchange e = run_exchange(kGet, hello, /*drain=*/true);
  EXPECT_EQ(e.ends, 1);
  EXPECT_EQ(e.next, kLingeringClose);
}

TEST(ResponseEnd, AbortNeverEndsTheStreamCleanly) {
  Exchange e = run_exchange(kGetClose, [](sdk::Request&, sdk::ResponseWriter& w) {
    w.start("200 OK", {});
    w.write("ab", false);
    w.abort();
  });
  EXPECT_EQ(e.ends, 0);
  EXPECT_TRUE(e.transport_aborted);
}

// RFC 9112 §9.6: closing with unread client bytes makes the kernel reset
// the connection and destroy the response in flight; the session asks for a
// lingering close whenever the client may still be sending.
TEST(ResponseEnd, ClientThatAskedToCloseAndSentNothingMoreGetsAPlainClose) {
  EXPECT_EQ(run_exchange(kGetClose, hello).next, sdk::Progress::close);
  EXPECT_EQ(run_exchange(kGet10, hello).next, sdk::Progress::close);
}

TEST(ResponseEnd, BytesAfterAClosingRequestMeanALingeringClose) {
  for (const std::string& extra : {kGet, std::string("\r\n")}) {
    Exchange e = run_exchange(kGetClose + extra, hello);
    EXPECT_EQ(e.next, kLingeringClose) << extra;
    EXPECT_EQ(e.ends, 1);  // the response itself still ends the stream at once
  }
}

TEST(ResponseEnd, KeepAliveClientAnsweredWithACloseGetsALingeringClose) {
  Exchange e = run_exchange(kGet, [](sdk::Request&, sdk::ResponseWriter& w) {
    Field h[] = {{"Connection", "close"}};
    w.start("200 OK", h);
    w.write("bye", true);
  });
  EXPECT_EQ(e.next, kLingeringClose);
}

TEST(ResponseEnd, AbortedResponseEndsInAReset) {
  Exchange e = run_exchange(kGet, [](sdk::Request&, sdk::ResponseWriter& w) {
    w.start("200 OK", {});
    w.write("ab", false);
    w.abort();
  });
  EXPECT_EQ(e.next, sdk::Progress::close);  // never a clean half-close
  EXPECT_TRUE(e.transport_aborted);
}

}  // namespace
}  // namespace trellis::http::test
