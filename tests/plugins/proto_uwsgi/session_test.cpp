// The Session as the core drives it, and the plugin as the core loads it.
#include <gtest/gtest.h>

#include <boost/dll/shared_library.hpp>
#include <cstring>

#include "../protocol_fakes.hpp"
#include "packet_builder.hpp"
#include "session.hpp"
#include "trellis/plugin.hpp"

namespace trellis::uwsgi::test {
namespace {

using trellis::test::FakeHost;
using trellis::test::FakeTransport;

using sdk::Progress;

// Reads `input` in pieces of `piece` bytes, then EOF if still undecided.
Progress drive(sdk::Session& s, const std::string& input, std::size_t piece = 4096) {
  std::size_t pos = 0;
  Progress p = Progress::need_more;
  while (p == Progress::need_more && pos < input.size()) {
    auto space = s.read_space();
    if (space.empty()) return Progress::close;
    std::size_t k = std::min({space.size(), input.size() - pos, piece});
    std::memcpy(space.data(), input.data() + pos, k);
    pos += k;
    p = s.on_received(k);
  }
  return p == Progress::need_more ? s.on_eof() : p;
}

struct SessionTest : ::testing::Test {
  FakeHost host;
  FakeTransport transport;
  UwsgiSession* session = new UwsgiSession(transport, host, Limits{});
  ~SessionTest() override { session->release(); }
};

TEST_F(SessionTest, RequestThenResponseThenClose) {
  EXPECT_EQ(session->phase(), sdk::Phase::head);
  Vars vars = nginx_get_vars();
  vars[3].second = "5";  // CONTENT_LENGTH
  ASSERT_EQ(drive(*session, packet(vars, "hello"), 10), Progress::request_ready);
  EXPECT_EQ(session->phase(), sdk::Phase::idle);
  auto& req = session->request();
  EXPECT_EQ(req.method, "GET");
  EXPECT_EQ(req.content_length, 5);
  ASSERT_NE(req.body, nullptr);
  char buf[16];
  std::size_t got = 0;
  ASSERT_EQ(req.body->read(buf, sizeof buf, got), sdk::Status::ok);
  EXPECT_EQ(std::string(buf, got), "hello");

  sdk::Field h[] = {{"Content-Type", "text/plain"}};
  ASSERT_EQ(session->response().start("200 OK", h), sdk::Status::ok);
  ASSERT_EQ(session->response().write("hi", false), sdk::Status::ok);
  EXPECT_EQ(session->finish_request(), Progress::close);
  EXPECT_EQ(transport.wire, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhi");
  EXPECT_EQ(session->summary().status, 200);
  EXPECT_EQ(session->summary().body_bytes, 2u);
  EXPECT_TRUE(host.logs.empty());
}

TEST_F(SessionTest, BodyPhaseWhileWaitingForTheBody) {
  std::string p = packet({{"CONTENT_LENGTH", "10"}}, "abc");
  auto space = session->read_space();
  std::memcpy(space.data(), p.data(), p.size());
  ASSERT_EQ(session->on_received(p.size()), Progress::need_more);
  EXPECT_EQ(session->phase(), sdk::Phase::body);
  EXPECT_EQ(session->on_eof(), Progress::close);
  ASSERT_EQ(host.logs.size(), 1u);
  EXPECT_EQ(host.logs[0].level, sdk::LogLevel::warn);
  EXPECT_NE(host.logs[0].text.find("3 of 10 body bytes"), std::string::npos) << host.logs[0].text;
  EXPECT_NE(host.logs[0].text.find("127.0.0.1:40000"), std::string::npos) << host.logs[0].text;
}

TEST_F(SessionTest, RuntimeThatNeverAnsweredGetsA500) {
  ASSERT_EQ(drive(*session, packet(nginx_get_vars())), Progress::request_ready);
  EXPECT_EQ(session->finish_request(), Progress::close);
  EXPECT_EQ(transport.wire, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(host.logs.size(), 1u);
  EXPECT_EQ(host.logs[0].level, sdk::LogLevel::error);
}

TEST_F(SessionTest, InterimFinalStatusEndsAsA500) {
  // QA: start_response('103 Early Hints', []) then a body went out as a 103.
  ASSERT_EQ(drive(*session, packet(nginx_get_vars())), Progress::request_ready);
  EXPECT_EQ(session->response().start("103 Early Hints", {}), sdk::Status::invalid_argument);
  EXPECT_EQ(session->response().write("hello", true), sdk::Status::invalid_argument);
  EXPECT_EQ(session->finish_request(), Progress::close);
  EXPECT_EQ(transport.wire, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(session->summary().status, 500);
}

TEST_F(SessionTest, NoContentThroughTheSessionHasNoLengthNorBody) {
  ASSERT_EQ(drive(*session, packet(nginx_get_vars())), Progress::request_ready);
  sdk::Field h[] = {{"Content-Length", "5"}};
  ASSERT_EQ(session->response().start("204 No Content", h), sdk::Status::ok);
  ASSERT_EQ(session->response().write("hello", false), sdk::Status::ok);
  EXPECT_EQ(session->finish_request(), Progress::close);
  EXPECT_EQ(transport.wire, "HTTP/1.1 204 No Content\r\n\r\n");
  EXPECT_TRUE(host.logs.empty());
}

TEST_F(SessionTest, AbortedResponseIsNotCompleted) {
  ASSERT_EQ(drive(*session, packet(nginx_get_vars())), Progress::request_ready);
  ASSERT_EQ(session->response().start("200 OK", {}), sdk::Status::ok);
  ASSERT_EQ(session->response().write("part", false), sdk::Status::ok);
  session->response().abort();
  EXPECT_EQ(session->finish_request(), Progress::close);
  EXPECT_EQ(transport.wire, "HTTP/1.1 200 OK\r\n\r\npart");
}

TEST_F(SessionTest, PeerLeavingBeforeAnyByteIsQuiet) {
  EXPECT_EQ(session->on_eof(), Progress::close);
  EXPECT_TRUE(host.logs.empty());
}

struct Refused {
  const char* name;
  std::string input;
  int status;
};

void PrintTo(const Refused& r, std::ostream* os) { *os << r.name; }

class SessionRefusal : public ::testing::TestWithParam<Refused> {};

// A malformed or unservable packet is logged and the connection closes
// without a reply (nginx answers 502), after reading what the peer still
// sends so that it sees an end, not a reset; a body over limit-post is a well-formed
// request and gets its 413.
TEST_P(SessionRefusal, OneLogLineAndAShortReplyOrAClose) {
  FakeHost host;
  host.options["buffer-size"] = {"200"};
  host.options["limit-post"] = {"100"};
  FakeTransport transport;
  UwsgiSession* s = new UwsgiSession(transport, host, read_limits(host));
  Progress p = drive(*s, GetParam().input, 3);
  if (GetParam().status == 0) {
    // Closed without a reply, lingering (the peer may still be sending).
    EXPECT_EQ(p, Progress::respond_and_close);
    EXPECT_TRUE(s->pending_output().empty());
  } else {
    ASSERT_EQ(p, Progress::respond_and_close);
    std::string expect = "HTTP/1.1 " + std::to_string(GetParam().status) + " ";
    EXPECT_EQ(std::string(s->pending_output()).rfind(expect, 0), 0u) << s->pending_output();
    EXPECT_NE(s->pending_output().find("Connection: close\r\n"), std::string::npos);
    EXPECT_EQ(s->summary().status, GetParam().status);
  }
  ASSERT_EQ(host.logs.size(), 1u);
  EXPECT_EQ(host.logs[0].level, sdk::LogLevel::warn);
  EXPECT_EQ(host.logs[0].text.find('\n'), std::string::npos);
  EXPECT_EQ(host.logs[0].text.rfind("uwsgi: refused request from 127.0.0.1:40000 on 127.0.0.1:3031: ", 0), 0u)
      << host.logs[0].text;
  EXPECT_TRUE(transport.wire.empty());  // the core sends pending_output()
  s->release();
}

INSTANTIATE_TEST_SUITE_P(
    Bad, SessionRefusal,
    ::testing::Values(Refused{"too_big", packet({{"K", std::string(300, 'v')}}), 0},
                      Refused{"no_runtime", packet({{"REQUEST_METHOD", "GET"}}, "", 9), 0},
                      Refused{"zero_key", packet({{"", "v"}}), 0},
                      Refused{"bad_length", packet({{"CONTENT_LENGTH", "x"}}), 0},
                      Refused{"limit_post", packet({{"CONTENT_LENGTH", "101"}}), 413}),
    [](const ::testing::TestParamInfo<Refused>& p) { return std::string(p.param.name); });

TEST(UwsgiPlugin, LoadsAsTheCoreLoadsIt) {
  static boost::dll::shared_library lib(UWSGI_PLUGIN_PATH);
  auto entry = lib.get_alias<const trellis_plugin_descriptor*()>(TRELLIS_ENTRY_SYMBOL);
  const trellis_plugin_descriptor* d = entry();
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->magic, TRELLIS_DESCRIPTOR_MAGIC);
  EXPECT_STREQ(d->name, "uwsgi");
  EXPECT_EQ(d->kind, TRELLIS_KIND_PROTOCOL);
  ASSERT_EQ(d->option_count, 1u);
  EXPECT_STREQ(d->options[0].name, "socket");
  EXPECT_STREQ(d->options[0].aliases, "uwsgi-socket");
  EXPECT_EQ(d->options[0].short_name, 's');
  EXPECT_EQ(d->options[0].type, TRELLIS_OPT_LIST);

  static FakeHost host;
  host.options["buffer-size"] = {"64"};
  // Never freed (plugins are never unloaded): static keeps it reachable.
  static auto* plugin = static_cast<sdk::Plugin*>(d->create(&host));
  ASSERT_NE(plugin, nullptr);
  ASSERT_EQ(plugin->on_config(), sdk::Status::ok);
  sdk::Protocol* proto = plugin->protocol();
  ASSERT_NE(proto, nullptr);
  EXPECT_EQ(proto->socket_option(), "socket");

  // The configured buffer-size reaches the sessions.
  FakeTransport transport;
  sdk::Session* s = proto->open_session(transport);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(drive(*s, packet({{"K", std::string(100, 'v')}})), Progress::respond_and_close);  // over 64: refused
  s->release();

  host.options["buffer-size"] = {"zero"};
  EXPECT_EQ(plugin->on_config(), sdk::Status::invalid_argument);
}

}  // namespace
}  // namespace trellis::uwsgi::test
