// Every packet, good or bad, gets the same verdict whether it arrives whole,
// byte by byte or in random pieces.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <random>

#include "feed.hpp"
#include "packet_builder.hpp"

namespace trellis::uwsgi::test {
namespace {

struct Case {
  std::string name;
  std::string input;
  Limits limits;
  Verdict verdict;
  int status = 0;               // for refused
  std::string reason_has;       // for refused
  std::string body;             // for ready
};

Limits limits(std::uint32_t buffer = 32768, std::int64_t post_buffering = 1048576, std::int64_t limit_post = 0) {
  Limits l;
  l.buffer_size = buffer;
  l.post_buffering = post_buffering;
  l.limit_post = limit_post;
  return l;
}

Vars post_vars(const std::string& length) {
  return {{"REQUEST_METHOD", "POST"}, {"REQUEST_URI", "/form"}, {"CONTENT_LENGTH", length}};
}

// What nginx sends for "POST /app/rest?x=1" under
// `location /app { uwsgi_param SCRIPT_NAME /app; uwsgi_modifier1 30; }`.
Vars script_name_vars(const std::string& length) {
  return {{"REQUEST_METHOD", "POST"}, {"REQUEST_URI", "/app/rest?x=1"}, {"PATH_INFO", "/app/rest"},
          {"QUERY_STRING", "x=1"},    {"CONTENT_LENGTH", length},       {"SCRIPT_NAME", "/app"}};
}

std::string cgi_var(const sdk::Request& r, std::string_view name) {
  for (const auto& f : r.cgi_vars)
    if (f.name == name) return std::string(f.value);
  return "<absent>";
}

std::string big(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7) % 26);
  return s;
}

std::vector<Case> cases() {
  std::vector<Case> c;
  c.push_back({"nginx_get", packet(nginx_get_vars()), limits(), Verdict::ready, 0, "", ""});
  c.push_back({"post_in_memory", packet(post_vars("7"), "a=1&b=2"), limits(), Verdict::ready, 0, "", "a=1&b=2"});
  c.push_back({"post_spooled", packet(post_vars("7"), "a=1&b=2"), limits(32768, 4), Verdict::ready, 0, "", "a=1&b=2"});
  c.push_back({"post_spool_everything", packet(post_vars("3"), "xyz"), limits(32768, 0), Verdict::ready, 0, "", "xyz"});
  c.push_back({"big_body_in_memory", packet(post_vars("200000"), big(200000)), limits(), Verdict::ready, 0, "",
               big(200000)});
  c.push_back({"big_body_spooled", packet(post_vars("150001"), big(150001)), limits(32768, 1000), Verdict::ready, 0,
               "", big(150001)});
  c.push_back({"empty_vars_block", packet({}), limits(), Verdict::ready, 0, "", ""});
  c.push_back({"no_content_length", packet({{"REQUEST_METHOD", "GET"}}), limits(), Verdict::ready, 0, "", ""});
  c.push_back({"bytes_after_body_ignored", packet(post_vars("3"), "abcEXTRA"), limits(), Verdict::ready, 0, "", "abc"});
  {
    std::string p = packet({{"K", std::string(100 - 5, 'v')}});  // block of exactly 100
    c.push_back({"vars_exactly_buffer_size", p, limits(100), Verdict::ready, 0, "", ""});
  }
  c.push_back({"empty_value", packet({{"QUERY_STRING", ""}, {"REQUEST_METHOD", "GET"}}), limits(), Verdict::ready, 0,
               "", ""});

  c.push_back({"datasize_above_buffer_size", packet({{"K", std::string(101 - 5, 'v')}}), limits(100),
               Verdict::refused, 0, "exceeds buffer-size 100", ""});
  c.push_back({"no_runtime_for_modifier", packet(nginx_get_vars(), "", 5), limits(), Verdict::refused, 0,
               "modifier1 5", ""});
  // nginx `uwsgi_modifier1 30;`: served by runtime 0 (the feeders offer only 0).
  c.push_back({"modifier30_served_by_runtime_0", packet(script_name_vars("7"), "a=1&b=2", 30), limits(),
               Verdict::ready, 0, "", "a=1&b=2"});
  {
    std::string block = vars_block({{"A", "b"}});
    block[0] = 50;  // key length 50 in a 6-byte block
    std::string p = std::string("\0", 1) + static_cast<char>(block.size()) + std::string("\0\0", 2) + block;
    c.push_back({"key_overruns_block", p, limits(), Verdict::refused, 0, "key of 50 bytes", ""});
  }
  {
    std::string block = vars_block({{"A", "b"}});
    block[3] = 9;  // value length 9, only 1 byte left
    std::string p = std::string("\0", 1) + static_cast<char>(block.size()) + std::string("\0\0", 2) + block;
    c.push_back({"value_overruns_block", p, limits(), Verdict::refused, 0, "value of 9 bytes", ""});
  }
  {
    std::string block = vars_block({{"A", "b"}}) + std::string("\x01", 1);  // half a length
    std::string p = std::string("\0", 1) + static_cast<char>(block.size()) + std::string("\0\0", 2) + block;
    c.push_back({"block_ends_inside_length", p, limits(), Verdict::refused, 0, "ends inside a key length", ""});
  }
  {
    std::string block = vars_block({{"A", "b"}}) + std::string("\x01\x00X", 3);  // key, no value length
    std::string p = std::string("\0", 1) + static_cast<char>(block.size()) + std::string("\0\0", 2) + block;
    c.push_back({"block_ends_before_value", p, limits(), Verdict::refused, 0, "ends inside a value length", ""});
  }
  c.push_back({"zero_length_key", packet({{"A", "b"}, {"", "x"}}), limits(), Verdict::refused, 0, "empty key", ""});
  for (std::string bad : {"abc", "-1", "+5", "12 ", " 12", "0x10", "99999999999999999999"}) {
    c.push_back({"bad_content_length_" + std::to_string(c.size()), packet(post_vars(bad)), limits(),
                 Verdict::refused, 0, "invalid CONTENT_LENGTH", ""});
  }
  c.push_back({"limit_post", packet(post_vars("11"), "hello world"), limits(32768, 1048576, 10), Verdict::refused,
               413, "exceeds limit-post 10", ""});
  c.push_back({"body_short_at_eof", packet(post_vars("10"), "abc"), limits(), Verdict::refused, 0,
               "after 3 of 10 body bytes", ""});
  c.push_back({"body_short_at_eof_spooled", packet(post_vars("10"), "abc"), limits(32768, 2), Verdict::refused, 0,
               "after 3 of 10 body bytes", ""});
  c.push_back({"truncated_header", std::string("\0\x10", 2), limits(), Verdict::refused, 0, "after 2 of 4", ""});
  c.push_back({"truncated_vars", packet(nginx_get_vars()).substr(0, 40), limits(), Verdict::refused, 0,
               "after 40 of", ""});
  c.push_back({"nothing_at_all", "", limits(), Verdict::closed, 0, "", ""});
  return c;
}

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class PacketReaderCase : public ::testing::TestWithParam<Case> {};

TEST_P(PacketReaderCase, SameVerdictWholeBytewiseAndRandom) {
  const Case& c = GetParam();
  Outcome whole = feed_whole(c.limits, c.input);
  EXPECT_EQ(whole.verdict, c.verdict) << whole.reason;
  if (c.verdict == Verdict::refused) {
    EXPECT_EQ(whole.status, c.status);
    EXPECT_NE(whole.reason.find(c.reason_has), std::string::npos) << whole.reason;
  }
  if (c.verdict == Verdict::ready) {
    EXPECT_EQ(whole.body, c.body);
  }

  // Byte by byte is slow for the big bodies and adds nothing there.
  if (c.input.size() < 20000) {
    EXPECT_EQ(feed_bytewise(c.limits, c.input), whole) << "byte by byte";
  }
  for (unsigned seed = 1; seed <= 25; ++seed) {
    EXPECT_EQ(feed_random(c.limits, c.input, seed), whole) << "random split, seed " << seed;
  }
}

INSTANTIATE_TEST_SUITE_P(Packets, PacketReaderCase, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& p) { return p.param.name; });

TEST(PacketReader, VarsViewIntoOneBufferThatNeverMoves) {
  // A head larger than the first read buffer forces a resize before any
  // view exists; afterwards the views must survive the body arriving.
  Vars vars = nginx_get_vars();
  vars.push_back({"HTTP_COOKIE", std::string(9000, 'c')});
  vars.push_back({"CONTENT_LENGTH", "5"});
  vars.erase(vars.begin() + 3);  // the empty CONTENT_LENGTH
  PacketReader r(Limits{}, [](std::uint8_t) { return true; });
  Outcome o = feed(r, packet(vars, "hello"), [] { return std::size_t(333); });
  ASSERT_EQ(o.verdict, Verdict::ready) << o.reason;
  EXPECT_EQ(o.body, "hello");
  const auto& req = r.request();
  EXPECT_EQ(req.method, "GET");
  EXPECT_EQ(req.path, "/hello");
  bool found = false;
  for (const auto& f : req.cgi_vars) found |= (f.name == "HTTP_COOKIE" && f.value == std::string(9000, 'c'));
  EXPECT_TRUE(found);
}

TEST(PacketReader, Modifier30GoesToRuntime0WithoutTheScriptName) {
  const std::string p = packet(script_name_vars("5"), "hello", 30);
  std::vector<std::function<std::size_t()>> splits = {[] { return std::size_t(-1); }, [] { return std::size_t(1); }};
  for (unsigned seed = 1; seed <= 8; ++seed) {
    auto rng = std::make_shared<std::mt19937>(seed);
    splits.push_back([rng] { return std::uniform_int_distribution<std::size_t>(1, 17)(*rng); });
  }
  for (std::size_t i = 0; i < splits.size(); ++i) {
    std::vector<int> asked;
    PacketReader r(limits(), [&](std::uint8_t m) {
      asked.push_back(m);
      return m == 0;
    });
    Outcome o = feed(r, p, splits[i]);
    ASSERT_EQ(o.verdict, Verdict::ready) << o.reason << " split " << i;
    EXPECT_EQ(asked, std::vector<int>{0}) << "split " << i;  // runtime 0 is what serves it
    EXPECT_EQ(o.body, "hello");
    const sdk::Request& req = r.request();
    EXPECT_EQ(r.header().modifier1, 30);  // the packet as sent
    EXPECT_EQ(req.modifier1, 0);          // the runtime that gets it
    EXPECT_EQ(req.path, "/rest");
    // Runtimes build the environ from cgi_vars: the strip must show there.
    EXPECT_EQ(cgi_var(req, "PATH_INFO"), "/rest");
    EXPECT_EQ(cgi_var(req, "SCRIPT_NAME"), "/app");
    EXPECT_EQ(req.uri, "/app/rest?x=1");
    EXPECT_EQ(req.query, "x=1");
  }
}

TEST(PacketReader, Modifier30NeedsRuntime0) {
  // Only runtime 0 can serve 30; a runtime registered for 30 itself is not
  // asked, as uWSGI never dispatches the modifier anywhere else either.
  for (auto has : {std::function<bool(std::uint8_t)>([](std::uint8_t m) { return m == 5; }),
                   std::function<bool(std::uint8_t)>([](std::uint8_t m) { return m == 30; })}) {
    PacketReader r(limits(), has);
    Outcome o = feed(r, packet(script_name_vars(""), "", 30), [] { return std::size_t(-1); });
    EXPECT_EQ(o.verdict, Verdict::refused);
    EXPECT_EQ(o.status, 0);  // closed, no reply: nginx shows 502 as with uWSGI
    EXPECT_NE(o.reason.find("no runtime serves modifier1 30"), std::string::npos) << o.reason;
  }
  // Plain modifier1 0 still keeps PATH_INFO whole.
  PacketReader r(limits(), [](std::uint8_t m) { return m == 0; });
  ASSERT_EQ(feed(r, packet(script_name_vars("")), [] { return std::size_t(-1); }).verdict, Verdict::ready);
  EXPECT_EQ(r.request().path, "/app/rest");
  EXPECT_EQ(cgi_var(r.request(), "PATH_INFO"), "/app/rest");
}

TEST(PacketReader, SpoolsOnlyAbovePostBuffering) {
  PacketReader at(limits(32768, 7), [](std::uint8_t) { return true; });
  ASSERT_EQ(feed(at, packet(post_vars("7"), "1234567"), [] { return std::size_t(-1); }).verdict, Verdict::ready);
  EXPECT_FALSE(static_cast<BodyStore*>(at.request().body)->spooled());
  PacketReader above(limits(32768, 6), [](std::uint8_t) { return true; });
  ASSERT_EQ(feed(above, packet(post_vars("7"), "1234567"), [] { return std::size_t(-1); }).verdict, Verdict::ready);
  EXPECT_TRUE(static_cast<BodyStore*>(above.request().body)->spooled());
}

TEST(PacketReader, BodyIsNeverNull) {
  PacketReader r(Limits{}, [](std::uint8_t) { return true; });
  ASSERT_EQ(feed(r, packet({}), [] { return std::size_t(-1); }).verdict, Verdict::ready);
  ASSERT_NE(r.request().body, nullptr);
  char c;
  std::size_t got = 1;
  EXPECT_EQ(r.request().body->read(&c, 1, got), sdk::Status::ok);
  EXPECT_EQ(got, 0u);
}

TEST(PacketReader, PhaseFollowsTheStage) {
  PacketReader r(Limits{}, [](std::uint8_t) { return true; });
  EXPECT_EQ(r.stage(), PacketReader::Stage::head);
  std::string p = packet(post_vars("4"), "ab");
  auto s = r.read_space();
  std::memcpy(s.data(), p.data(), p.size());
  EXPECT_EQ(r.on_received(p.size()), Verdict::need_more);
  EXPECT_EQ(r.stage(), PacketReader::Stage::body);
  s = r.read_space();
  ASSERT_EQ(s.size(), 2u);  // never more than the body still lacks
  std::memcpy(s.data(), "cd", 2);
  EXPECT_EQ(r.on_received(2), Verdict::ready);
  EXPECT_EQ(r.stage(), PacketReader::Stage::done);
  EXPECT_TRUE(r.read_space().empty());
}

}  // namespace
}  // namespace trellis::uwsgi::test
