// Every packet, good or bad, gets the same verdict whether it arrives whole,
// byte by byte or in random pieces.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <random>
#include <set>

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

Limits limits(std::uint32_t buffer = 32768, std::int64_t limit_post = 0) {
  Limits l;
  l.buffer_size = buffer;
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

std::string variable(const sdk::Request& r, std::string_view name) {
  for (const auto& f : r.variables)
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
  c.push_back({"nginx_get", packet(nginx_get_vars()), limits(), Verdict::end, 0, "", ""});
  c.push_back({"post", packet(post_vars("7"), "a=1&b=2"), limits(), Verdict::end, 0, "", "a=1&b=2"});
  // Bodies longer than the reader's one body buffer (64 KiB), whole and not.
  c.push_back({"big_body", packet(post_vars("200000"), big(200000)), limits(), Verdict::end, 0, "", big(200000)});
  c.push_back({"body_of_odd_length", packet(post_vars("150001"), big(150001)), limits(), Verdict::end, 0, "",
               big(150001)});
  c.push_back({"body_of_one_buffer", packet(post_vars("65536"), big(65536)), limits(), Verdict::end, 0, "",
               big(65536)});
  c.push_back({"empty_vars_block", packet({}), limits(), Verdict::end, 0, "", ""});
  c.push_back({"no_content_length", packet({{"REQUEST_METHOD", "GET"}}), limits(), Verdict::end, 0, "", ""});
  c.push_back({"bytes_after_body_ignored", packet(post_vars("3"), "abcEXTRA"), limits(), Verdict::end, 0, "", "abc"});
  {
    std::string p = packet({{"K", std::string(100 - 5, 'v')}});  // block of exactly 100
    c.push_back({"vars_exactly_buffer_size", p, limits(100), Verdict::end, 0, "", ""});
  }
  c.push_back({"empty_value", packet({{"QUERY_STRING", ""}, {"REQUEST_METHOD", "GET"}}), limits(), Verdict::end, 0,
               "", ""});

  c.push_back({"datasize_above_buffer_size", packet({{"K", std::string(101 - 5, 'v')}}), limits(100),
               Verdict::refused, 0, "exceeds buffer-size 100", ""});
  c.push_back({"no_runtime_for_modifier", packet(nginx_get_vars(), "", 5), limits(), Verdict::refused, 0,
               "no runtime serves modifier1 5 (psgi)", ""});
  c.push_back({"modifier_without_a_runtime_name", packet(nginx_get_vars(), "", 2), limits(), Verdict::refused, 0,
               "no runtime serves modifier1 2", ""});
  // nginx `uwsgi_modifier1 30;`: served by the default runtime (the feeders offer only that one).
  c.push_back({"modifier30_served_by_runtime_0", packet(script_name_vars("7"), "a=1&b=2", 30), limits(),
               Verdict::end, 0, "", "a=1&b=2"});
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
  c.push_back({"limit_post", packet(post_vars("11"), "hello world"), limits(32768, 10), Verdict::refused, 413,
               "exceeds limit-post 10", ""});
  c.push_back({"limit_post_exactly", packet(post_vars("11"), "hello world"), limits(32768, 11), Verdict::end, 0, "",
               "hello world"});
  c.push_back({"body_short_at_eof", packet(post_vars("10"), "abc"), limits(), Verdict::refused, 0,
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
  EXPECT_EQ(whole.order_error, "");
  if (c.verdict == Verdict::refused) {
    EXPECT_EQ(whole.status, c.status);
    EXPECT_NE(whole.reason.find(c.reason_has), std::string::npos) << whole.reason;
  }
  if (c.verdict == Verdict::end) {
    EXPECT_EQ(whole.heads, 1);
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
  PacketReader r(Limits{}, [](std::string_view) { return true; });
  Outcome o = feed(r, packet(vars, "hello"), [] { return std::size_t(333); });
  ASSERT_EQ(o.verdict, Verdict::end) << o.reason;
  EXPECT_EQ(o.body, "hello");
  const sdk::Request req = request_of(r);
  EXPECT_EQ(req.method, "GET");
  EXPECT_EQ(req.path, "/hello");
  bool found = false;
  for (const sdk::Field f : req.variables) found |= (f.name == "HTTP_COOKIE" && f.value == std::string(9000, 'c'));
  EXPECT_TRUE(found);
}

TEST(PacketReader, Modifier30GoesToTheDefaultRuntimeWithoutTheScriptName) {
  const std::string p = packet(script_name_vars("5"), "hello", 30);
  std::vector<std::function<std::size_t()>> splits = {[] { return std::size_t(-1); }, [] { return std::size_t(1); }};
  for (unsigned seed = 1; seed <= 8; ++seed) {
    auto rng = std::make_shared<std::mt19937>(seed);
    splits.push_back([rng] { return std::uniform_int_distribution<std::size_t>(1, 17)(*rng); });
  }
  for (std::size_t i = 0; i < splits.size(); ++i) {
    std::vector<std::string> asked;
    PacketReader r(limits(), [&](std::string_view name) {
      asked.emplace_back(name);
      return name.empty();
    });
    Outcome o = feed(r, p, splits[i]);
    ASSERT_EQ(o.verdict, Verdict::end) << o.reason << " split " << i;
    EXPECT_EQ(asked, std::vector<std::string>{""}) << "split " << i;  // the default runtime is what serves it
    EXPECT_EQ(o.body, "hello");
    const sdk::Request req = request_of(r);
    EXPECT_EQ(r.header().modifier1, 30);  // the packet as sent
    EXPECT_EQ(req.runtime, "");           // the runtime that gets it: the default
    EXPECT_EQ(req.path, "/rest");
    // Runtimes build the environ from the variables: the strip must show there.
    EXPECT_EQ(variable(req, "PATH_INFO"), "/rest");
    EXPECT_EQ(variable(req, "SCRIPT_NAME"), "/app");
    EXPECT_EQ(req.uri, "/app/rest?x=1");
    EXPECT_EQ(req.query, "x=1");
  }
}

TEST(PacketReader, Modifier30NeedsTheDefaultRuntime) {
  // Only the default runtime can serve 30; no named runtime is asked, as
  // uWSGI never dispatches the modifier anywhere else either.
  for (auto has : {std::function<bool(std::string_view)>([](std::string_view n) { return n == "psgi"; }),
                   std::function<bool(std::string_view)>([](std::string_view n) { return !n.empty(); })}) {
    PacketReader r(limits(), has);
    Outcome o = feed(r, packet(script_name_vars(""), "", 30), [] { return std::size_t(-1); });
    EXPECT_EQ(o.verdict, Verdict::refused);
    EXPECT_EQ(o.status, 0);  // closed, no reply: nginx shows 502 as with uWSGI
    EXPECT_NE(o.reason.find("no runtime serves modifier1 30"), std::string::npos) << o.reason;
  }
  // Plain modifier1 0 still keeps PATH_INFO whole.
  PacketReader r(limits(), serves_default);
  ASSERT_EQ(feed(r, packet(script_name_vars("")), [] { return std::size_t(-1); }).verdict, Verdict::end);
  EXPECT_EQ(request_of(r).path, "/app/rest");
  EXPECT_EQ(variable(request_of(r), "PATH_INFO"), "/app/rest");
}

TEST(PacketReader, NamedModifiersGoToTheirRuntime) {
  // modifier1 5 is uWSGI's PSGI: a runtime named "psgi" serves it here.
  std::vector<std::string> asked;
  PacketReader r(limits(), [&](std::string_view name) {
    asked.emplace_back(name);
    return name == "psgi";
  });
  Outcome o = feed(r, packet(post_vars("2"), "hi", 5), [] { return std::size_t(5); });
  ASSERT_EQ(o.verdict, Verdict::end) << o.reason;
  EXPECT_EQ(asked, std::vector<std::string>{"psgi"});
  EXPECT_EQ(o.runtime, "psgi");
  EXPECT_EQ(o.body, "hi");
  // Asked once the header is in, before the vars block is read.
  PacketReader early(limits(), serves_default);
  std::string p = packet(nginx_get_vars(), "", 5);
  auto space = early.read_space();
  std::memcpy(space.data(), p.data(), kHeaderSize);
  ASSERT_EQ(early.on_received(kHeaderSize), Verdict::refused);
  EXPECT_EQ(early.refusal().reason, "no runtime serves modifier1 5 (psgi)");
  EXPECT_TRUE(early.read_space().empty());
}

TEST(PacketReader, ModifiersWithoutARuntimeNameAreRefusedUnasked) {
  // Management (10), spooler (17), ping (100) ... nothing here answers them,
  // whatever runtimes are loaded.
  for (int m : {1, 2, 3, 4, 10, 17, 22, 31, 100, 111, 173, 255}) {
    int asked = 0;
    PacketReader r(limits(), [&](std::string_view) {
      ++asked;
      return true;
    });
    Outcome o = feed(r, packet(nginx_get_vars(), "", static_cast<std::uint8_t>(m)), [] { return std::size_t(-1); });
    EXPECT_EQ(o.verdict, Verdict::refused) << m;
    EXPECT_EQ(o.status, 0) << m;
    EXPECT_EQ(o.reason, "no runtime serves modifier1 " + std::to_string(m));
    EXPECT_EQ(asked, 0) << m;
  }
}

// The core keeps (and spools) the body now: the reader holds one read's
// worth at most, in one buffer it reuses, whatever the body's length.
TEST(PacketReader, KeepsNoMoreThanOneReadOfTheBody) {
  const std::string body = big(300000);
  const std::string p = packet(post_vars(std::to_string(body.size())), body);
  PacketReader r(Limits{}, serves_default);
  std::size_t pos = 0, biggest_space = 0, events = 0;
  std::set<const char*> buffers;
  std::string got;
  bool ended = false;
  while (!ended && pos < p.size()) {
    auto space = r.read_space();
    ASSERT_FALSE(space.empty());
    biggest_space = std::max(biggest_space, space.size());
    std::size_t k = std::min({space.size(), p.size() - pos, std::size_t(100000)});
    std::memcpy(space.data(), p.data() + pos, k);
    pos += k;
    for (Verdict v = r.on_received(k); v != Verdict::need_more; v = r.next()) {
      if (v == Verdict::body) {
        // The first came with the head, in the packet's own buffer.
        if (++events > 1) buffers.insert(r.body().data());
        got.append(r.body());
      }
      if (v == Verdict::end) ended = true;
    }
  }
  EXPECT_TRUE(ended);
  EXPECT_EQ(got, body);
  EXPECT_LE(biggest_space, std::size_t(64 * 1024));
  EXPECT_EQ(buffers.size(), 1u);  // every later read lands in the same buffer
}

TEST(PacketReader, NoBodyEndsWithTheHead) {
  PacketReader r(Limits{}, [](std::string_view) { return true; });
  std::string p = packet({});
  auto s = r.read_space();
  std::memcpy(s.data(), p.data(), p.size());
  EXPECT_EQ(r.on_received(p.size()), Verdict::head);
  EXPECT_EQ(r.head().content_length, -1);
  EXPECT_NE(r.head().flags & TRELLIS_REQUEST_BODY_TERMINATED, 0u);
  EXPECT_EQ(r.next(), Verdict::end);  // no body event at all
  EXPECT_EQ(r.next(), Verdict::need_more);
  EXPECT_TRUE(r.read_space().empty());
}

TEST(PacketReader, PhaseFollowsTheStage) {
  PacketReader r(Limits{}, [](std::string_view) { return true; });
  EXPECT_EQ(r.stage(), PacketReader::Stage::head);
  std::string p = packet(post_vars("4"), "ab");
  auto s = r.read_space();
  std::memcpy(s.data(), p.data(), p.size());
  EXPECT_EQ(r.on_received(p.size()), Verdict::head);
  EXPECT_EQ(r.next(), Verdict::body);  // the bytes that came with the head
  EXPECT_EQ(r.body(), "ab");
  EXPECT_EQ(r.next(), Verdict::need_more);
  EXPECT_EQ(r.stage(), PacketReader::Stage::body);
  s = r.read_space();
  ASSERT_EQ(s.size(), 2u);  // never more than the body still lacks
  std::memcpy(s.data(), "cd", 2);
  EXPECT_EQ(r.on_received(2), Verdict::body);
  EXPECT_EQ(r.body(), "cd");
  EXPECT_EQ(r.next(), Verdict::end);
  EXPECT_EQ(r.stage(), PacketReader::Stage::done);
  EXPECT_TRUE(r.read_space().empty());
}

}  // namespace
}  // namespace trellis::uwsgi::test
