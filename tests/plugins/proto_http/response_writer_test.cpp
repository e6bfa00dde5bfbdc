// The response side: HttpSession as the StreamSink of its stream, and the
// keep-alive decisions after it, through the fake core, which records
// exactly what went on the wire and how the connection ended.
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

// How the connection went on after the exchange.
enum class Next {
  keep_alive,       // reading the next request
  close,            // CloseMode::after_write: nothing more to read from the client
  lingering_close,  // CloseMode::graceful: half-close, drain what the client still sends
  reset,            // CloseMode::abort
  in_progress,      // the response is not done
};

std::ostream& operator<<(std::ostream& os, Next n) {
  const char* names[] = {"keep_alive", "close", "lingering_close", "reset", "in_progress"};
  return os << names[static_cast<int>(n)];
}

struct Exchange {
  std::string wire;  // Date values replaced by "X"
  Next next = Next::in_progress;
  int writes = 0;
  int files = 0;
  trellis_response_summary summary{};
  std::vector<FakeHost::Line> logs;
  bool stream_closed = false;
  bool stream_reset = false;
  int ends = 0;              // write_last() calls: the sending side was shut
  std::size_t ended_at = 0;  // bytes on the wire when it was
  sdk::Phase phase = sdk::Phase::idle;
};

Next next_of(const FakeConnection& c, const FakeStream& s) {
  if (c.closes == 0) return s.closed || s.reset ? Next::keep_alive : Next::in_progress;
  switch (c.close_mode) {
    case TRELLIS_CLOSE_AFTER_WRITE: return Next::close;
    case TRELLIS_CLOSE_GRACEFUL: return Next::lingering_close;
    default: return Next::reset;
  }
}

Exchange run_exchange(const std::string& request, const Responder& app, bool drain = false, bool fail_writes = false) {
  Rig rig;
  EXPECT_EQ(rig.feed(request), 0u);
  Exchange e;
  EXPECT_EQ(rig.host.streams.size(), 1u);
  if (rig.host.streams.empty()) return e;
  if (drain) rig.session->on_drain();
  rig.conn.fail_writes = fail_writes;
  sdk::Stream rt = rig.runtime();
  app(rt.request(), rt);
  const FakeStream& s = rig.stream();
  e.next = next_of(rig.conn, s);
  e.summary = s.summary;
  e.stream_closed = s.closed;
  e.stream_reset = s.reset;
  e.writes = rig.conn.writes;
  e.files = rig.conn.files;
  e.wire = std::regex_replace(rig.conn.wire, std::regex("Date: [^\r]+"), "Date: X");
  e.logs = rig.host.logs;
  e.ends = rig.conn.ended ? 1 : 0;
  e.ended_at = rig.conn.ended_at;
  e.phase = rig.session->phase();
  return e;
}

bool logged(const Exchange& e, std::string_view text) {
  for (const auto& l : e.logs)
    if (l.text.find(text) != std::string::npos) return true;
  return false;
}

const std::size_t kDateLen = std::string("Tue, 01 Jan 2030 00:00:00 GMT").size();

TEST(ResponseWriter, HelloWorldIsOneWriteWithContentLength) {
  Exchange e = run_exchange(kGet, [](const sdk::Request&, sdk::Stream& w) {
    Field h[] = {{"Content-Type", "text/plain"}};
    EXPECT_EQ(w.start("200 OK", h), Status::ok);
    EXPECT_FALSE(w.head_sent());
    EXPECT_EQ(w.write("hello", true), Status::ok);
    EXPECT_TRUE(w.head_sent());
    EXPECT_EQ(w.finish(), Status::ok);
  });
  EXPECT_EQ(e.wire,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nServer: trellis\r\nDate: X\r\n\r\nhello");
  EXPECT_EQ(e.writes, 1);
  EXPECT_EQ(e.next, Next::keep_alive);
  EXPECT_EQ(e.phase, sdk::Phase::idle);
  EXPECT_TRUE(e.stream_closed);
  EXPECT_EQ(e.summary.status, 200);
  EXPECT_EQ(e.summary.body_bytes, 5u);
  EXPECT_EQ(e.summary.wire_bytes, e.wire.size() + kDateLen - 1);
}

TEST(ResponseWriter, StreamingIsChunkedOnHttp11) {
  Exchange e = run_exchange(kGet, [](const sdk::Request&, sdk::Stream& w) {
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
  EXPECT_EQ(e.next, Next::keep_alive);
}

TEST(ResponseWriter, LastChunkRidesWithTheLastWrite) {
  Exchange e = run_exchange(kGet, [](const sdk::Request&, sdk::Stream& w) {
    w.start("200 OK", {});
    w.write("ab", false);
    w.write("cd", true);
    EXPECT_EQ(w.finish(), Status::ok);
  });
  EXPECT_NE(e.wire.find("\r\n\r\n2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n"), std::string::npos);
  EXPECT_EQ(e.writes, 2);
}

TEST(ResponseWriter, SeveralChunksInOneWriteAreOneHttpChunk) {
  Exchange e = run_exchange(kGet, [](const sdk::Request&, sdk::Stream& w) {
    w.start("200 OK", {});
    trellis_chunk parts[] = {sdk::bytes_chunk("abc"), sdk::bytes_chunk(""), sdk::bytes_chunk("defghijklmnop")};
    EXPECT_EQ(w.write(parts, false), Status::ok);
    w.finish();
  });
  EXPECT_TRUE(e.wire.ends_with("\r\n\r\n10\r\nabcdefghijklmnop\r\n0\r\n\r\n")) << e.wire;
  EXPECT_EQ(e.summary.body_bytes, 16u);
}

TEST(ResponseWriter, FinishWithoutBodyIsContentLengthZero) {
  Exchange e = run_exchange(kGet, [](const sdk::Request&, sdk::Stream& w) {
    w.start("201 Created", {});
    w.finish();
  });
  EXPECT_EQ(e.wire, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\nServer: trellis\r\nDate: X\r\n\r\n");
  EXPECT_EQ(e.next, Next::keep_alive);
}

TEST(ResponseWriter, Http10StreamingIsCloseDelimited) {
  Exchange e = run_exchange(kGet10, [](const sdk::Request&, sdk::Stream& w) {
    w.start("200 OK", {});
    w.write("ab", false);
    w.write("cd", false);
    w.finish();
  });
  EXPECT_EQ(e.wire, "HTTP/1.1 200 OK\r\nConnection: close\r\nServer: trellis\r\nDate: X\r\n\r\nabcd");
  EXPECT_EQ(e.next, Next::close);
}

TEST(ResponseWriter, Http10KeepAlive) {
  Exchange e = run_exchange("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", default_responder);
  EXPECT_NE(e.wire.find("\r\nConnection: keep-alive\r\n"), std::string::npos);
  EXPECT_EQ(e.next, Next::keep_alive);
  e = run_exchange(kGet10, default_responder);
  EXPECT_NE(e.wire.find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_EQ(e.next, Next::close);
}

TEST(ResponseWriter, ClientConnectionClose) {
  Exchange e = run_exchange("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", default_responder);
  EXPECT_NE(e.wire.find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_EQ(e.next, Next::close);
}

TEST(ResponseWriter, ApplicationContentLengthIsNeverExceeded) {
  Exchange e = run_exchange(kGet, [](const sdk::Request&, sdk::Stream& w) {
    Field h[] = {{"Content-Length", "5"}};
    w.start("200 OK", h);
    w.write("hello world", false);
    w.write("more", false);
    w.finish();
  });
  EXPECT_EQ(e.wire, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: trellis\r\nDate: X\r\n\r\nhello");
  EXPECT_EQ(e.next, Next::keep_alive);
  ASSERT_EQ(e.logs.size(), 1u);
  EXPECT_EQ(e.logs[0].level, sdk::LogLevel::warn);
}

TEST(ResponseWriter, FewerBytesThanContentLengthCloses) {
  Exchange e = run_exchange(kGet, [](const sdk::Request&, sdk::Stream& w) {
    Field h[] = {{"Content-Length", "10"}};
    w.start("200 OK", h);
    w.write("hello", false);
    w.finish();
  });
  EXPECT_EQ(e.next, Next::lingering_close);
  EXPECT_NE(e.wire.find("Content-Length: 10\r\n"), std::string::npos);
}

TEST(ResponseWriter, HeadKeepsContentLengthButSendsNoBody) {
  Exchange e = run_exchange(kHead, [](const sdk::Request&, sdk::Stream& w) {
    Field h[] = {{"Content-Length", "5"}};
    w.start("200 OK", h);
    w.write("hello", true);
    w.finish();
  });
  EXPECT_EQ(e.wire, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: trellis\r\nDate: X\r\n\r\n");
  EXPECT_EQ(e.next, Next::keep_alive);
  e = run_exchange(kHead, default_responder);
  EXPECT_EQ(e.wire, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nServer: trellis\r\nDate: X\r\n\r\n");
  e = run_exchange(kHead, [](const sdk::Request&, sdk::Stream& w) {
    w.start("200 OK", {});
    w.write("a", false);
    w.finish();
  });
  EXPECT_EQ(e.wire, "HTTP/1.1 200 OK\r\nServer: trellis\r\nDate: X\r\n\r\n");
  EXPECT_EQ(e.next, Next::keep_alive);
}

TEST(ResponseWriter, NoBodyStatuses) {
  Exchange e = run_exchange(kGet, [](const sdk::Request&, sdk::Stream& w) {
    Field h[] = {{"Content-Length", "3"}};
    w.start("204 No Content", h);
    w.write("abc", true);
    w.finish();
  });
  EXPECT_EQ(e.wire, "HTTP/1.1 204 No Content\r\nServer: trellis\r\nDate: X\r\n\r\n");
  EXPECT_EQ(e.next, Next::keep_alive);
  e = run_exchange(kGet, [](const sdk::Request&, sdk::Stream& w) {
    Field h[] = {{"Content-Length", "10"}, {"ETag", "\"x\""}};
    w.start("304 Not Modified", h);
    w.finish();
  });
  EXPECT_EQ(e.wire, "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\nETag: \"x\"\r\nServer: trellis\r\nDate: X\r\n\r\n");
  EXPECT_EQ(e.next, Next::keep_alive);
}

struct TempFile {
  int fd = -1;
  explicit TempFile(std::string_view content) {
    char path[] = "/tmp/trellis-http-test-XXXXXX";
    fd = mkstemp(path);
    if (fd < 0) return;
    unlink(path);
    if (::write(fd, content.data(), content.size()) != static_cast<ssize_t>(content.size())) {
      close(fd);
      fd = -1;
    }
  }
  ~TempFile() {
    if (fd >= 0) close(fd);
  }
};

TEST(ResponseWriter, NoBodyStatusesSwallowStreamedBodyAndFiles) {
  TempFile f("0123456789");
  ASSERT_GE(f.fd, 0);
  const int fd = f.fd;
  Exchange e = run_exchange(kGet, [fd](const sdk::Request&, sdk::Stream& w) {
    Field h[] = {{"Content-Length", "5"}, {"X-A", "1"}};
    EXPECT_EQ(w.start("204 No Content", h), Status::ok);
    EXPECT_EQ(w.write("abc", false), Status::ok);
    EXPECT_EQ(w.write_file(fd, 0, -1), Status::ok);
    EXPECT_EQ(w.write("de", false), Status::ok);
    EXPECT_EQ(w.finish(), Status::ok);
  });
  EXPECT_EQ(e.wire, "HTTP/1.1 204 No Content\r\nX-A: 1\r\nServer: trellis\r\nDate: X\r\n\r\n");
  EXPECT_EQ(e.summary.body_bytes, 0u);
  EXPECT_EQ(e.files, 0);
  EXPECT_EQ(e.next, Next::keep_alive);
  e = run_exchange(kGet, [fd](const sdk::Request&, sdk::Stream& w) {
    Field h[] = {{"Content-Length", "10"}};
    EXPECT_EQ(w.start("304 Not Modified", h), Status::ok);
    EXPECT_EQ(w.write_file(fd, 0, -1), Status::ok);
    EXPECT_EQ(w.write("0123456789", true), Status::ok);
    EXPECT_EQ(w.finish(), Status::ok);
  });
  EXPECT_EQ(e.wire, "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\nServer: trellis\r\nDate: X\r\n\r\n");
  EXPECT_EQ(e.summary.body_bytes, 0u);
  EXPECT_EQ(e.next, Next::keep_alive);
}

TEST(ResponseWriter, InterimStatusIsNotAFinalResponse) {
  // QA: start_response('103 Early Hints', []) then a body went out as a 103.
  Exchange e = run_exchange(kGet, [](const sdk::Request&, sdk::Stream& w) {
    for (std::string_view interim : {"100 Continue", "101 Switching Protocols", "103 Early Hints", "199 X"})
      EXPECT_EQ(w.start(interim, {}), Status::invalid_argument) << interim;
    for (std::string_view out_of_range : {"600 X", "999 X", "000 X"})
      EXPECT_EQ(w.start(out_of_range, {}), Status::invalid_argument) << out_of_range;
    EXPECT_EQ(w.write("hello", true), Status::invalid_argument);  // nothing valid started
    // The runtime finishes anyway: the session answers with its own 500.
    EXPECT_EQ(w.finish(), Status::ok);
  });
  EXPECT_EQ(e.wire.substr(0, 36), "HTTP/1.1 500 Internal Server Error\r\n");
  EXPECT_EQ(e.wire.find("103"), std::string::npos);
  EXPECT_EQ(e.wire.find("hello"), std::string::npos);
  EXPECT_EQ(e.summary.status, 500);
  EXPECT_TRUE(logged(e, "finished without a response"));
  // check_head is pure (no log); the reason is the checker's to say.
  ResponseStartInfo info;
  EXPECT_STREQ(check_response_start("103 Early Hints", {}, info), "interim (1xx) status as the final response");

  e = run_exchange(kGet, [](const sdk::Request&, sdk::Stream& w) {
    EXPECT_EQ(w.start("200 OK", {}), Status::ok);
    EXPECT_EQ(w.start("599 Edge", {}), Status::ok);
    w.write("x", true);
    w.finish();
  });
  EXPECT_EQ(e.wire, "HTTP/1.1 599 Edge\r\nContent-Length: 1\r\nServer: trellis\r\nDate: X\r\n\r\nx");
}

TEST(ResponseWriter, CheckHeadSaysWhyItRefuses) {
  // The core logs the reason check_head gives (the sink trusts what the
  // core checked, so this is the one place that says why).
  auto reason_for = [](std::string_view status, std::vector<Field> fields) {
    std::vector<trellis_field> c;
    for (auto& f : fields) c.push_back(sdk::to_c(f));
    trellis_response_head h{sizeof h, 0, sdk::to_c(status), c.data(), c.size()};
    const char* reason = nullptr;
    EXPECT_EQ(check_response_head(sdk::ResponseHead::from(&h), reason), Status::invalid_argument) << status;
    return std::string(reason ? reason : "");
  };
  EXPECT_EQ(reason_for("103 Early Hints", {}), "interim (1xx) status as the final response");
  EXPECT_EQ(reason_for("200 OK", {{"X-A", "a\r\nb"}}), "control character in a response header value");
  EXPECT_EQ(reason_for("200 OK", {{"Upgrade", "x"}}), "hop-by-hop header field set by the application");
  Rig rig;
  rig.feed(kGet);
  sdk::Stream rt = rig.runtime();
  EXPECT_EQ(rt.start("103 Early Hints", {}), Status::invalid_argument);
  EXPECT_EQ(rig.conn.wire, "");
}

TEST(ResponseWriter, HeaderInjectionIsRefused) {
  Exchange e = run_exchange(kGet, [](const sdk::Request&, sdk::Stream& w) {
    const std::vector<std::vector<Field>> bad = {
        {{"X-A", "a\r\nSet-Cookie: evil=1"}}, {{"X-A", "a\nb"}},         {{"X-A", "a\rb"}},
        {{"X-A", std::string_view("a\0b", 3)}}, {{"X A", "b"}},          {{"X-A:", "b"}},
        {{"", "b"}},                             {{"X-A\r\nY", "b"}},    {{"X-A", "\x01"}},
        {{"Content-Length", "abc"}},             {{"Content-Length", "-1"}},
        {{"Content-Length", "5"}, {"Content-Length", "6"}},             {{"Transfer-Encoding", "chunked"}}};
    for (const auto& fields : bad) EXPECT_EQ(w.start("200 OK", fields), Status::invalid_argument) << fields[0].name;
    for (std::string_view status : {"20 OK", "200OK", "abc OK", "200 O\r\nK", "2000 OK", "099 X", "600 X", "", "200"})
      EXPECT_EQ(w.start(status, {}), Status::invalid_argument) << status;
    // (A write now would be refused, InterimStatusIsNotAFinalResponse; the
    // fake core then counts the head as sent and refuses any start.)
    EXPECT_EQ(w.start("500 Internal Server Error", {}), Status::ok);
    w.write("oops", true);
    w.finish();
  });
  EXPECT_EQ(e.wire.substr(0, 36), "HTTP/1.1 500 Internal Server Error\r\n");
  EXPECT_EQ(e.wire.find("evil"), std::string::npos);
  EXPECT_TRUE(e.wire.ends_with("\r\n\r\noops")) << e.wire;
}

TEST(ResponseWriter, HopByHopFieldsFromTheApplicationAreRefused) {
  // PEP 3333 "Other HTTP Features": a fatal error of the application.
  Exchange e = run_exchange(kGet, [](const sdk::Request&, sdk::Stream& w) {
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
    w.finish();
  });
  EXPECT_NE(e.wire.find("Keep-Alives: 1\r\nTea: 2\r\n"), std::string::npos) << e.wire;
  EXPECT_NE(e.wire.find("Connection: close\r\n"), std::string::npos) << e.wire;
  EXPECT_EQ(e.next, Next::lingering_close);
}

TEST(ResponseWriter, ResetContentHasAnEmptyFramedBody) {
  // RFC 9110 §15.3.6: no content in a 205; it is framed with a zero length
  // (a client does not know a 205 to be bodiless), so keep-alive goes on.
  Exchange e = run_exchange(kGet, [](const sdk::Request&, sdk::Stream& w) {
    Field h[] = {{"Content-Length", "4"}};
    EXPECT_EQ(w.start("205 Reset Content", h), Status::ok);
    EXPECT_EQ(w.write("body", true), Status::ok);
    w.finish();
  });
  EXPECT_EQ(e.wire, "HTTP/1.1 205 Reset Content\r\nContent-Length: 0\r\nServer: trellis\r\nDate: X\r\n\r\n");
  EXPECT_EQ(e.next, Next::keep_alive);
  EXPECT_EQ(e.summary.body_bytes, 0u);
}

TEST(ResponseWriter, EmptyReasonPhraseIsValid) {
  Exchange e = run_exchange(kGet, [](const sdk::Request&, sdk::Stream& w) {
    EXPECT_EQ(w.start("299 ", {}), Status::ok);
    w.finish();
  });
  EXPECT_EQ(e.wire.substr(0, 15), "HTTP/1.1 299 \r\n");
}

TEST(ResponseWriter, ApplicationConnectionCloseIsHonoured) {
  Exchange e = run_exchange(kGet, [](const sdk::Request&, sdk::Stream& w) {
    Field h[] = {{"Connection", "Close"}};
    w.start("200 OK", h);
    w.write("x", true);
    w.finish();
  });
  EXPECT_EQ(e.wire, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\nServer: trellis\r\nDate: X\r\n\r\nx");
  EXPECT_EQ(e.next, Next::lingering_close);
}

TEST(ResponseWriter, ApplicationDateAndServerAreKept) {
  Exchange e = run_exchange(kGet, [](const sdk::Request&, sdk::Stream& w) {
    Field h[] = {{"server", "mine"}, {"DATE", "Thu, 01 Jan 1970 00:00:00 GMT"}};
    w.start("200 OK", h);
    w.finish();
  });
  EXPECT_EQ(e.wire, "HTTP/1.1 200 OK\r\nserver: mine\r\nDATE: Thu, 01 Jan 1970 00:00:00 GMT\r\nContent-Length: 0\r\n\r\n");
}

TEST(ResponseWriter, StartCanBeRepeatedUntilHeadersAreSent) {
  Exchange e = run_exchange(kGet, [](const sdk::Request&, sdk::Stream& w) {
    Field h[] = {{"X-First", "1"}};
    w.start("200 OK", h);
    w.start("503 Service Unavailable", {});
    w.write("busy", true);
    EXPECT_EQ(w.start("200 OK", {}), Status::unsupported);
    EXPECT_EQ(w.write("more", false), Status::unsupported);  // after `last`
    w.finish();
  });
  EXPECT_EQ(e.wire.substr(0, 34), "HTTP/1.1 503 Service Unavailable\r\n");
  EXPECT_EQ(e.wire.find("X-First"), std::string::npos);
  EXPECT_EQ(e.wire.find("more"), std::string::npos);
  EXPECT_EQ(e.summary.status, 503);
}

TEST(ResponseWriter, AbortAfterHeadersNeverCompletesTheChunkedBody) {
  Exchange e = run_exchange(kGet, [](const sdk::Request&, sdk::Stream& w) {
    w.start("200 OK", {});
    w.write("abc", false);
    w.abort();
    EXPECT_EQ(w.write("x", false), Status::closed);
  });
  EXPECT_EQ(e.wire.size() - e.wire.rfind("3\r\nabc\r\n"), 8u);  // ends right after the chunk
  EXPECT_EQ(e.next, Next::reset);  // the connection is reset, not closed cleanly
  EXPECT_TRUE(e.stream_closed);
  EXPECT_EQ(e.summary.status, 200);
  EXPECT_EQ(e.summary.body_bytes, 3u);
}

TEST(ResponseWriter, AbortBeforeHeadersSendsNothing) {
  Exchange e = run_exchange(kGet, [](const sdk::Request&, sdk::Stream& w) {
    w.start("200 OK", {});
    w.abort();
  });
  EXPECT_EQ(e.wire, "");
  EXPECT_EQ(e.next, Next::close);  // nothing was cut: a plain close
}

TEST(ResponseWriter, DrainingClosesAfterTheResponse) {
  Exchange e = run_exchange(kGet, default_responder, /*drain=*/true);
  EXPECT_NE(e.wire.find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_EQ(e.next, Next::lingering_close);
}

TEST(ResponseWriter, DrainAfterAKeepAliveHeadKeepsTheConnection) {
  // The head already promised keep-alive: the client may be sending its
  // next request, which is answered with "Connection: close".
  Rig rig;
  rig.feed(kGet);
  sdk::Stream rt = rig.runtime();
  rt.start("200 OK", {});
  rt.write("ab", false);
  rig.session->on_drain();
  rt.finish();
  EXPECT_EQ(rig.conn.closes, 0);
  rig.feed(kGet);
  ASSERT_EQ(rig.host.streams.size(), 2u);
  sdk::Stream rt2 = rig.runtime(1);
  default_responder(rt2.request(), rt2);
  const std::size_t second = rig.conn.wire.rfind("HTTP/1.1 200 OK");
  ASSERT_NE(second, 0u);
  EXPECT_EQ(rig.conn.wire.substr(0, second).find("Connection: close"), std::string::npos);
  EXPECT_NE(rig.conn.wire.find("Connection: close\r\n", second), std::string::npos);
  EXPECT_EQ(rig.conn.close_mode, static_cast<std::uint32_t>(TRELLIS_CLOSE_GRACEFUL));
}

TEST(ResponseWriter, DrainingIdleConnectionWaitsForItsNextRequest) {
  Rig rig;
  rig.session->on_drain();
  EXPECT_EQ(rig.conn.closes, 0);
  EXPECT_EQ(rig.session->phase(), sdk::Phase::idle);
  rig.feed(kGet);
  sdk::Stream rt = rig.runtime();
  default_responder(rt.request(), rt);
  EXPECT_NE(rig.conn.wire.find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(rig.conn.closes, 1);
}

TEST(ResponseWriter, RuntimeThatFinishedWithoutAResponseGets500) {
  Exchange e = run_exchange(kGet, [](const sdk::Request&, sdk::Stream& w) { w.finish(); });
  EXPECT_EQ(e.wire.substr(0, 36), "HTTP/1.1 500 Internal Server Error\r\n");
  EXPECT_TRUE(e.wire.ends_with("\r\n\r\nInternal Server Error\n")) << e.wire;
  EXPECT_EQ(e.next, Next::keep_alive);
  EXPECT_EQ(e.summary.status, 500);
}

TEST(ResponseWriter, FinishCompletesAStreamedResponse) {
  Exchange e = run_exchange(kGet, [](const sdk::Request&, sdk::Stream& w) {
    w.start("200 OK", {});
    w.write("abc", false);
    w.finish();
  });
  EXPECT_EQ(e.wire.substr(e.wire.size() - 5), "0\r\n\r\n");
  EXPECT_EQ(e.next, Next::keep_alive);
}

TEST(ResponseWriter, UnfinishedResponseIsAbortedByTheCore) {
  // abi.h stream_done: "An unfinished response is aborted" (the core calls
  // on_abort); the session must not complete it.
  Exchange e = run_exchange(kGet, [](const sdk::Request&, sdk::Stream& w) {
    w.start("200 OK", {});
    w.write("abc", false);
    w.abort();  // what stream_done does for it
  });
  EXPECT_TRUE(e.wire.ends_with("3\r\nabc\r\n")) << e.wire;
  EXPECT_EQ(e.next, Next::reset);
}

TEST(ResponseWriter, WriteFailureClosesTheConnection) {
  Exchange e = run_exchange(kGet, [](const sdk::Request&, sdk::Stream& w) {
    w.start("200 OK", {});
    EXPECT_EQ(w.write("abc", true), Status::closed);
    EXPECT_EQ(w.finish(), Status::closed);
  }, false, /*fail_writes=*/true);
  EXPECT_EQ(e.next, Next::reset);
  EXPECT_TRUE(e.stream_reset);  // the runtime learns the client is gone
}

TEST(ResponseWriter, FilesArePassedOnFramed) {
  TempFile f("0123456789");
  ASSERT_GE(f.fd, 0);
  const int fd = f.fd;
  Exchange e = run_exchange(kGet, [fd](const sdk::Request&, sdk::Stream& w) {
    w.start("200 OK", {});
    EXPECT_EQ(w.write_file(fd, 2, -1), Status::ok);
    w.finish();
  });
  EXPECT_NE(e.wire.find("Transfer-Encoding: chunked\r\n"), std::string::npos);
  EXPECT_EQ(e.wire.substr(e.wire.find("\r\n\r\n") + 4), "8\r\n23456789\r\n0\r\n\r\n");
  EXPECT_EQ(e.files, 1);  // the core sends it (sendfile), not the plugin
  EXPECT_EQ(e.next, Next::keep_alive);
  e = run_exchange(kGet, [fd](const sdk::Request&, sdk::Stream& w) {
    Field h[] = {{"Content-Length", "4"}};
    w.start("200 OK", h);
    EXPECT_EQ(w.write_file(fd, 0, 6), Status::ok);
    w.finish();
  });
  EXPECT_EQ(e.wire.substr(e.wire.find("\r\n\r\n") + 4), "0123");
  EXPECT_EQ(e.summary.body_bytes, 4u);
  EXPECT_EQ(e.next, Next::keep_alive);
  // A whole file as the last write: its length is known, so Content-Length.
  e = run_exchange(kGet, [fd](const sdk::Request&, sdk::Stream& w) {
    w.start("200 OK", {});
    EXPECT_EQ(w.write_file(fd, 0, -1, true), Status::ok);
    w.finish();
  });
  EXPECT_NE(e.wire.find("Content-Length: 10\r\n"), std::string::npos) << e.wire;
  EXPECT_TRUE(e.wire.ends_with("\r\n\r\n0123456789"));
  EXPECT_EQ(e.writes, 1);
}

TEST(ResponseWriter, PipelinedRequestIsParsedAfterTheResponse) {
  Rig rig;
  rig.feed(kGet + "GET /second HTTP/1.1\r\nHost: a\r\n\r\nGET /thi");
  ASSERT_EQ(rig.host.streams.size(), 1u);
  EXPECT_EQ(rig.stream(0).head.path, "/");
  EXPECT_TRUE(rig.conn.paused);  // nothing more is read before the answer
  sdk::Stream rt = rig.runtime(0);
  default_responder(rt.request(), rt);
  ASSERT_EQ(rig.host.streams.size(), 2u);  // parsed inside on_finish
  EXPECT_EQ(rig.stream(1).head.path, "/second");
  sdk::Stream rt2 = rig.runtime(1);
  default_responder(rt2.request(), rt2);
  EXPECT_EQ(rig.host.streams.size(), 2u);
  EXPECT_EQ(rig.session->phase(), sdk::Phase::head);
  EXPECT_FALSE(rig.conn.paused);
  rig.feed("rd HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_EQ(rig.host.streams.size(), 3u);
  EXPECT_EQ(rig.stream(2).head.path, "/third");
}

TEST(ResponseWriter, PhaseFollowsTheConnection) {
  Rig rig;
  EXPECT_EQ(rig.session->phase(), sdk::Phase::idle);
  rig.feed("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n");
  EXPECT_EQ(rig.session->phase(), sdk::Phase::head);
  rig.feed("\r\na");
  EXPECT_EQ(rig.session->phase(), sdk::Phase::body);
  rig.feed("bc");
  EXPECT_EQ(rig.session->phase(), sdk::Phase::busy);  // with the runtime: no read timeout
  sdk::Stream rt = rig.runtime();
  default_responder(rt.request(), rt);
  EXPECT_EQ(rig.session->phase(), sdk::Phase::idle);
}

// ---- request body flow control ---------------------------------------------

TEST(BodyFlow, AgainPausesReadingUntilTheBodyIsWanted) {
  Rig rig;
  rig.feed("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n");
  FakeStream& s = rig.stream();
  s.body_result = TRELLIS_AGAIN;
  rig.feed("abc");
  EXPECT_EQ(s.body, "abc");  // kept by the core
  EXPECT_TRUE(rig.conn.paused);
  EXPECT_TRUE(rig.session->read_space().empty());
  EXPECT_EQ(rig.session->phase(), sdk::Phase::busy);  // the runtime's turn, not the client's
  s.body_result = TRELLIS_OK;
  s.sink->on_body_wanted(s.sink_self);
  EXPECT_FALSE(rig.conn.paused);
  EXPECT_EQ(rig.session->phase(), sdk::Phase::body);
  rig.feed("defghij");
  EXPECT_EQ(s.body, "abcdefghij");
  EXPECT_TRUE(s.body_ended);
  sdk::Stream rt = rig.runtime();
  default_responder(rt.request(), rt);
  EXPECT_EQ(rig.conn.closes, 0);
}

TEST(BodyFlow, AgainOnTheLastPieceStillEndsTheBody) {
  // `again` asks for no more body; the end of this one is no more body.
  Rig rig;
  rig.feed("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
  FakeStream& s = rig.stream();
  s.body_result = TRELLIS_AGAIN;
  rig.feed("3\r\nabc\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(s.body, "abc");
  EXPECT_TRUE(s.body_ended);
  EXPECT_TRUE(rig.conn.paused);
  EXPECT_EQ(rig.session->phase(), sdk::Phase::busy);
  sdk::Stream rt = rig.runtime();
  default_responder(rt.request(), rt);
  ASSERT_EQ(rig.host.streams.size(), 2u);  // the pipelined follower
  EXPECT_EQ(rig.stream(1).head.path, "/next");
}

TEST(BodyFlow, ClosedBodyIsDrainedAndTheConnectionKept) {
  Rig rig;
  rig.feed("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\n");
  FakeStream& s = rig.stream();
  s.body_result = TRELLIS_CLOSED;
  rig.feed("abc");
  rig.feed("def");
  EXPECT_EQ(s.body, "");
  EXPECT_FALSE(s.body_ended);  // nobody reads it: no end to report
  EXPECT_FALSE(s.reset);
  sdk::Stream rt = rig.runtime();
  default_responder(rt.request(), rt);
  EXPECT_EQ(rig.conn.closes, 0);
  EXPECT_EQ(rig.session->phase(), sdk::Phase::idle);
}

TEST(BodyFlow, CoreLimitIsA413) {
  Rig rig;
  rig.feed("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\n");
  FakeStream& s = rig.stream();
  s.body_result = TRELLIS_TOO_LARGE;
  rig.feed("abc");
  EXPECT_TRUE(s.reset);
  EXPECT_EQ(s.reset_why, TRELLIS_TOO_LARGE);
  EXPECT_EQ(rig.conn.wire.substr(0, 12), "HTTP/1.1 413");
  EXPECT_EQ(rig.conn.close_mode, static_cast<std::uint32_t>(TRELLIS_CLOSE_GRACEFUL));
}

TEST(BodyFlow, EarlyResponseWithTheBodyStillComingCloses) {
  Rig rig;
  rig.feed("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\nabc");
  sdk::Stream rt = rig.runtime();
  default_responder(rt.request(), rt);
  EXPECT_NE(rig.conn.wire.find("Connection: close\r\n"), std::string::npos);
  EXPECT_TRUE(rig.stream().closed);
  EXPECT_EQ(rig.conn.close_mode, static_cast<std::uint32_t>(TRELLIS_CLOSE_GRACEFUL));
}

TEST(BodyFlow, HalfCloseAfterACompleteRequestIsNoDisconnect) {
  Rig rig;
  rig.feed(kGet);
  rig.session->on_eof();
  EXPECT_EQ(rig.conn.closes, 0);
  EXPECT_FALSE(rig.stream().reset);
  sdk::Stream rt = rig.runtime();
  default_responder(rt.request(), rt);
  EXPECT_TRUE(rig.conn.wire.ends_with("ok"));
  EXPECT_EQ(rig.conn.closes, 1);
  EXPECT_EQ(rig.conn.close_mode, static_cast<std::uint32_t>(TRELLIS_CLOSE_AFTER_WRITE));
}

// ---- trailers ------------------------------------------------------------------

TEST(Trailers, GoWithTheLastChunk) {
  Exchange e = run_exchange(kGet, [](const sdk::Request&, sdk::Stream& w) {
    w.start("200 OK", {});
    w.write("ab", false);
    Field t[] = {{"Checksum", "abc"}, {"X-Timing", "3ms"}};
    EXPECT_EQ(w.finish(t), Status::ok);
  });
  EXPECT_TRUE(e.wire.ends_with("2\r\nab\r\n0\r\nChecksum: abc\r\nX-Timing: 3ms\r\n\r\n")) << e.wire;
  EXPECT_EQ(e.next, Next::keep_alive);
}

TEST(Trailers, MakeABodyKnownAtFinishChunked) {
  // Only chunking carries trailers: without them this would be
  // "Content-Length: 0".
  Exchange e = run_exchange(kGet, [](const sdk::Request&, sdk::Stream& w) {
    w.start("200 OK", {});
    Field t[] = {{"Checksum", "abc"}};
    w.finish(t);
  });
  EXPECT_NE(e.wire.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << e.wire;
  EXPECT_TRUE(e.wire.ends_with("\r\n\r\n0\r\nChecksum: abc\r\n\r\n")) << e.wire;
}

TEST(Trailers, UnsafeOrForbiddenOnesAreDropped) {
  Exchange e = run_exchange(kGet, [](const sdk::Request&, sdk::Stream& w) {
    w.start("200 OK", {});
    w.write("ab", false);
    Field t[] = {{"X-Evil", "a\r\nb"}, {"Content-Length", "5"}, {"Transfer-Encoding", "x"},
                 {"Bad Name", "1"},    {"X-Good", "1"}};
    EXPECT_EQ(w.finish(t), Status::ok);
  });
  EXPECT_TRUE(e.wire.ends_with("0\r\nX-Good: 1\r\n\r\n")) << e.wire;
  EXPECT_TRUE(logged(e, "4 trailer field(s)"));
}

TEST(Trailers, DroppedWhereTheFramingCannotCarryThem) {
  Field t[] = {{"Checksum", "abc"}};
  auto with_trailers = [&t](const sdk::Request&, sdk::Stream& w) {
    Field h[] = {{"Content-Length", "2"}};
    w.start("200 OK", h);
    w.write("ab", false);
    w.finish(t);
  };
  Exchange e = run_exchange(kGet, with_trailers);
  EXPECT_TRUE(e.wire.ends_with("\r\n\r\nab")) << e.wire;
  e = run_exchange(kGet10, [&t](const sdk::Request&, sdk::Stream& w) {
    w.start("200 OK", {});
    w.write("ab", false);
    w.finish(t);
  });
  EXPECT_TRUE(e.wire.ends_with("\r\n\r\nab")) << e.wire;
  // `last` sent the last chunk already.
  e = run_exchange(kGet, [&t](const sdk::Request&, sdk::Stream& w) {
    w.start("200 OK", {});
    w.write("a", false);
    w.write("b", true);
    w.finish(t);
  });
  EXPECT_TRUE(e.wire.ends_with("1\r\nb\r\n0\r\n\r\n")) << e.wire;
  EXPECT_TRUE(logged(e, "trailers after the end of the body dropped"));
}

// ---- conditional GET -------------------------------------------------------------

const std::string kLastModified = "Wed, 21 Oct 2015 07:28:00 GMT";

void file_like(const sdk::Request&, sdk::Stream& w) {
  Field h[] = {{"Content-Type", "text/plain"}, {"Content-Length", "5"}, {"Last-Modified", kLastModified},
               {"ETag", "\"v1\""}, {"Cache-Control", "max-age=60"}, {"Set-Cookie", "a=b"}, {"Vary", "Accept"}};
  w.start("200 OK", h);
  w.write("hello", true);
  w.finish();
}

TEST(ConditionalGet, ExactIfModifiedSinceGets304) {
  for (std::string method : {"GET", "HEAD"}) {
    Exchange e = run_exchange(method + " /f HTTP/1.1\r\nHost: a\r\nIf-Modified-Since: " + kLastModified + "\r\n\r\n",
                              file_like);
    EXPECT_EQ(e.wire,
              "HTTP/1.1 304 Not Modified\r\nLast-Modified: " + kLastModified +
                  "\r\nETag: \"v1\"\r\nCache-Control: max-age=60\r\nVary: Accept\r\nServer: trellis\r\nDate: X\r\n\r\n")
        << method;
    EXPECT_EQ(e.summary.status, 304);
    EXPECT_EQ(e.summary.body_bytes, 0u);
    EXPECT_EQ(e.next, Next::keep_alive);
  }
}

TEST(ConditionalGet, AnythingElseGetsThe200) {
  const std::string ims = "If-Modified-Since: " + kLastModified + "\r\n";
  for (const std::string& request : std::vector<std::string>{
           "GET /f HTTP/1.1\r\nHost: a\r\n\r\n",
           "GET /f HTTP/1.1\r\nHost: a\r\nIf-Modified-Since: Wed, 21 Oct 2015 07:28:01 GMT\r\n\r\n",
           "GET /f HTTP/1.1\r\nHost: a\r\nIf-Modified-Since: wed, 21 Oct 2015 07:28:00 GMT\r\n\r\n",
           "GET /f HTTP/1.1\r\nHost: a\r\n" + ims + "If-None-Match: \"v1\"\r\n\r\n",
           "POST /f HTTP/1.1\r\nHost: a\r\n" + ims + "\r\n"}) {
    Exchange e = run_exchange(request, file_like);
    EXPECT_EQ(e.wire.substr(0, 15), "HTTP/1.1 200 OK") << request;
    EXPECT_TRUE(e.wire.ends_with("hello")) << request;
  }
  // Not a 200, or no Last-Modified: left alone.
  Exchange e = run_exchange("GET /f HTTP/1.1\r\nHost: a\r\n" + ims + "\r\n", [](const sdk::Request&, sdk::Stream& w) {
    Field h[] = {{"Last-Modified", kLastModified}};
    w.start("404 Not Found", h);
    w.finish();
  });
  EXPECT_EQ(e.wire.substr(0, 22), "HTTP/1.1 404 Not Found");
  e = run_exchange("GET /f HTTP/1.1\r\nHost: a\r\n" + ims + "\r\n", default_responder);
  EXPECT_EQ(e.wire.substr(0, 15), "HTTP/1.1 200 OK");
}

TEST(ConditionalGet, ApplicationDateServerAndCloseAreKept) {
  Exchange e = run_exchange("GET /f HTTP/1.1\r\nHost: a\r\nIf-Modified-Since: " + kLastModified + "\r\n\r\n",
                            [](const sdk::Request&, sdk::Stream& w) {
                              Field h[] = {{"Date", "Thu, 01 Jan 1970 00:00:00 GMT"}, {"Server", "mine"},
                                           {"Last-Modified", kLastModified}, {"Connection", "close"},
                                           {"Expires", "0"}, {"Content-Location", "/f.txt"}};
                              w.start("200 OK", h);
                              w.write("hello", true);
                              w.finish();
                            });
  EXPECT_EQ(e.wire,
            "HTTP/1.1 304 Not Modified\r\nDate: X\r\nServer: mine\r\nLast-Modified: " + kLastModified +
                "\r\nExpires: 0\r\nContent-Location: /f.txt\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(e.next, Next::lingering_close);
}

// ---- check_head ----------------------------------------------------------------

TEST(CheckHead, RefusesWhatStartRefusedAndNothingElse) {
  auto check = [](std::string_view status, std::vector<Field> fields) {
    sdk::detail::CFields c(fields);
    trellis_response_head h{};
    h.size = sizeof h;
    h.status = sdk::to_c(status);
    h.headers = c.data();
    h.header_count = c.size();
    const char* reason = nullptr;
    return check_response_head(sdk::ResponseHead::from(&h), reason);
  };
  EXPECT_EQ(check("200 OK", {}), Status::ok);
  EXPECT_EQ(check("299 ", {{"X-A", "b\tc"}, {"Connection", "close"}, {"Content-Length", "3"}}), Status::ok);
  EXPECT_EQ(check("304 Not Modified", {{"Content-Length", "10"}}), Status::ok);
  EXPECT_EQ(check("200 OK", {{"Content-Length", "5"}, {"content-length", " 5 "}}), Status::ok);
  for (std::string_view status : {"20 OK", "200OK", "abc OK", "200 O\r\nK", "200 O\x01K", "2000 OK", "099 X",
                                  "100 Continue", "101 Switching Protocols", "600 X", "", "200"})
    // (101 without the fields naming the switch: Upgrade is required, RFC 9110 §15.2.2)
    EXPECT_EQ(check(status, {}), Status::invalid_argument) << status;
  for (const std::vector<Field>& bad : std::vector<std::vector<Field>>{
           {{"X-A", "a\r\nSet-Cookie: evil=1"}}, {{"X-A", "a\nb"}}, {{"X-A", std::string_view("a\0b", 3)}},
           {{"X A", "b"}}, {{"", "b"}}, {{"X-A", "\x7f"}}, {{"Content-Length", "abc"}},
           {{"Content-Length", "5"}, {"Content-Length", "6"}}, {{"Transfer-Encoding", "chunked"}},
           {{"Keep-Alive", "5"}}, {{"Upgrade", "h2c"}}, {{"TE", "trailers"}}, {{"Trailer", "X"}},
           {{"Proxy-Connection", "close"}}})
    EXPECT_EQ(check("200 OK", bad), Status::invalid_argument) << bad[0].name;
}

// ---- the end of the stream ---------------------------------------------------
// A response after which the connection closes leaves with the end of the
// stream (Connection::write_last): its final bytes carry the FIN, so the
// client sees the end at once. Keep-alive responses never end the stream.
const std::string kGetClose = "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
const std::string kHeadClose = "HEAD / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";

void hello(const sdk::Request&, sdk::Stream& w) {
  w.start("200 OK", {});
  w.write("hello", true);
  w.finish();
}

TEST(ResponseEnd, KeepAliveResponsesNeverEndTheStream) {
  EXPECT_EQ(run_exchange(kGet, hello).ends, 0);
  Exchange streamed = run_exchange(kGet, [](const sdk::Request&, sdk::Stream& w) {
    w.start("200 OK", {});
    w.write("ab", false);
    w.finish();
  });
  EXPECT_EQ(streamed.ends, 0);
  EXPECT_EQ(streamed.next, Next::keep_alive);
}

TEST(ResponseEnd, OneWriteResponseEndsTheStreamWithIt) {
  Exchange e = run_exchange(kGetClose, hello);
  EXPECT_EQ(e.writes, 1);
  EXPECT_EQ(e.ends, 1);
  EXPECT_EQ(e.ended_at, e.wire.size() + kDateLen - 1);
  EXPECT_NE(e.wire.find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(e.next, Next::close);
}

TEST(ResponseEnd, TheWriteThatCompletesTheContentLengthEndsTheStream) {
  Exchange e = run_exchange(kGetClose, [](const sdk::Request&, sdk::Stream& w) {
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
  Exchange e = run_exchange(kGetClose, [](const sdk::Request&, sdk::Stream& w) {
    w.start("200 OK", {});
    w.write("ab", false);
    w.finish();
  });
  EXPECT_EQ(e.ends, 1);
  EXPECT_TRUE(e.wire.ends_with("2\r\nab\r\n0\r\n\r\n")) << e.wire;
  EXPECT_EQ(e.writes, 2);  // the terminator is the write that ends the stream
}

TEST(ResponseEnd, CloseDelimitedHttp10BodyEndsAtFinish) {
  Exchange e = run_exchange(kGet10, [](const sdk::Request&, sdk::Stream& w) {
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
  Exchange e = run_exchange(kHeadClose, [](const sdk::Request&, sdk::Stream& w) {
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
  EXPECT_EQ(e.next, Next::lingering_close);
}

TEST(ResponseEnd, AbortNeverEndsTheStreamCleanly) {
  Exchange e = run_exchange(kGetClose, [](const sdk::Request&, sdk::Stream& w) {
    w.start("200 OK", {});
    w.write("ab", false);
    w.abort();
  });
  EXPECT_EQ(e.ends, 0);
  EXPECT_EQ(e.next, Next::reset);
}

// RFC 9112 §9.6: closing with unread client bytes makes the kernel reset
// the connection and destroy the response in flight; the session closes
// gracefully whenever the client may still be sending.
TEST(ResponseEnd, ClientThatAskedToCloseAndSentNothingMoreGetsAPlainClose) {
  EXPECT_EQ(run_exchange(kGetClose, hello).next, Next::close);
  EXPECT_EQ(run_exchange(kGet10, hello).next, Next::close);
}

TEST(ResponseEnd, BytesAfterAClosingRequestMeanALingeringClose) {
  for (const std::string& extra : {kGet, std::string("\r\n")}) {
    Exchange e = run_exchange(kGetClose + extra, hello);
    EXPECT_EQ(e.next, Next::lingering_close) << extra;
    EXPECT_EQ(e.ends, 1);  // the response itself still ends the stream at once
  }
}

TEST(ResponseEnd, KeepAliveClientAnsweredWithACloseGetsALingeringClose) {
  Exchange e = run_exchange(kGet, [](const sdk::Request&, sdk::Stream& w) {
    Field h[] = {{"Connection", "close"}};
    w.start("200 OK", h);
    w.write("bye", true);
    w.finish();
  });
  EXPECT_EQ(e.next, Next::lingering_close);
}

TEST(ResponseEnd, AbortedResponseEndsInAReset) {
  Exchange e = run_exchange(kGet, [](const sdk::Request&, sdk::Stream& w) {
    w.start("200 OK", {});
    w.write("ab", false);
    w.abort();
  });
  EXPECT_EQ(e.next, Next::reset);  // never a clean half-close
}

}  // namespace
}  // namespace trellis::http::test
