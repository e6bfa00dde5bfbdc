// The Session (and the stream sink it is) as the core drives it, through
// the fake core; and the plugin as the core loads it.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>

#include "../fake_host.hpp"
#include "packet_builder.hpp"
#include "protocol.hpp"
#include "trellis/plugin.hpp"

namespace trellis::uwsgi::test {
namespace {

using trellis::test::FakeConnection;
using trellis::test::FakeHost;
using trellis::test::FakeStream;

using sdk::CloseMode;
using sdk::Phase;
using sdk::Status;

constexpr auto kGraceful = static_cast<std::uint32_t>(CloseMode::graceful);
constexpr auto kAfterWrite = static_cast<std::uint32_t>(CloseMode::after_write);
constexpr auto kAbort = static_cast<std::uint32_t>(CloseMode::abort);

// Reads `input` as the core would, `piece` bytes a read, while the session
// offers room and the connection is neither paused nor closed. Returns how
// many bytes went in.
std::size_t feed(sdk::Session& s, const FakeConnection& c, std::string_view input, std::size_t piece = 4096) {
  std::size_t pos = 0;
  while (pos < input.size() && c.closes == 0 && !c.paused) {
    auto space = s.read_space();
    if (space.empty()) break;
    std::size_t k = std::min({space.size(), input.size() - pos, piece});
    std::memcpy(space.data(), input.data() + pos, k);
    pos += k;
    s.on_received(k);
  }
  return pos;
}

struct SessionTest : ::testing::Test {
  FakeHost fake;
  FakeConnection& conn = fake.connection();
  UwsgiProtocol protocol{fake.host()};
  sdk::Session* session = protocol.open_session(fake.handle(conn));

  SessionTest() {
    // As the core does: every head the runtime starts is checked first.
    fake.check_head = [this](const trellis_response_head* h) {
      const char* reason = nullptr;
      return sdk::to_c(protocol.check_head(sdk::ResponseHead::from(h), reason));
    };
  }
  ~SessionTest() override { session->release(); }

  FakeStream& stream() { return *fake.streams.at(0); }
  // The runtime's side of the stream.
  sdk::Stream runtime() { return fake.runtime_handle(stream()); }
  // What the core does when the runtime wants more body.
  void body_wanted() { stream().sink->on_body_wanted(stream().sink_self); }
};

TEST_F(SessionTest, RequestThenResponseThenClose) {
  EXPECT_EQ(session->phase(), Phase::head);
  Vars vars = nginx_get_vars();
  vars[3].second = "5";  // CONTENT_LENGTH
  std::string p = packet(vars, "hello");
  ASSERT_EQ(feed(*session, conn, p, 10), p.size());
  ASSERT_EQ(fake.streams.size(), 1u);
  EXPECT_EQ(session->phase(), Phase::busy);  // with the runtime: no read timeout
  const auto& head = stream().head;
  EXPECT_EQ(head.method, "GET");
  EXPECT_EQ(head.uri, "/hello?x=1");
  EXPECT_EQ(head.path, "/hello");
  EXPECT_EQ(head.query, "x=1");
  EXPECT_EQ(head.protocol, "HTTP/1.1");
  EXPECT_EQ(head.scheme, "http");
  EXPECT_EQ(head.server_name, "example.org");
  EXPECT_EQ(head.server_port, "80");
  EXPECT_EQ(head.runtime, "");
  EXPECT_EQ(head.content_length, 5);
  EXPECT_NE(head.flags & TRELLIS_REQUEST_BODY_TERMINATED, 0u);
  EXPECT_EQ(head.header("User-Agent"), "curl/7.88.1");
  EXPECT_EQ(head.variable("REMOTE_ADDR"), "192.0.2.10");
  EXPECT_EQ(head.variables.size(), vars.size());
  EXPECT_EQ(stream().body, "hello");
  EXPECT_TRUE(stream().body_ended);

  sdk::Field h[] = {{"Content-Type", "text/plain"}};
  ASSERT_EQ(runtime().start("200 OK", h), Status::ok);
  ASSERT_EQ(runtime().write("hi"), Status::ok);
  EXPECT_FALSE(conn.ended);
  ASSERT_EQ(runtime().finish(), Status::ok);
  EXPECT_EQ(conn.wire, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhi");
  // One request per connection: the response ends the sending side, the
  // stream closes with what was sent, then the connection.
  EXPECT_TRUE(conn.ended);
  EXPECT_EQ(conn.ended_at, conn.wire.size());
  EXPECT_TRUE(stream().closed);
  EXPECT_FALSE(stream().reset);
  EXPECT_EQ(stream().summary.status, 200);
  EXPECT_EQ(stream().summary.body_bytes, 2u);
  EXPECT_EQ(stream().summary.wire_bytes, conn.wire.size());
  EXPECT_EQ(conn.closes, 1);
  EXPECT_EQ(conn.close_mode, kAfterWrite);  // the whole packet is in: the core probes for unread input and lingers only then
  EXPECT_TRUE(fake.logs.empty());
}

TEST_F(SessionTest, LastWriteEndsTheResponseAtOnce) {
  feed(*session, conn, packet(nginx_get_vars()));
  ASSERT_EQ(fake.streams.size(), 1u);
  ASSERT_EQ(runtime().start("200 OK", {}), Status::ok);
  ASSERT_EQ(runtime().write("done", true), Status::ok);
  // The body's last bytes carry the end of the stream: nginx has the whole
  // response while the runtime still runs.
  EXPECT_TRUE(conn.ended);
  EXPECT_EQ(conn.wire, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone");
  EXPECT_EQ(conn.writes, 1);
  EXPECT_EQ(conn.closes, 0);
  ASSERT_EQ(runtime().finish(), Status::ok);
  EXPECT_EQ(conn.writes, 1);  // nothing after write_last
  EXPECT_TRUE(stream().closed);
  EXPECT_EQ(conn.closes, 1);
  EXPECT_EQ(conn.close_mode, kAfterWrite);  // the whole packet is in: the core probes for unread input and lingers only then
}

TEST_F(SessionTest, FileRangesReachTheConnectionAsFiles) {
  feed(*session, conn, packet(nginx_get_vars()));
  ASSERT_EQ(fake.streams.size(), 1u);
  char path[] = "/tmp/trellis-uwsgi-test-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  unlink(path);
  ASSERT_EQ(::write(fd, "0123456789", 10), 10);
  ASSERT_EQ(runtime().start("200 OK", {}), Status::ok);
  ASSERT_EQ(runtime().write_file(fd, 4, -1, true), Status::ok);
  ASSERT_EQ(runtime().finish(), Status::ok);
  close(fd);
  EXPECT_EQ(conn.files, 1);
  EXPECT_EQ(conn.wire, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n456789");
  EXPECT_EQ(stream().summary.body_bytes, 6u);
}

TEST_F(SessionTest, BodyPhaseWhileWaitingForTheBody) {
  feed(*session, conn, packet({{"CONTENT_LENGTH", "10"}}, "abc"));
  ASSERT_EQ(fake.streams.size(), 1u);  // the runtime has the request already
  EXPECT_EQ(stream().body, "abc");
  EXPECT_FALSE(stream().body_ended);
  EXPECT_EQ(session->phase(), Phase::body);
  session->on_eof();
  // The body will never be whole: the runtime learns it, the peer gets nothing.
  EXPECT_TRUE(stream().reset);
  EXPECT_EQ(stream().reset_why, TRELLIS_CLOSED);
  EXPECT_EQ(conn.closes, 1);
  EXPECT_EQ(conn.close_mode, kAfterWrite);  // the peer has gone: nothing to linger for
  EXPECT_TRUE(conn.wire.empty());
  ASSERT_EQ(fake.logs.size(), 1u);
  EXPECT_EQ(fake.logs[0].level, sdk::LogLevel::warn);
  EXPECT_NE(fake.logs[0].text.find("3 of 10 body bytes"), std::string::npos) << fake.logs[0].text;
  EXPECT_NE(fake.logs[0].text.find("127.0.0.1:40000"), std::string::npos) << fake.logs[0].text;
}

TEST_F(SessionTest, PeerLeavingMidBodyBreaksAResponseUnderWay) {
  feed(*session, conn, packet({{"CONTENT_LENGTH", "10"}}, "abc"));
  ASSERT_EQ(runtime().start("200 OK", {}), Status::ok);
  ASSERT_EQ(runtime().write("partial"), Status::ok);
  session->on_eof();
  EXPECT_TRUE(stream().reset);
  EXPECT_EQ(conn.close_mode, kAbort);  // a cut response must not look complete
  EXPECT_FALSE(conn.ended);
  EXPECT_EQ(runtime().write("more"), Status::closed);
}

TEST_F(SessionTest, HalfCloseAfterTheWholeRequestIsNotADisconnect) {
  feed(*session, conn, packet({{"REQUEST_METHOD", "POST"}, {"CONTENT_LENGTH", "3"}}, "abc"));
  ASSERT_EQ(fake.streams.size(), 1u);
  ASSERT_TRUE(stream().body_ended);
  session->on_eof();
  EXPECT_EQ(conn.closes, 0);
  EXPECT_FALSE(stream().reset);
  EXPECT_EQ(session->phase(), Phase::busy);
  ASSERT_EQ(runtime().start("200 OK", {}), Status::ok);
  ASSERT_EQ(runtime().write("ok", true), Status::ok);
  ASSERT_EQ(runtime().finish(), Status::ok);
  EXPECT_EQ(conn.wire, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  EXPECT_EQ(conn.closes, 1);
  EXPECT_EQ(conn.close_mode, kAfterWrite);  // the peer sent everything: no lingering
}

// The runtime holds as much unread body as it may: the session stops
// reading until it wants more, then reads on.
TEST_F(SessionTest, BodyBackpressurePausesReadingUntilTheBodyIsWanted) {
  std::string body(100000, 'b');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
  std::string p = packet({{"REQUEST_METHOD", "POST"}, {"CONTENT_LENGTH", std::to_string(body.size())}}, body);
  // The head and the first bytes: the stream opens, body flows.
  std::size_t pos = feed(*session, conn, std::string_view(p).substr(0, 1000));
  ASSERT_EQ(pos, 1000u);
  ASSERT_EQ(fake.streams.size(), 1u);
  EXPECT_FALSE(conn.paused);
  stream().body_result = TRELLIS_AGAIN;
  int pauses = 0;
  while (pos < p.size()) {
    std::size_t before = stream().body.size();
    pos += feed(*session, conn, std::string_view(p).substr(pos), 7000);
    if (pos == p.size()) break;
    // Kept, but no more reading: the read that got again was the last one.
    ASSERT_TRUE(conn.paused);
    EXPECT_GT(stream().body.size(), before);
    EXPECT_EQ(session->phase(), Phase::busy);  // waiting for the runtime, not the peer
    ++pauses;
    body_wanted();
    EXPECT_FALSE(conn.paused);
    EXPECT_EQ(session->phase(), Phase::body);
  }
  EXPECT_GT(pauses, 5);
  EXPECT_EQ(stream().body, body);
  EXPECT_TRUE(stream().body_ended);
  EXPECT_EQ(conn.closes, 0);
  // Wanting more once everything is in changes nothing.
  stream().body_result = TRELLIS_OK;
  body_wanted();
  EXPECT_FALSE(conn.paused);
  EXPECT_TRUE(fake.logs.empty());
}

// The runtime may answer before it read the whole body (an application's
// own 413, say): the rest is the graceful close's to drain.
TEST_F(SessionTest, AnswerBeforeTheBodyEndsClosesLingering) {
  std::string p = packet({{"CONTENT_LENGTH", "20"}}, "0123456789abcdefghij");
  feed(*session, conn, std::string_view(p).substr(0, p.size() - 15));
  ASSERT_EQ(fake.streams.size(), 1u);
  stream().body_result = TRELLIS_AGAIN;
  feed(*session, conn, std::string_view(p).substr(p.size() - 15), 4);
  ASSERT_TRUE(conn.paused);
  ASSERT_EQ(runtime().start("413 Content Too Large", {}), Status::ok);
  ASSERT_EQ(runtime().finish(), Status::ok);
  EXPECT_EQ(conn.wire, "HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n");
  EXPECT_TRUE(stream().closed);
  EXPECT_EQ(conn.closes, 1);
  EXPECT_EQ(conn.close_mode, kGraceful);
  EXPECT_FALSE(conn.paused);
  EXPECT_TRUE(session->read_space().empty());
  EXPECT_TRUE(fake.logs.empty());
}

TEST_F(SessionTest, BodyNobodyReadsIsDrained) {
  std::string p = packet({{"CONTENT_LENGTH", "20"}}, "0123456789abcdefghij");
  feed(*session, conn, std::string_view(p).substr(0, p.size() - 15));
  ASSERT_EQ(fake.streams.size(), 1u);
  stream().body_result = TRELLIS_CLOSED;
  EXPECT_EQ(feed(*session, conn, std::string_view(p).substr(p.size() - 15), 4), 15u);
  EXPECT_FALSE(conn.paused);
  EXPECT_EQ(conn.closes, 0);
  EXPECT_EQ(stream().body, "01234");
  EXPECT_FALSE(stream().body_ended);  // nobody to tell
  EXPECT_FALSE(stream().reset);
  // The runtime answers all the same.
  ASSERT_EQ(runtime().start("200 OK", {}), Status::ok);
  ASSERT_EQ(runtime().finish(), Status::ok);
  EXPECT_EQ(conn.wire, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(conn.close_mode, kAfterWrite);  // the whole packet is in: the core probes for unread input and lingers only then
}

TEST_F(SessionTest, BodyOverACoreLimitGetsA413) {
  std::string p = packet({{"CONTENT_LENGTH", "20"}}, "0123456789abcdefghij");
  feed(*session, conn, std::string_view(p).substr(0, p.size() - 15));
  ASSERT_EQ(fake.streams.size(), 1u);
  stream().body_result = TRELLIS_TOO_LARGE;
  feed(*session, conn, std::string_view(p).substr(p.size() - 15), 4);
  EXPECT_TRUE(stream().reset);
  EXPECT_EQ(stream().reset_why, TRELLIS_TOO_LARGE);
  EXPECT_EQ(conn.wire.rfind("HTTP/1.1 413 Content Too Large\r\n", 0), 0u) << conn.wire;
  EXPECT_TRUE(conn.ended);
  EXPECT_EQ(conn.closes, 1);
  EXPECT_EQ(conn.close_mode, kGraceful);  // the peer is still sending its body
  ASSERT_EQ(fake.logs.size(), 1u);
  EXPECT_EQ(fake.logs[0].level, sdk::LogLevel::warn);
  EXPECT_NE(fake.logs[0].text.find("after 9 of 20 bytes"), std::string::npos) << fake.logs[0].text;
}

TEST_F(SessionTest, RuntimeFinishingWithoutAHeadGetsA500) {
  feed(*session, conn, packet(nginx_get_vars()));
  ASSERT_EQ(runtime().finish(), Status::ok);
  EXPECT_EQ(conn.wire, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(stream().summary.status, 500);
  ASSERT_EQ(fake.logs.size(), 1u);
  EXPECT_EQ(fake.logs[0].level, sdk::LogLevel::error);
}

TEST_F(SessionTest, InterimFinalStatusEndsAsA500) {
  // QA: start_response('103 Early Hints', []) then a body went out as a 103.
  feed(*session, conn, packet(nginx_get_vars()));
  EXPECT_EQ(runtime().start("103 Early Hints", {}), Status::invalid_argument);
  EXPECT_EQ(runtime().write("hello", true), Status::invalid_argument);
  EXPECT_TRUE(conn.wire.empty());
  ASSERT_EQ(runtime().finish(), Status::ok);
  EXPECT_EQ(conn.wire, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(stream().summary.status, 500);
}

TEST_F(SessionTest, HeadsCheckHeadRefusesNeverReachTheWire) {
  feed(*session, conn, packet(nginx_get_vars()));
  for (sdk::Field bad : {sdk::Field{"Transfer-Encoding", "chunked"}, sdk::Field{"X-A", "a\r\nb"},
                         sdk::Field{"Bad Name", "v"}, sdk::Field{"Upgrade", "h2c"}}) {
    sdk::Field h[] = {{"Content-Type", "text/plain"}, bad};
    EXPECT_EQ(runtime().start("200 OK", h), Status::invalid_argument) << bad.name;
  }
  EXPECT_EQ(runtime().start("20 OK", {}), Status::invalid_argument);
  EXPECT_TRUE(conn.wire.empty());
  // The runtime answers 500 instead, as it does after invalid_argument.
  ASSERT_EQ(runtime().start("500 Internal Server Error", {}), Status::ok);
  ASSERT_EQ(runtime().finish(), Status::ok);
  EXPECT_EQ(conn.wire, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
}

TEST_F(SessionTest, NoContentThroughTheSessionHasNoLengthNorBody) {
  feed(*session, conn, packet(nginx_get_vars()));
  sdk::Field h[] = {{"Content-Length", "5"}};
  ASSERT_EQ(runtime().start("204 No Content", h), Status::ok);
  ASSERT_EQ(runtime().write("hello"), Status::ok);
  ASSERT_EQ(runtime().finish(), Status::ok);
  EXPECT_EQ(conn.wire, "HTTP/1.1 204 No Content\r\n\r\n");
  EXPECT_TRUE(fake.logs.empty());
}

TEST_F(SessionTest, HeadRequestGetsNoBody) {
  Vars vars = nginx_get_vars();
  vars[1].second = "HEAD";  // REQUEST_METHOD
  feed(*session, conn, packet(vars));
  sdk::Field h[] = {{"Content-Length", "5"}};
  ASSERT_EQ(runtime().start("200 OK", h), Status::ok);
  ASSERT_EQ(runtime().write("hello", true), Status::ok);
  ASSERT_EQ(runtime().finish(), Status::ok);
  EXPECT_EQ(conn.wire, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
}

TEST_F(SessionTest, AbortedResponseIsNotCompleted) {
  feed(*session, conn, packet(nginx_get_vars()));
  ASSERT_EQ(runtime().start("200 OK", {}), Status::ok);
  ASSERT_EQ(runtime().write("part"), Status::ok);
  runtime().abort();
  EXPECT_EQ(conn.wire, "HTTP/1.1 200 OK\r\n\r\npart");
  EXPECT_FALSE(conn.ended);  // never the end of a complete-looking response
  EXPECT_EQ(conn.closes, 1);
  EXPECT_EQ(conn.close_mode, kAbort);
  EXPECT_TRUE(stream().closed);  // the protocol is done with it
  EXPECT_EQ(stream().summary.body_bytes, 4u);
  EXPECT_EQ(runtime().finish(), Status::closed);
}

TEST_F(SessionTest, AbortBeforeTheHeadResetsToo) {
  feed(*session, conn, packet(nginx_get_vars()));
  ASSERT_EQ(runtime().start("200 OK", {}), Status::ok);
  runtime().abort();
  EXPECT_TRUE(conn.wire.empty());
  EXPECT_EQ(conn.close_mode, kAbort);
}

TEST_F(SessionTest, PeerLeavingBeforeAnyByteIsQuiet) {
  session->on_eof();
  EXPECT_EQ(conn.closes, 1);
  EXPECT_EQ(conn.close_mode, kAfterWrite);
  EXPECT_TRUE(fake.streams.empty());
  EXPECT_TRUE(fake.logs.empty());
}

TEST_F(SessionTest, DrainingChangesNothing) {
  // Every uwsgi connection ends after its one response already.
  session->on_drain();
  feed(*session, conn, packet(nginx_get_vars()));
  session->on_drain();
  ASSERT_EQ(fake.streams.size(), 1u);
  EXPECT_EQ(conn.closes, 0);
  ASSERT_EQ(runtime().start("200 OK", {}), Status::ok);
  ASSERT_EQ(runtime().finish(), Status::ok);
  EXPECT_EQ(conn.close_mode, kAfterWrite);  // the whole packet is in: the core probes for unread input and lingers only then
}

TEST_F(SessionTest, CoreRefusingTheStreamGetsA500) {
  // The default runtime was there when the header was read, and gone when
  // the stream opened (out of memory in the core, say).
  std::string p = packet(nginx_get_vars());
  feed(*session, conn, std::string_view(p).substr(0, 4));
  EXPECT_EQ(conn.closes, 0);
  fake.runtimes.clear();
  feed(*session, conn, std::string_view(p).substr(4));
  EXPECT_TRUE(fake.streams.empty());
  EXPECT_EQ(conn.wire.rfind("HTTP/1.1 500 Internal Server Error\r\n", 0), 0u) << conn.wire;
  EXPECT_EQ(conn.close_mode, kGraceful);
  ASSERT_EQ(fake.logs.size(), 1u);
  EXPECT_EQ(fake.logs[0].level, sdk::LogLevel::error);
}

// modifier1 picks the runtime by name: 0 and 30 the default one, the other
// numbers of uWSGI's registry the runtime named like the uWSGI plugin.
TEST_F(SessionTest, Modifier1PicksTheRuntimeByName) {
  fake.runtimes = {"", "psgi"};
  feed(*session, conn, packet({{"REQUEST_METHOD", "GET"}}, "", 5));
  ASSERT_EQ(fake.streams.size(), 1u);
  EXPECT_EQ(stream().head.runtime, "psgi");
  EXPECT_TRUE(fake.logs.empty());
}

TEST_F(SessionTest, Modifier30GoesToTheDefaultRuntimeWithoutTheScriptName) {
  feed(*session, conn,
       packet({{"SCRIPT_NAME", "/app"}, {"PATH_INFO", "/app/rest"}, {"REQUEST_URI", "/app/rest"}}, "", 30));
  ASSERT_EQ(fake.streams.size(), 1u);
  EXPECT_EQ(stream().head.runtime, "");
  EXPECT_EQ(stream().head.path, "/rest");
  EXPECT_EQ(stream().head.variable("PATH_INFO"), "/rest");
  EXPECT_EQ(stream().head.variable("SCRIPT_NAME"), "/app");
  EXPECT_EQ(stream().head.uri, "/app/rest");
}

struct Refused {
  const char* name;
  std::string input;
  int status;
  std::string reason;
};

void PrintTo(const Refused& r, std::ostream* os) { *os << r.name; }

class SessionRefusal : public ::testing::TestWithParam<Refused> {};

// A malformed or unservable packet is logged and the connection closes
// without a reply (nginx answers 502), after reading what the peer still
// sends so that it sees an end, not a reset; a body over limit-post is a
// well-formed request and gets its 413. No stream is opened for either.
TEST_P(SessionRefusal, OneLogLineAndAShortReplyOrAClose) {
  FakeHost fake;
  fake.options["buffer-size"] = {"200"};
  fake.options["limit-post"] = {"100"};
  FakeConnection& conn = fake.connection();
  UwsgiProtocol protocol(fake.host());
  sdk::Session* s = protocol.open_session(fake.handle(conn));
  feed(*s, conn, GetParam().input, 3);
  EXPECT_TRUE(fake.streams.empty());
  EXPECT_EQ(conn.closes, 1);
  // Lingering either way: the peer may still be sending.
  EXPECT_EQ(conn.close_mode, kGraceful);
  if (GetParam().status == 0) {
    EXPECT_TRUE(conn.wire.empty());
  } else {
    std::string expect = "HTTP/1.1 " + std::to_string(GetParam().status) + " ";
    EXPECT_EQ(conn.wire.rfind(expect, 0), 0u) << conn.wire;
    EXPECT_NE(conn.wire.find("Connection: close\r\n"), std::string::npos);
    EXPECT_TRUE(conn.ended);  // the reply is the last thing sent
    EXPECT_EQ(conn.ended_at, conn.wire.size());
  }
  ASSERT_EQ(fake.logs.size(), 1u);
  EXPECT_EQ(fake.logs[0].level, sdk::LogLevel::warn);
  EXPECT_EQ(fake.logs[0].text.find('\n'), std::string::npos);
  EXPECT_EQ(fake.logs[0].text.rfind("uwsgi: refused request from 127.0.0.1:40000 on 127.0.0.1:3031: ", 0), 0u)
      << fake.logs[0].text;
  EXPECT_NE(fake.logs[0].text.find(GetParam().reason), std::string::npos) << fake.logs[0].text;
  EXPECT_TRUE(s->read_space().empty());
  s->release();
}

INSTANTIATE_TEST_SUITE_P(
    Bad, SessionRefusal,
    ::testing::Values(Refused{"too_big", packet({{"K", std::string(300, 'v')}}), 0, "exceeds buffer-size 200"},
                      Refused{"no_runtime", packet({{"REQUEST_METHOD", "GET"}}, "", 9), 0,
                              "no runtime serves modifier1 9 (cgi)"},
                      Refused{"no_named_runtime", packet({{"REQUEST_METHOD", "GET"}}, "", 5), 0,
                              "no runtime serves modifier1 5 (psgi)"},
                      Refused{"unknown_modifier", packet({{"REQUEST_METHOD", "GET"}}, "", 2), 0,
                              "no runtime serves modifier1 2"},
                      Refused{"zero_key", packet({{"", "v"}}), 0, "empty key"},
                      Refused{"bad_length", packet({{"CONTENT_LENGTH", "x"}}), 0, "invalid CONTENT_LENGTH"},
                      Refused{"limit_post", packet({{"CONTENT_LENGTH", "101"}}), 413, "exceeds limit-post 100"}),
    [](const ::testing::TestParamInfo<Refused>& p) { return std::string(p.param.name); });

TEST(SessionRefusalAtEof, ClosesAtOnce) {
  // The peer sent its EOF: nothing to linger for.
  FakeHost fake;
  FakeConnection& conn = fake.connection();
  UwsgiProtocol protocol(fake.host());
  sdk::Session* s = protocol.open_session(fake.handle(conn));
  feed(*s, conn, packet(nginx_get_vars()).substr(0, 40));
  s->on_eof();
  EXPECT_EQ(conn.closes, 1);
  EXPECT_EQ(conn.close_mode, kAfterWrite);
  ASSERT_EQ(fake.logs.size(), 1u);
  EXPECT_NE(fake.logs[0].text.find("after 40 of"), std::string::npos) << fake.logs[0].text;
  s->release();
}

TEST(UwsgiPlugin, LoadsAsTheCoreLoadsIt) {
  // Never closed: plugins are never unloaded.
  void* lib = dlopen(UWSGI_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(lib, nullptr) << dlerror();
  auto entry = reinterpret_cast<trellis_plugin_entry_fn>(dlsym(lib, TRELLIS_ENTRY_SYMBOL));
  ASSERT_NE(entry, nullptr);
  const trellis_plugin_descriptor* d = entry();
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->magic, TRELLIS_DESCRIPTOR_MAGIC);
  EXPECT_EQ(d->abi_major, TRELLIS_ABI_MAJOR);
  EXPECT_STREQ(d->name, "uwsgi");
  EXPECT_EQ(d->kind, TRELLIS_KIND_PROTOCOL);
  ASSERT_EQ(d->option_count, 1u);
  EXPECT_STREQ(d->options[0].name, "socket");
  EXPECT_STREQ(d->options[0].aliases, "uwsgi-socket");
  EXPECT_EQ(d->options[0].short_name, 's');
  EXPECT_EQ(d->options[0].type, TRELLIS_OPT_LIST);

  // The plugin keeps its host, and is never freed (plugins are never
  // unloaded): static keeps both reachable.
  static FakeHost fake;
  fake.options["buffer-size"] = {"64"};
  static trellis_plugin_instance instance{sizeof(trellis_plugin_instance), nullptr, nullptr};
  ASSERT_EQ(d->create(fake.api(), fake.host().raw(), &instance), TRELLIS_OK);
  const trellis_plugin_table* plugin = instance.table;
  ASSERT_NE(plugin, nullptr);
  ASSERT_EQ(plugin->on_config(instance.self), TRELLIS_OK);
  void* runtime_self = nullptr;
  EXPECT_EQ(plugin->runtime(instance.self, &runtime_self), nullptr);
  void* protocol_self = nullptr;
  const trellis_protocol_table* proto = plugin->protocol(instance.self, &protocol_self);
  ASSERT_NE(proto, nullptr);
  EXPECT_STREQ(proto->name, "uwsgi");
  EXPECT_STREQ(proto->socket_option, "socket");

  // check_head through the C table.
  trellis_field te = {{"Transfer-Encoding", 17}, {"chunked", 7}};
  trellis_response_head bad{sizeof(trellis_response_head), 0, {"200 OK", 6}, &te, 1};
  EXPECT_EQ(proto->check_head(protocol_self, &bad, nullptr), TRELLIS_INVALID_ARGUMENT);
  trellis_response_head good{sizeof(trellis_response_head), 0, {"200 OK", 6}, nullptr, 0};
  EXPECT_EQ(proto->check_head(protocol_self, &good, nullptr), TRELLIS_OK);

  // The configured buffer-size reaches the sessions.
  FakeConnection& conn = fake.connection();
  void* session_self = nullptr;
  const trellis_session_table* session =
      proto->open_session(protocol_self, fake.handle(conn).raw(), &session_self);
  ASSERT_NE(session, nullptr);
  EXPECT_EQ(session->phase(session_self), TRELLIS_PHASE_HEAD);
  std::string p = packet({{"K", std::string(100, 'v')}});  // over 64: refused
  trellis_str space = session->read_space(session_self);
  ASSERT_GE(space.len, 4u);
  std::memcpy(const_cast<char*>(space.ptr), p.data(), 4);
  session->on_received(session_self, 4);
  EXPECT_EQ(conn.closes, 1);
  EXPECT_EQ(conn.close_mode, kGraceful);
  EXPECT_TRUE(fake.logged("exceeds buffer-size 64"));
  session->release(session_self);

  fake.options["buffer-size"] = {"zero"};
  EXPECT_EQ(plugin->on_config(instance.self), TRELLIS_INVALID_ARGUMENT);
}

}  // namespace
}  // namespace trellis::uwsgi::test
