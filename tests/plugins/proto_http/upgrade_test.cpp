// Switching protocols (RFC 9110 §15.2.2, RFC 9112 §9 / RFC 9110 §7.8): a
// runtime answers a request that offered an Upgrade with a 101, calls
// Stream::upgrade, and from then on the connection's bytes are messages
// both ways, through the fake core.
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace trellis::http::test {
namespace {

using sdk::Field;
using sdk::Status;

const std::string kOffer =
    "GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n";
const std::string kNoOffer = "GET /chat HTTP/1.1\r\nHost: a\r\n\r\n";

const std::vector<Field> kSwitch = {{"Upgrade", "echo"}, {"Connection", "Upgrade"}};
const std::vector<Field> kTwoBytes = {{"Content-Length", "2"}};

// check_response_start over C++ fields.
const char* check(std::string_view status, const std::vector<Field>& fields, ResponseStartInfo& info) {
  sdk::detail::CFields c(fields);
  return check_response_start(status, sdk::FieldList(c.data(), c.size()), info);
}

TEST(Upgrade, OfferedUpgradeIsNamedInTheHead) {
  Rig rig;
  ASSERT_EQ(rig.feed(kOffer), 0u);
  ASSERT_EQ(rig.host.streams.size(), 1u);
  const sdk::Request req = rig.runtime().request();
  EXPECT_EQ(req.upgrade, "echo");
  EXPECT_TRUE(rig.stream().c_head.flags & TRELLIS_REQUEST_UPGRADE_OFFERED);
}

TEST(Upgrade, SwitchSendsTheHeadAloneThenBytesAreMessages) {
  Rig rig;
  // The client may send the new protocol's first bytes right after its request.
  ASSERT_EQ(rig.feed(kOffer + "early"), 0u);
  sdk::Stream rt = rig.runtime();
  ASSERT_EQ(rt.start("101 Switching Protocols", kSwitch), Status::ok);
  EXPECT_EQ(rig.conn.wire, "");  // nothing until the switch
  ASSERT_EQ(rt.upgrade(), Status::ok);
  const std::string& wire = rig.conn.wire;
  EXPECT_TRUE(wire.starts_with("HTTP/1.1 101 Switching Protocols\r\n")) << wire;
  EXPECT_NE(wire.find("\r\nUpgrade: echo\r\n"), std::string::npos) << wire;
  EXPECT_NE(wire.find("\r\nConnection: Upgrade\r\n"), std::string::npos) << wire;
  EXPECT_TRUE(wire.ends_with("\r\n\r\n")) << wire;  // no body, no framing
  EXPECT_EQ(wire.find("Content-Length"), std::string::npos) << wire;
  EXPECT_EQ(wire.find("Transfer-Encoding"), std::string::npos) << wire;

  FakeStream& s = rig.stream();
  ASSERT_EQ(s.messages.size(), 1u);
  EXPECT_EQ(s.messages[0].second, "early");
  // Bytes that look like HTTP are no longer parsed as HTTP.
  ASSERT_EQ(rig.feed("GET / HTTP/1.1\r\n\r\n"), 0u);
  ASSERT_EQ(s.messages.size(), 2u);
  EXPECT_EQ(s.messages[1].second, "GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(rig.host.streams.size(), 1u);  // no second request
  EXPECT_EQ(rig.session->phase(), sdk::Phase::busy);  // no idle or head timeout cuts it

  const std::size_t before = wire.size();
  ASSERT_EQ(rt.send_message(TRELLIS_MESSAGE_BINARY | TRELLIS_MESSAGE_FINAL, "pong"), Status::ok);
  EXPECT_EQ(wire.substr(before), "pong");  // unframed: the other protocol frames
  EXPECT_EQ(rig.conn.closes, 0);

  // The runtime ends the other protocol: the connection closes gracefully.
  ASSERT_EQ(rt.finish(), Status::ok);
  EXPECT_EQ(rig.conn.closes, 1);
  EXPECT_EQ(rig.conn.close_mode, static_cast<std::uint32_t>(TRELLIS_CLOSE_GRACEFUL));
  EXPECT_TRUE(s.closed);
  EXPECT_EQ(s.summary.status, 101);
}

TEST(Upgrade, CloseFlagOnAMessageEndsTheConnection) {
  Rig rig;
  ASSERT_EQ(rig.feed(kOffer), 0u);
  sdk::Stream rt = rig.runtime();
  ASSERT_EQ(rt.start("101 Switching Protocols", kSwitch), Status::ok);
  ASSERT_EQ(rt.upgrade(), Status::ok);
  ASSERT_EQ(rt.send_message(TRELLIS_MESSAGE_CLOSE, "bye"), Status::ok);
  EXPECT_TRUE(rig.conn.wire.ends_with("bye"));
  EXPECT_EQ(rig.conn.closes, 1);
  EXPECT_TRUE(rig.stream().closed);
}

TEST(Upgrade, PeerEofResetsTheStream) {
  Rig rig;
  ASSERT_EQ(rig.feed(kOffer), 0u);
  sdk::Stream rt = rig.runtime();
  ASSERT_EQ(rt.start("101 Switching Protocols", kSwitch), Status::ok);
  ASSERT_EQ(rt.upgrade(), Status::ok);
  rig.session->on_eof();
  EXPECT_TRUE(rig.stream().reset);
  EXPECT_EQ(rig.conn.closes, 1);
}

TEST(Upgrade, A101WithoutAnOfferIsRefused) {
  Rig rig;
  ASSERT_EQ(rig.feed(kNoOffer), 0u);
  sdk::Stream rt = rig.runtime();
  EXPECT_EQ(rt.start("101 Switching Protocols", kSwitch), Status::invalid_argument);
  EXPECT_EQ(rt.upgrade(), Status::unsupported);
  // The runtime can still answer properly.
  ASSERT_EQ(rt.start("200 OK", kTwoBytes), Status::ok);
  ASSERT_EQ(rt.write("ok", true), Status::ok);
  ASSERT_EQ(rt.finish(), Status::ok);
  EXPECT_TRUE(rig.conn.wire.starts_with("HTTP/1.1 200 OK\r\n")) << rig.conn.wire;
  EXPECT_EQ(rig.conn.wire.find("101"), std::string::npos);
}

TEST(Upgrade, A101NeedsTheSwitchNotABody) {
  Rig rig;
  ASSERT_EQ(rig.feed(kOffer), 0u);
  sdk::Stream rt = rig.runtime();
  ASSERT_EQ(rt.start("101 Switching Protocols", kSwitch), Status::ok);
  // A 101 carries no body, and finishing it without switching leaves the
  // client with nothing it can use.
  EXPECT_EQ(rt.write("x", true), Status::invalid_argument);
  EXPECT_EQ(rig.conn.wire.find("HTTP/1.1 101"), std::string::npos);
}

TEST(Upgrade, MessagesBeforeTheSwitchAreRefused) {
  Rig rig;
  ASSERT_EQ(rig.feed(kOffer), 0u);
  sdk::Stream rt = rig.runtime();
  EXPECT_EQ(rt.send_message(TRELLIS_MESSAGE_BINARY, "x"), Status::unsupported);
  // A 200 to an upgrade offer is an ordinary response (the offer declined).
  ASSERT_EQ(rt.start("200 OK", kTwoBytes), Status::ok);
  EXPECT_EQ(rt.upgrade(), Status::unsupported);
  ASSERT_EQ(rt.write("ok", true), Status::ok);
  ASSERT_EQ(rt.finish(), Status::ok);
  EXPECT_TRUE(rig.conn.wire.starts_with("HTTP/1.1 200 OK\r\n"));
}

TEST(Upgrade, OtherHopByHopFieldsStayRefusedOnA101) {
  ResponseStartInfo info;
  EXPECT_EQ(check("101 Switching Protocols", kSwitch, info), nullptr);
  EXPECT_TRUE(info.switching);
  EXPECT_STREQ(check("101 Switching Protocols", {{"Upgrade", "echo"}, {"Transfer-Encoding", "chunked"}}, info),
               "hop-by-hop header field set by the application");
  EXPECT_STREQ(check("200 OK", kSwitch, info), "hop-by-hop header field set by the application");
  // The server must name the protocol it switches to (RFC 9110 §15.2.2).
  EXPECT_STREQ(check("101 Switching Protocols", {{"Connection", "Upgrade"}}, info),
               "101 response without an Upgrade header field");
}

}  // namespace
}  // namespace trellis::http::test
