// Request parsing through a real HttpSession on the fake core: every case is
// fed whole, byte by byte and in seeded random splits, and must give the same
// verdict, the same request heads (as the core copies them) and the same
// bodies every way.
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace trellis::http::test {
namespace {

Outcome all_ways(const std::string& in, const SessionConfig& cfg = default_config()) {
  Outcome ref = drive(in, whole(), cfg).outcome;
  EXPECT_EQ(drive(in, bytewise(), cfg).outcome, ref) << "byte by byte";
  for (unsigned seed = 1; seed <= 8; ++seed) EXPECT_EQ(drive(in, random_split(seed), cfg).outcome, ref) << "seed " << seed;
  // A runtime that holds as little unread body as possible (every piece
  // answered `again`) sees the same.
  DriveOptions again;
  again.body_again = true;
  EXPECT_EQ(drive(in, random_split(99), cfg, default_responder, again).outcome, ref) << "body_again";
  return ref;
}

// One accepted request, no error.
Captured accepted(const std::string& in, const SessionConfig& cfg = default_config()) {
  Outcome o = all_ways(in, cfg);
  EXPECT_EQ(o.error_status, 0) << in;
  EXPECT_EQ(o.requests.size(), 1u) << in;
  return o.requests.empty() ? Captured{} : o.requests.front();
}

// Refused before the application got a complete request (a bad head never
// opens a stream; a bad body resets the one it opened); returns the status
// sent.
int refused(const std::string& in, const SessionConfig& cfg = default_config()) {
  Outcome o = all_ways(in, cfg);
  EXPECT_TRUE(o.requests.empty()) << o;
  return o.error_status;
}

const std::string kHost = "Host: example.com\r\n";

TEST(RequestParsing, SimpleGet) {
  Captured c = accepted("GET /hello/world?x=1&y=2 HTTP/1.1\r\nHost: example.com:9000\r\nUser-Agent: t\r\n\r\n");
  EXPECT_EQ(c.method, "GET");
  EXPECT_EQ(c.uri, "/hello/world?x=1&y=2");
  EXPECT_EQ(c.path, "/hello/world");
  EXPECT_EQ(c.query, "x=1&y=2");
  EXPECT_EQ(c.protocol, "HTTP/1.1");
  EXPECT_EQ(c.scheme, "http");
  EXPECT_EQ(c.server_name, "example.com");
  EXPECT_EQ(c.server_port, "9000");
  EXPECT_EQ(c.remote_addr, "10.0.0.7");
  EXPECT_EQ(c.content_length, 0);
  EXPECT_EQ(c.body, "");
  EXPECT_EQ(c.flags, static_cast<std::uint32_t>(TRELLIS_REQUEST_BODY_TERMINATED));
  ASSERT_EQ(c.headers.size(), 2u);
  EXPECT_EQ(c.headers[0], (std::pair<std::string, std::string>{"Host", "example.com:9000"}));
  EXPECT_EQ(c.headers[1], (std::pair<std::string, std::string>{"User-Agent", "t"}));
}

TEST(RequestParsing, PathIsPercentDecodedUriAndQueryStayRaw) {
  Captured c = accepted("GET /a%20b/%C3%A9%2F?q=%zz%20 HTTP/1.1\r\n" + kHost + "\r\n");
  EXPECT_EQ(c.path, "/a b/\xC3\xA9/");
  EXPECT_EQ(c.uri, "/a%20b/%C3%A9%2F?q=%zz%20");
  EXPECT_EQ(c.query, "q=%zz%20");
}

TEST(RequestParsing, HostWithoutPortUsesSocketPort) {
  Captured c = accepted("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
  EXPECT_EQ(c.server_name, "example.com");
  EXPECT_EQ(c.server_port, "8080");
}

TEST(RequestParsing, EmptyHostFallsBackToSocketAddress) {
  Captured c = accepted("GET / HTTP/1.1\r\nHost:\r\n\r\n");
  EXPECT_EQ(c.server_name, "127.0.0.1");
  EXPECT_EQ(c.server_port, "8080");
}

TEST(RequestParsing, Ipv6Host) {
  Captured c = accepted("GET / HTTP/1.1\r\nHost: [::1]:9000\r\n\r\n");
  EXPECT_EQ(c.server_name, "[::1]");
  EXPECT_EQ(c.server_port, "9000");
}

TEST(RequestParsing, AbsoluteFormTargetOverridesHost) {
  Captured c = accepted("GET http://real.example:81/p/q?z=1 HTTP/1.1\r\nHost: fake.example\r\n\r\n");
  EXPECT_EQ(c.path, "/p/q");
  EXPECT_EQ(c.query, "z=1");
  EXPECT_EQ(c.uri, "http://real.example:81/p/q?z=1");
  EXPECT_EQ(c.server_name, "real.example");
  EXPECT_EQ(c.server_port, "81");
  EXPECT_EQ(c.header("host"), "real.example:81");
}

TEST(RequestParsing, AbsoluteFormWithoutPathIsRoot) {
  Captured c = accepted("GET HTTPS://example.com HTTP/1.1\r\n" + kHost + "\r\n");
  EXPECT_EQ(c.path, "/");
  EXPECT_EQ(c.query, "");
}

TEST(RequestParsing, AsteriskForOptions) {
  Captured c = accepted("OPTIONS * HTTP/1.1\r\n" + kHost + "\r\n");
  EXPECT_EQ(c.method, "OPTIONS");
  EXPECT_EQ(c.path, "*");
  EXPECT_EQ(c.uri, "*");
}

TEST(RequestParsing, ExtensionMethodToken) {
  EXPECT_EQ(accepted("PROPFIND /x HTTP/1.1\r\n" + kHost + "\r\n").method, "PROPFIND");
}

TEST(RequestParsing, LeadingEmptyLinesAreIgnored) {
  Captured c = accepted("\r\n\r\nGET /x HTTP/1.1\r\n" + kHost + "\r\n");
  EXPECT_EQ(c.path, "/x");
}

TEST(RequestParsing, RepeatedFieldsAreKeptAsReceivedInOrder) {
  // The contract of trellis_request_head: every field as received, repeats
  // kept, in order; a runtime that wants one value per name joins them.
  Captured c = accepted("GET / HTTP/1.1\r\n" + kHost +
                        "Accept: a\r\nCookie: x=1\r\nAccept: b\r\nCookie: y=2\r\naccept: c\r\n\r\n");
  ASSERT_EQ(c.headers.size(), 6u);
  const std::vector<std::pair<std::string, std::string>> want = {
      {"Host", "example.com"}, {"Accept", "a"}, {"Cookie", "x=1"}, {"Accept", "b"}, {"Cookie", "y=2"}, {"accept", "c"}};
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(c.headers[i].first, want[i].first) << i;
    EXPECT_EQ(c.headers[i].second, want[i].second) << i;
  }
}

TEST(RequestParsing, ContentLengthIsHandedOnceAsTheFramedNumber) {
  Captured c = accepted("POST / HTTP/1.1\r\n" + kHost + "Content-Length: 3\r\nX-A: 1\r\ncontent-length: 003\r\n\r\nabc");
  ASSERT_EQ(c.headers.size(), 3u);
  EXPECT_EQ(c.headers[1].first, "Content-Length");
  EXPECT_EQ(c.headers[1].second, "3");
  EXPECT_EQ(c.headers[2].first, "X-A");
  EXPECT_EQ(accepted("POST / HTTP/1.1\r\n" + kHost + "Content-Length: 3, 3\r\n\r\nabc").header("content-length"),
            "3");
}

TEST(RequestParsing, UnderscoreNamesAreDropped) {
  Captured c = accepted("GET / HTTP/1.1\r\n" + kHost + "X_Forwarded_For: evil\r\nX-Forwarded-For: good\r\n\r\n");
  EXPECT_EQ(c.header("x-forwarded-for"), "good");
  EXPECT_EQ(c.headers.size(), 2u);
}

TEST(RequestParsing, ValuesAreTrimmedAndMayBeEmpty) {
  Captured c = accepted("GET / HTTP/1.1\r\n" + kHost + "X-A: \t spaced out \t\r\nX-B:\r\nX-C:v\r\n\r\n");
  EXPECT_EQ(c.header("x-a"), "spaced out");
  EXPECT_EQ(c.header("x-b"), "");
  EXPECT_EQ(c.header("x-c"), "v");
}

TEST(RequestParsing, ObsTextInValuesAndTargetIsAccepted) {
  Captured c = accepted("GET /caf\xC3\xA9 HTTP/1.1\r\n" + kHost + "X-Name: caf\xC3\xA9\r\n\r\n");
  EXPECT_EQ(c.path, "/caf\xC3\xA9");
  EXPECT_EQ(c.header("x-name"), "caf\xC3\xA9");
}

TEST(RequestParsing, Http10WithoutHostIsFine) {
  Captured c = accepted("GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(c.protocol, "HTTP/1.0");
  EXPECT_EQ(c.server_name, "127.0.0.1");
}

TEST(RequestParsing, HigherMinorVersionIsTreatedAs11) {
  Captured c = accepted("GET / HTTP/1.7\r\n" + kHost + "\r\n");
  EXPECT_EQ(c.protocol, "HTTP/1.1");
}

TEST(RequestParsing, ContentLengthBody) {
  Captured c = accepted("POST /f HTTP/1.1\r\n" + kHost + "Content-Length: 11\r\n\r\nhello world");
  EXPECT_EQ(c.content_length, 11);
  EXPECT_EQ(c.body, "hello world");
}

TEST(RequestParsing, ContentLengthIdenticalRepeatsAreOne) {
  EXPECT_EQ(accepted("POST / HTTP/1.1\r\n" + kHost + "Content-Length: 3, 3\r\n\r\nabc").body, "abc");
  EXPECT_EQ(accepted("POST / HTTP/1.1\r\n" + kHost + "Content-Length: 3\r\ncontent-length: 003\r\n\r\nabc").body,
            "abc");
}

TEST(RequestParsing, ZeroContentLength) {
  Captured c = accepted("POST / HTTP/1.1\r\n" + kHost + "Content-Length: 0\r\n\r\n");
  EXPECT_EQ(c.content_length, 0);
  EXPECT_EQ(c.body, "");
}

TEST(RequestParsing, ChunkedBodyWithExtensionsAndTrailers) {
  Captured c = accepted("POST / HTTP/1.1\r\n" + kHost + "Transfer-Encoding: Chunked\r\n\r\n"
                        "5;name=value;flag\r\nhello\r\n"
                        "6 ; q=\"quo\\\"ted;\" ; x = y\r\n world\r\n"
                        "A\r\n0123456789\r\n"
                        "000\r\nX-Trailer: dropped\r\nChecksum: abc\r\n\r\n");
  EXPECT_EQ(c.content_length, -1);
  EXPECT_EQ(c.flags & TRELLIS_REQUEST_BODY_TERMINATED, static_cast<std::uint32_t>(TRELLIS_REQUEST_BODY_TERMINATED));
  EXPECT_EQ(c.body, "hello world0123456789");
  EXPECT_EQ(c.header("x-trailer"), "<none>");
}

TEST(RequestParsing, EmptyChunkedBody) {
  Captured c = accepted("POST / HTTP/1.1\r\n" + kHost + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  EXPECT_EQ(c.body, "");
  EXPECT_EQ(c.content_length, -1);
}

// RFC 9112 §7.1: chunk-size = 1*HEXDIG. A size spelled with 16 or more
// digits is fine as long as its value fits; all_ways() feeds it whole, byte
// by byte and in random splits.
TEST(RequestParsing, ChunkSizesWithManyLeadingZeros) {
  const std::string head = "POST / HTTP/1.1\r\n" + kHost + "Transfer-Encoding: chunked\r\n\r\n";
  Captured c = accepted(head + "0000000000000003\r\nabc\r\n00000000000000000\r\n\r\n");
  EXPECT_EQ(c.body, "abc");
  c = accepted(head + std::string(64, '0') + "a;ext=1\r\n0123456789\r\n" + std::string(20, '0') + "\r\nT: v\r\n\r\n");
  EXPECT_EQ(c.body, "0123456789");
  EXPECT_EQ(c.header("t"), "<none>");
  // The value is still bounded: 16 significant digits after the zeros.
  EXPECT_EQ(refused(head + "00001000000000000000\r\n"), 400);
  // A keep-alive follower is parsed after such a body.
  Outcome o = all_ways(head + "00000000000000000002\r\nok\r\n00000000000000000\r\n\r\n"
                       "GET /next HTTP/1.1\r\n" + kHost + "\r\n");
  ASSERT_EQ(o.requests.size(), 2u) << o;
  EXPECT_EQ(o.requests[0].body, "ok");
  EXPECT_EQ(o.requests[1].path, "/next");
  EXPECT_EQ(o.error_status, 0);
}

// The core buffers and spools bodies now; the session hands them on as they
// arrive, whatever their size, with a buffer that never grows for them.
TEST(RequestParsing, LargeBodiesAreHandedOnAsTheyArrive) {
  SessionConfig cfg = default_config();
  std::string body;
  for (int i = 0; i < 5000; ++i) body += static_cast<char>('a' + i % 26);
  Captured c = accepted("POST / HTTP/1.1\r\n" + kHost + "Content-Length: 5000\r\n\r\n" + body, cfg);
  EXPECT_EQ(c.body, body);
  std::string chunked;
  for (std::size_t i = 0; i < body.size(); i += 700) {
    std::string part = body.substr(i, 700);
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", part.size());
    chunked += size + part + "\r\n";
  }
  chunked += "0\r\n\r\n";
  c = accepted("POST / HTTP/1.1\r\n" + kHost + "Transfer-Encoding: chunked\r\n\r\n" + chunked, cfg);
  EXPECT_EQ(c.body, body);
}

TEST(RequestParsing, BigChunkedBody) {
  std::string body(100000, 'z');
  Captured c = accepted("POST / HTTP/1.1\r\n" + kHost + "Transfer-Encoding: chunked\r\n\r\n186a0\r\n" + body +
                        "\r\n0\r\n\r\n");
  EXPECT_EQ(c.body, body);
}

TEST(RequestParsing, PipelinedRequestsAreAnsweredInOrder) {
  const std::string in = "GET /1 HTTP/1.1\r\n" + kHost + "\r\n" +
                         "POST /2 HTTP/1.1\r\n" + kHost + "Content-Length: 4\r\n\r\nbody" +
                         "POST /3 HTTP/1.1\r\n" + kHost + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" +
                         "\r\nGET /4 HTTP/1.1\r\n" + kHost + "\r\n";
  Outcome o = all_ways(in);
  ASSERT_EQ(o.requests.size(), 4u) << o;
  EXPECT_EQ(o.requests[0].path, "/1");
  EXPECT_EQ(o.requests[1].body, "body");
  EXPECT_EQ(o.requests[2].body, "abc");
  EXPECT_EQ(o.requests[3].path, "/4");
  EXPECT_EQ(o.error_status, 0);
  // Each response went out, in order, on the same connection.
  std::string wire = drive(in, whole()).wire;
  std::size_t count = 0;
  for (std::size_t p = 0; (p = wire.find("HTTP/1.1 200 OK", p)) != std::string::npos; ++p) ++count;
  EXPECT_EQ(count, 4u);
}

TEST(RequestParsing, ManySmallPipelinedRequestsCrossTheBufferEnd) {
  std::string in;
  for (int i = 0; i < 300; ++i) in += "GET /" + std::to_string(i) + " HTTP/1.1\r\n" + kHost + "\r\n";
  Outcome o = all_ways(in);
  ASSERT_EQ(o.requests.size(), 300u);
  EXPECT_EQ(o.requests[299].path, "/299");
}

// What the core learns besides the fields: go-ahead and upgrade offers.
TEST(RequestParsing, HeadFlags) {
  Captured c = accepted("POST / HTTP/1.1\r\n" + kHost + "Expect: 100-continue\r\nContent-Length: 2\r\n\r\nab");
  EXPECT_EQ(c.flags, static_cast<std::uint32_t>(TRELLIS_REQUEST_BODY_TERMINATED | TRELLIS_REQUEST_EXPECTS_GO_AHEAD));
  EXPECT_EQ(c.body, "ab");
  c = accepted("GET /ws HTTP/1.1\r\n" + kHost + "Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n");
  EXPECT_EQ(c.flags, static_cast<std::uint32_t>(TRELLIS_REQUEST_BODY_TERMINATED | TRELLIS_REQUEST_UPGRADE_OFFERED));
  EXPECT_EQ(c.upgrade, "websocket");
  EXPECT_EQ(c.header("upgrade"), "websocket");
  // Without "Connection: upgrade", or in HTTP/1.0, Upgrade offers nothing.
  for (const std::string& in : {"GET / HTTP/1.1\r\n" + kHost + "Upgrade: websocket\r\n\r\n",
                                std::string("GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n")}) {
    c = accepted(in);
    EXPECT_EQ(c.flags, static_cast<std::uint32_t>(TRELLIS_REQUEST_BODY_TERMINATED)) << in;
    EXPECT_EQ(c.upgrade, "") << in;
  }
}

TEST(RequestParsing, Http10KeepAliveCarriesASecondRequest) {
  Outcome o = all_ways("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\n\r\nGET /c HTTP/1.0\r\n\r\n");
  ASSERT_EQ(o.requests.size(), 2u);  // /b has no keep-alive: the connection ends after it
  EXPECT_TRUE(o.closed);
}

TEST(RequestParsing, ConnectionCloseEndsThePipeline) {
  Outcome o = all_ways("GET /a HTTP/1.1\r\n" + kHost + "Connection: foo, Close\r\n\r\nGET /b HTTP/1.1\r\n" + kHost + "\r\n");
  ASSERT_EQ(o.requests.size(), 1u);
  EXPECT_TRUE(o.closed);
}

TEST(RequestParsing, ErrorAfterAGoodRequestStopsEverything) {
  Outcome o = all_ways("GET /a HTTP/1.1\r\n" + kHost + "\r\n" + "GET /b HTTP/1.1\r\n" + kHost +
                       "Content-Length: -1\r\n\r\n" + "GET /c HTTP/1.1\r\n" + kHost + "\r\n");
  ASSERT_EQ(o.requests.size(), 1u);
  EXPECT_EQ(o.error_status, 400);
}

// ---- refusals ----------------------------------------------------------

TEST(RequestRefusal, MalformedRequestLine) {
  for (const std::string& line : std::vector<std::string>{"G(T / HTTP/1.1", "GET  / HTTP/1.1", "GET / HTTP/1.1 ", " GET / HTTP/1.1", "GET /",
                           "GET / http/1.1", "GET / HTTP/1.10", "GET / HTTP/1", "GET / HTTP/1.x", "GET /a b HTTP/1.1",
                           "GET\t/ HTTP/1.1", "/ HTTP/1.1", "GET /#frag HTTP/1.1", "GET a/b HTTP/1.1",
                           "GET /a\x01 HTTP/1.1", "GET /a\x7f HTTP/1.1", "GET ftp://x/ HTTP/1.1",
                           "GET http://user@x/ HTTP/1.1", "GET http:/// HTTP/1.1", "GET * HTTP/1.1",
                           "GET /a%zz HTTP/1.1", "GET /a%0 HTTP/1.1", "GET /a%00b HTTP/1.1"})
    EXPECT_EQ(refused(line + "\r\n" + kHost + "\r\n"), 400) << line;
}

TEST(RequestRefusal, GarbageIsRefusedBeforeTheLineEnds) {
  // A TLS ClientHello on the plain port: refused at its first byte.
  Outcome o = drive(std::string("\x16\x03\x01\x02\x00", 5), whole(), default_config(), default_responder, false).outcome;
  EXPECT_EQ(o.error_status, 400);
}

TEST(RequestRefusal, UnsupportedVersions) {
  for (const std::string& v : std::vector<std::string>{"HTTP/2.0", "HTTP/0.9", "HTTP/3.1"})
    EXPECT_EQ(refused("GET / " + v + "\r\n" + kHost + "\r\n"), 505) << v;
}

TEST(RequestRefusal, LineEndings) {
  EXPECT_EQ(refused("GET / HTTP/1.1\n" + kHost + "\r\n"), 400);
  EXPECT_EQ(refused("GET / HTTP/1.1\r\nHost: a\n\r\n"), 400);
  EXPECT_EQ(refused("GET / HTTP/1.1\r\nHost: a\r\n\n"), 400);
  EXPECT_EQ(refused("\nGET / HTTP/1.1\r\n" + kHost + "\r\n"), 400);
  EXPECT_EQ(refused("\r\rGET / HTTP/1.1\r\n" + kHost + "\r\n"), 400);
  EXPECT_EQ(refused("GET / HTTP/1.1\r\n" + kHost + "X: a\rb\r\n\r\n"), 400);
  EXPECT_EQ(refused("GET / HTTP/1.1\r\r\n" + kHost + "\r\n"), 400);
}

TEST(RequestRefusal, FieldSyntax) {
  for (const std::string& f : std::vector<std::string>{"Host : x", "X-A : b", "X A: b", ": b", "X-A", "X-A\t: b", " X-A: b", "\tX-A: b",
                        "X-A: b\x01", std::string("X-A: b\0c", 8), std::string("X\0A: b", 6), "X-A: \x7f",
                        "X(A): b", "X-A: b\x1b[0m"})
    EXPECT_EQ(refused("GET / HTTP/1.1\r\n" + kHost + f + "\r\n\r\n"), 400) << f;
}

TEST(RequestRefusal, ObsFold) {
  EXPECT_EQ(refused("GET / HTTP/1.1\r\n" + kHost + "X-A: b\r\n c\r\n\r\n"), 400);
  EXPECT_EQ(refused("GET / HTTP/1.1\r\n Host: x\r\n\r\n"), 400);
}

TEST(RequestRefusal, HostRules) {
  EXPECT_EQ(refused("GET / HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(refused("GET http://a/ HTTP/1.1\r\n\r\n"), 400);  // absolute form still needs Host
  EXPECT_EQ(refused("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(refused("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
  for (const std::string& h : std::vector<std::string>{"a b", "a/b", "a@b", "a:b:c", "a:99999999", "[::1", "[zz]", ":80", "a\"b", "a%zz"})
    EXPECT_EQ(refused("GET / HTTP/1.1\r\nHost: " + h + "\r\n\r\n"), 400) << h;
}

TEST(RequestRefusal, ContentLength) {
  for (const std::string& v : std::vector<std::string>{"+5", "-1", "0x10", "5 5", "", "abc", "99999999999999999999", "5, 6", "5,", ",5", "5.0",
                        "1e3"})
    EXPECT_EQ(refused("POST / HTTP/1.1\r\n" + kHost + "Content-Length: " + v + "\r\n\r\nhello"), 400) << v;
  EXPECT_EQ(refused("POST / HTTP/1.1\r\n" + kHost + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"), 400);
}

TEST(RequestRefusal, ContentLengthAndTransferEncoding) {
  // The classic CL.TE smuggling payload.
  EXPECT_EQ(refused("POST / HTTP/1.1\r\n" + kHost + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG"),
            400);
  EXPECT_EQ(refused("POST / HTTP/1.1\r\n" + kHost + "Transfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\nG"),
            400);
}

TEST(RequestRefusal, TransferEncoding) {
  for (const std::string& v : std::vector<std::string>{"gzip", "chunked, gzip", "chunked, chunked", "chunked;x=1", "", "chunked,", ", chunked",
                        "chun ked", "\"chunked\""})
    EXPECT_EQ(refused("POST / HTTP/1.1\r\n" + kHost + "Transfer-Encoding: " + v + "\r\n\r\n0\r\n\r\n"), 400) << v;
  EXPECT_EQ(refused("POST / HTTP/1.1\r\n" + kHost + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            400);
  EXPECT_EQ(refused("POST / HTTP/1.1\r\n" + kHost + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"), 501);
  EXPECT_EQ(refused("POST / HTTP/1.1\r\n" + kHost + "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            501);
  EXPECT_EQ(refused("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 400);
}

TEST(RequestRefusal, BadChunks) {
  for (const std::string& body : std::vector<std::string>{"zz\r\n", "-1\r\nx\r\n0\r\n\r\n", "+1\r\nx\r\n0\r\n\r\n", "1 \r\nx\r\n0\r\n\r\n",
                           " 1\r\nx\r\n0\r\n\r\n", "\r\nx\r\n0\r\n\r\n", "3\r\nabcX\r\n0\r\n\r\n", "3\r\nabc\rX0\r\n\r\n",
                           "3\nabc\r\n0\r\n\r\n", "3\r\nabc\n0\r\n\r\n", "3\rabc\r\n0\r\n\r\n",
                           "1000000000000000\r\n", "0x3\r\nabc\r\n0\r\n\r\n", "3;\r\nabc\r\n0\r\n\r\n",
                           "3;a=\r\nabc\r\n0\r\n\r\n", "3;a b\r\nabc\r\n0\r\n\r\n", "3;a=\"x\r\nabc\r\n0\r\n\r\n",
                           "3;a=b \r\nabc\r\n0\r\n\r\n", "3;a=\x01\r\nabc\r\n0\r\n\r\n", "3\r\nabc\r\n0\r\n\n",
                           "3\r\nabc\r\n0\r\nX: a\r\n b\r\n\r\n", "3\r\nabc\r\n0\r\nX : a\r\n\r\n",
                           "3\r\nabc\r\n0\r\nX: a\x01\r\n\r\n", "3\r\nabc\r\n0\r\n\r\r"})
    EXPECT_EQ(refused("POST / HTTP/1.1\r\n" + kHost + "Transfer-Encoding: chunked\r\n\r\n" + body), 400) << body;
}

TEST(RequestRefusal, Limits) {
  SessionConfig cfg = default_config();
  cfg.parse.max_head = 1024;
  EXPECT_EQ(refused("GET /" + std::string(2000, 'a') + " HTTP/1.1\r\n" + kHost + "\r\n", cfg), 414);
  EXPECT_EQ(refused("GET / HTTP/1.1\r\n" + kHost + "X-Big: " + std::string(2000, 'a') + "\r\n\r\n", cfg), 431);
  // Exactly at the limit is fine, one byte more is not.
  std::string head = "GET / HTTP/1.1\r\n" + kHost + "X: ";
  std::string fill(1024 - head.size() - 4, 'b');
  EXPECT_EQ(accepted(head + fill + "\r\n\r\n", cfg).header("x"), fill);
  EXPECT_EQ(refused(head + fill + "b\r\n\r\n", cfg), 431);
  EXPECT_EQ(refused(std::string(2000, 'G'), cfg), 400);

  std::string fields;
  for (int i = 0; i < 100; ++i) fields += "X-" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(refused("GET / HTTP/1.1\r\n" + kHost + fields + "\r\n"), 431);  // 101 with Host
  cfg = default_config();
  cfg.parse.max_fields = 101;
  EXPECT_EQ(accepted("GET / HTTP/1.1\r\n" + kHost + fields + "\r\n", cfg).headers.size(), 101u);

  cfg = default_config();
  cfg.parse.max_body = 10;
  EXPECT_EQ(refused("POST / HTTP/1.1\r\n" + kHost + "Content-Length: 11\r\n\r\nhello world", cfg), 413);
  EXPECT_EQ(accepted("POST / HTTP/1.1\r\n" + kHost + "Content-Length: 10\r\n\r\nhelloworld", cfg).body, "helloworld");
  EXPECT_EQ(refused("POST / HTTP/1.1\r\n" + kHost + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
                    cfg),
            413);
}

TEST(RequestRefusal, Expectations) {
  EXPECT_EQ(refused("POST / HTTP/1.1\r\n" + kHost + "Expect: something\r\nContent-Length: 1\r\n\r\nx"), 417);
  // Expect is a list: one unknown element among 100-continue still fails,
  // and so does one on a second Expect line.
  for (const std::string& expect : std::vector<std::string>{
           "Expect: 100-continue, something\r\n", "Expect: something,\r\n", "Expect: , x ,\r\n",
           "Expect: 100-continue\r\nExpect: something\r\n", "Expect: ,\r\nExpect: 100-continue;x\r\n",
           "Expect: 100-continuex\r\n", "Expect: 100 continue\r\n"})
    EXPECT_EQ(refused("POST / HTTP/1.1\r\n" + kHost + expect + "Content-Length: 1\r\n\r\nx"), 417) << expect;
  // Empty elements are ignored (RFC 9110 §5.6.1.2): an Expect holding
  // nothing else expects nothing, and the request proceeds without a 100.
  for (const std::string& expect : std::vector<std::string>{
           "Expect:\r\n", "Expect: ,\r\n", "Expect: , ,\t,\r\n", "Expect: ,\r\nExpect:\r\n"}) {
    Captured c = accepted("POST / HTTP/1.1\r\n" + kHost + expect + "Content-Length: 1\r\n\r\nx");
    EXPECT_EQ(c.body, "x") << expect;
    EXPECT_EQ(drive("POST / HTTP/1.1\r\n" + kHost + expect + "Content-Length: 1\r\n\r\nx", whole())
                  .wire.find("100 Continue"),
              std::string::npos)
        << expect;
  }
  // HTTP/1.0 expectations are ignored (RFC 9110 §10.1.1).
  EXPECT_EQ(accepted("POST / HTTP/1.0\r\nExpect: something\r\nContent-Length: 1\r\n\r\nx").body, "x");
}

TEST(RequestRefusal, Connect) {
  EXPECT_EQ(refused("CONNECT example.com:443 HTTP/1.1\r\n" + kHost + "\r\n"), 501);
}

TEST(RequestRefusal, NoRuntimeIs500) {
  // Connection::open_stream finds nobody to serve it (the core logs why).
  Rig rig;
  rig.host.runtimes.clear();
  rig.feed("GET / HTTP/1.1\r\n" + kHost + "\r\n");
  EXPECT_TRUE(rig.host.streams.empty());
  EXPECT_EQ(rig.conn.wire.substr(0, 35), "HTTP/1.1 500 Internal Server Error\r");
  EXPECT_EQ(rig.conn.close_mode, static_cast<std::uint32_t>(TRELLIS_CLOSE_GRACEFUL));
  EXPECT_TRUE(rig.host.logged("http: refused a request with 500"));
}

TEST(RequestRefusal, ErrorReplyIsWellFormedAndCloses) {
  DriveResult r = drive("GET / HTTP/1.1\r\n\r\n", whole());
  EXPECT_EQ(r.outcome.error_status, 400);
  EXPECT_EQ(r.wire.substr(0, 26), "HTTP/1.1 400 Bad Request\r\n");
  EXPECT_NE(r.wire.find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_NE(r.wire.find("\r\nContent-Length: 12\r\n"), std::string::npos);
  EXPECT_EQ(r.wire.substr(r.wire.size() - 16), "\r\n\r\nBad Request\n");
  // Graceful: half-close, then read what the client still sends, so the
  // reply is not destroyed by a reset.
  EXPECT_EQ(r.close_mode, static_cast<std::uint32_t>(TRELLIS_CLOSE_GRACEFUL));
  EXPECT_TRUE(r.logs.back().text == "http: refused a request with 400");
}

TEST(RequestEof, EofBetweenOrInsideRequests) {
  Outcome o = all_ways("GET / HTTP/1.1\r\n" + kHost + "\r\n");
  EXPECT_EQ(o.requests.size(), 1u);
  EXPECT_TRUE(o.closed);
  o = all_ways("GET / HTTP/1.1\r\nHost: ex");
  EXPECT_TRUE(o.requests.empty());
  EXPECT_TRUE(o.closed);
  EXPECT_EQ(o.error_status, 0);
  o = all_ways("POST / HTTP/1.1\r\n" + kHost + "Content-Length: 10\r\n\r\nabc");
  EXPECT_TRUE(o.requests.empty());
  EXPECT_EQ(o.resets, 1);  // the stream opened at the head learns the client is gone
  EXPECT_TRUE(o.closed);
  EXPECT_EQ(o.error_status, 0);
}

TEST(RequestEof, BodyCutShortIsLoggedAndResetsTheStream) {
  DriveResult r = drive("POST / HTTP/1.1\r\n" + kHost + "Content-Length: 10\r\n\r\nabc", whole());
  EXPECT_EQ(r.close_mode, static_cast<std::uint32_t>(TRELLIS_CLOSE_AFTER_WRITE));
  bool logged = false;
  for (const auto& l : r.logs)
    if (l.text.find("closed the connection after 3 of 10 request body bytes") != std::string::npos) logged = true;
  EXPECT_TRUE(logged);
  r = drive("POST / HTTP/1.1\r\n" + kHost + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", whole());
  EXPECT_EQ(r.outcome.resets, 1);
  logged = false;
  for (const auto& l : r.logs)
    if (l.text.find("after 3 bytes of a chunked request body") != std::string::npos) logged = true;
  EXPECT_TRUE(logged);
}

}  // namespace
}  // namespace trellis::http::test
