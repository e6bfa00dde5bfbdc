// uwsgi vars -> the request head the core takes (seen through sdk::Request,
// as a runtime sees it), including exactly what nginx's stock uwsgi_params
// sends.
#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>

#include "modifier1.hpp"
#include "packet_builder.hpp"
#include "request_mapper.hpp"
#include "trellis/request.hpp"
#include "vars_parser.hpp"

namespace trellis::uwsgi::test {
namespace {

std::vector<sdk::Field> fields(const Vars& vars) {
  std::vector<sdk::Field> out;
  for (const auto& [k, v] : vars) out.push_back({k, v});
  return out;
}

std::string header(const sdk::Request& r, std::string_view name) {
  for (const sdk::Field h : r.headers) {
    if (h.name == name) return std::string(h.value);
  }
  return "<absent>";
}

std::string variable(const sdk::Request& r, std::string_view name) {
  for (const sdk::Field f : r.variables)
    if (f.name == name) return std::string(f.value);
  return "<absent>";
}

// Maps `f` (views valid while the mapper and `f` live) into `head`, seen as
// a runtime would.
sdk::Request mapped(RequestMapper& m, std::span<sdk::Field> f, std::uint8_t modifier1, trellis_request_head& head) {
  EXPECT_EQ(m.map(f, modifier1, head), "");
  EXPECT_EQ(head.size, sizeof head);
  return sdk::Request::from(&head, nullptr);
}

TEST(RequestMapper, NginxStockUwsgiParams) {
  Vars vars = nginx_get_vars();
  auto f = fields(vars);
  RequestMapper m;
  trellis_request_head head;
  sdk::Request r = mapped(m, f, 0, head);
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.uri, "/hello?x=1");
  EXPECT_EQ(r.path, "/hello");
  EXPECT_EQ(r.query, "x=1");
  EXPECT_EQ(r.protocol, "HTTP/1.1");
  EXPECT_EQ(r.scheme, "http");
  // The client's address is nginx's to tell: a variable, which wins over
  // the connection's (nginx's own) address a runtime would derive.
  EXPECT_EQ(variable(r, "REMOTE_ADDR"), "192.0.2.10");
  EXPECT_EQ(variable(r, "REMOTE_PORT"), "51234");
  EXPECT_EQ(r.server_name, "example.org");
  EXPECT_EQ(r.server_port, "80");
  EXPECT_EQ(r.content_length, -1);  // nginx sends CONTENT_LENGTH "" for a GET
  EXPECT_EQ(r.runtime, "");         // the default runtime
  EXPECT_EQ(head.runtime.len, 0u);
  EXPECT_TRUE(r.body_terminated);
  EXPECT_FALSE(r.expects_go_ahead);
  EXPECT_EQ(r.upgrade, "");
  // Every var verbatim, in order, viewing the caller's memory.
  ASSERT_EQ(r.variables.size(), vars.size());
  for (std::size_t i = 0; i < vars.size(); ++i) {
    EXPECT_EQ(r.variables[i].name, vars[i].first);
    EXPECT_EQ(head.variables[i].value.ptr, f[i].value.data());  // empty ones too
  }
  EXPECT_EQ(header(r, "Host"), "example.org");
  EXPECT_EQ(header(r, "User-Agent"), "curl/7.88.1");
  EXPECT_EQ(header(r, "Accept"), "*/*");
  // Empty CONTENT_TYPE / CONTENT_LENGTH are "absent", not empty headers.
  EXPECT_EQ(header(r, "Content-Type"), "<absent>");
  EXPECT_EQ(header(r, "Content-Length"), "<absent>");
  EXPECT_EQ(r.headers.size(), 3u);
}

TEST(RequestMapper, PostWithBodyHeaders) {
  Vars vars = {{"REQUEST_METHOD", "POST"},
               {"CONTENT_TYPE", "application/x-www-form-urlencoded"},
               {"CONTENT_LENGTH", "42"},
               {"HTTP_CONTENT_TYPE", "application/x-www-form-urlencoded"},
               {"HTTP_CONTENT_LENGTH", "42"},
               {"HTTP_X_FORWARDED_FOR", "10.0.0.1"}};
  auto f = fields(vars);
  RequestMapper m;
  trellis_request_head head;
  sdk::Request r = mapped(m, f, 0, head);
  EXPECT_EQ(r.content_length, 42);
  EXPECT_EQ(header(r, "Content-Type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(header(r, "Content-Length"), "42");
  EXPECT_EQ(header(r, "X-Forwarded-For"), "10.0.0.1");
  EXPECT_EQ(r.headers.size(), 3u);  // no duplicate Content-Type / Content-Length
}

TEST(RequestMapper, HeaderNamesAreRebuilt) {
  std::string out;
  cgi_to_header_name("USER_AGENT", out);
  EXPECT_EQ(out, "User-Agent");
  out.clear();
  cgi_to_header_name("X_REAL_IP", out);
  EXPECT_EQ(out, "X-Real-Ip");
  out.clear();
  cgi_to_header_name("DNT", out);
  EXPECT_EQ(out, "Dnt");
  out.clear();
  cgi_to_header_name("SEC_CH_UA_MOBILE", out);
  EXPECT_EQ(out, "Sec-Ch-Ua-Mobile");
}

TEST(RequestMapper, RepeatedHeadersAreKeptInOrder) {
  Vars vars = {{"HTTP_ACCEPT", "text/html"}, {"HTTP_COOKIE", "a=1"}, {"HTTP_ACCEPT", "*/*"},
               {"HTTP_COOKIE", "b=2"}, {"HTTP_ACCEPT", "x/y"}, {"HTTP_", "ignored: no name"}};
  auto f = fields(vars);
  RequestMapper m;
  trellis_request_head head;
  sdk::Request r = mapped(m, f, 0, head);
  // One header per var, as nginx sent them: a runtime joins if it wants to.
  ASSERT_EQ(r.headers.size(), 5u);
  const char* want[][2] = {{"Accept", "text/html"}, {"Cookie", "a=1"}, {"Accept", "*/*"}, {"Cookie", "b=2"},
                           {"Accept", "x/y"}};
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(r.headers[i].name, want[i][0]) << i;
    EXPECT_EQ(r.headers[i].value, want[i][1]) << i;
  }
}

TEST(RequestMapper, ManyHeadersKeepTheirViews) {
  // Names live in a side buffer: it must not reallocate under earlier views.
  Vars vars;
  for (int i = 0; i < 500; ++i) {
    // Not "v" + std::to_string(i): GCC 12 at -O3 warns (-Wrestrict, a false
    // positive) about that operator+'s inlined insert into the temporary.
    const std::string n = std::to_string(i);
    vars.push_back({"HTTP_X_H" + n, "v" + n});
  }
  for (int i = 0; i < 50; ++i) vars.push_back({"HTTP_X_H7", "again"});
  auto f = fields(vars);
  RequestMapper m;
  trellis_request_head head;
  sdk::Request r = mapped(m, f, 0, head);
  ASSERT_EQ(r.headers.size(), 550u);
  for (int i = 0; i < 500; ++i) {
    EXPECT_EQ(r.headers[static_cast<std::size_t>(i)].name, "X-H" + std::to_string(i));
  }
  for (std::size_t i = 500; i < 550; ++i) {
    EXPECT_EQ(r.headers[i].name, "X-H7");
    EXPECT_EQ(r.headers[i].value, "again");
  }
}

struct SchemeCase {
  Vars vars;
  std::string scheme;
};

TEST(RequestMapper, Scheme) {
  std::vector<SchemeCase> cases = {
      {{}, "http"},
      {{{"HTTPS", "on"}}, "https"},
      {{{"HTTPS", "ON"}}, "https"},
      {{{"HTTPS", "1"}}, "https"},
      {{{"HTTPS", "off"}}, "http"},
      {{{"REQUEST_SCHEME", "https"}}, "https"},
      {{{"UWSGI_SCHEME", "https"}}, "https"},
      {{{"wsgi.url_scheme", "https"}}, "https"},
      {{{"UWSGI_SCHEME", "http"}, {"HTTPS", "on"}}, "http"},  // explicit wins
      {{{"UWSGI_SCHEME", "gopher"}, {"HTTPS", "on"}}, "https"},
  };
  for (const auto& c : cases) {
    auto f = fields(c.vars);
    RequestMapper m;
    trellis_request_head head;
    sdk::Request r = mapped(m, f, 0, head);
    EXPECT_EQ(r.scheme, c.scheme) << (c.vars.empty() ? "none" : c.vars[0].first + "=" + c.vars[0].second);
  }
}

TEST(RequestMapper, ContentLength) {
  std::int64_t n = 0;
  EXPECT_TRUE(parse_content_length("", n));
  EXPECT_EQ(n, -1);
  EXPECT_TRUE(parse_content_length("0", n));
  EXPECT_EQ(n, 0);
  EXPECT_TRUE(parse_content_length("9223372036854775807", n));
  EXPECT_EQ(n, INT64_MAX);
  for (const char* bad : {"9223372036854775808", "-1", "1.5", " 1", "1 ", "0x1", "1e3"}) {
    EXPECT_FALSE(parse_content_length(bad, n)) << bad;
  }
  Vars vars = {{"CONTENT_LENGTH", "12a"}};  // fields() views into it: keep it alive
  auto f = fields(vars);
  RequestMapper m;
  trellis_request_head head;
  EXPECT_EQ(m.map(f, 0, head), "invalid CONTENT_LENGTH \"12a\"");
  Vars ok = {{"CONTENT_LENGTH", "12"}};
  auto g = fields(ok);
  EXPECT_EQ(mapped(m, g, 0, head).content_length, 12);
}

// modifier1 leaves the neutral SDK here: it becomes the runtime's name.
TEST(RequestMapper, Modifier1BecomesTheRuntimeName) {
  RequestMapper m;
  trellis_request_head head;
  EXPECT_EQ(mapped(m, {}, 5, head).runtime, "psgi");
  EXPECT_EQ(mapped(m, {}, 7, head).runtime, "rack");
  EXPECT_EQ(mapped(m, {}, 0, head).runtime, "");
  EXPECT_EQ(mapped(m, {}, 30, head).runtime, "");
  EXPECT_EQ(m.map({}, 2, head), "no runtime serves modifier1 2");
  EXPECT_EQ(m.map({}, 100, head), "no runtime serves modifier1 100");
}

TEST(Modifier1, RuntimeNamesFollowUwsgisRegistry) {
  // The request-serving numbers of uWSGI's plugins, by the plugin's name.
  const std::pair<int, std::string_view> named[] = {
      {5, "psgi"},    {6, "lua"},     {7, "rack"},       {8, "jvm"},    {9, "cgi"},     {11, "gccgo"},
      {14, "php"},    {15, "mono"},   {18, "symcall"},   {19, "ssi"},   {23, "xslt"},   {24, "v8"},
      {25, "gridfs"}, {27, "glusterfs"}, {28, "rados"},  {35, "webdav"}};
  int known = 0;
  for (int m = 0; m < 256; ++m) {
    auto name = runtime_for_modifier(static_cast<std::uint8_t>(m));
    if (m == 0 || m == 30) {
      ASSERT_TRUE(name.has_value()) << m;
      EXPECT_EQ(*name, "") << m;  // WSGI, and WSGI with PATH_INFO managed: the default runtime
      continue;
    }
    if (!name) continue;
    ++known;
    auto it = std::find_if(std::begin(named), std::end(named), [&](const auto& p) { return p.first == m; });
    ASSERT_NE(it, std::end(named)) << m << " maps to " << *name;
    EXPECT_EQ(*name, it->second) << m;
  }
  EXPECT_EQ(known, static_cast<int>(std::size(named)));
  // Not requests for a runtime: management, spooler, eval, messages, ping, signal, cache, RPC, response.
  for (int m : {1, 2, 3, 10, 17, 22, 26, 31, 32, 33, 48, 72, 100, 101, 110, 111, 173, 255})
    EXPECT_FALSE(runtime_for_modifier(static_cast<std::uint8_t>(m)).has_value()) << m;
}

// What a runtime sees of a request sent with modifier1 30, copied out
// before the vars it views into go away.
struct Seen {
  std::string path;       // req.path
  std::string path_info;  // PATH_INFO as in the variables (first one)
  std::string script_name;
  std::vector<std::string> all_path_info;
};

Seen manage_path_info(const Vars& vars) {
  auto f = fields(vars);
  RequestMapper m;
  trellis_request_head head;
  sdk::Request r = mapped(m, f, 30, head);
  EXPECT_EQ(r.runtime, "");  // served by the default (WSGI) runtime, like uWSGI
  Seen s{std::string(r.path), variable(r, "PATH_INFO"), variable(r, "SCRIPT_NAME"), {}};
  for (const sdk::Field v : r.variables)
    if (v.name == "PATH_INFO") s.all_path_info.emplace_back(v.value);
  // req.path and the variables must always agree.
  EXPECT_EQ(s.path, s.path_info);
  return s;
}

TEST(RequestMapper, Modifier30StripsScriptNameFromPathInfo) {
  Seen s = manage_path_info({{"SCRIPT_NAME", "/app"}, {"PATH_INFO", "/app/rest"}});
  EXPECT_EQ(s.path_info, "/rest");
  EXPECT_EQ(s.script_name, "/app");  // kept: it is the mount point
  // Order in the block does not matter.
  EXPECT_EQ(manage_path_info({{"PATH_INFO", "/app/a/b"}, {"SCRIPT_NAME", "/app"}}).path_info, "/a/b");
  // The whole path is the mount point: PATH_INFO is left empty (PEP 3333 allows it).
  EXPECT_EQ(manage_path_info({{"SCRIPT_NAME", "/app"}, {"PATH_INFO", "/app"}}).path_info, "");
  // Not under SCRIPT_NAME, no SCRIPT_NAME, empty SCRIPT_NAME: untouched.
  EXPECT_EQ(manage_path_info({{"SCRIPT_NAME", "/app"}, {"PATH_INFO", "/other"}}).path_info, "/other");
  s = manage_path_info({{"PATH_INFO", "/app/rest"}});
  EXPECT_EQ(s.path_info, "/app/rest");
  EXPECT_EQ(s.script_name, "<absent>");
  EXPECT_EQ(manage_path_info({{"SCRIPT_NAME", ""}, {"PATH_INFO", "/app/rest"}}).path_info, "/app/rest");
  // uWSGI compares plain bytes, not path segments; so do we.
  EXPECT_EQ(manage_path_info({{"SCRIPT_NAME", "/app"}, {"PATH_INFO", "/apple"}}).path_info, "le");
  // The first SCRIPT_NAME counts; every PATH_INFO is treated alike.
  s = manage_path_info({{"SCRIPT_NAME", "/a"}, {"SCRIPT_NAME", "/a/b"}, {"PATH_INFO", "/a/b/c"}, {"PATH_INFO", "/a/x"}});
  EXPECT_EQ(s.all_path_info, (std::vector<std::string>{"/b/c", "/x"}));
}

TEST(RequestMapper, Modifier30StripsInPlace) {
  Vars vars = {{"SCRIPT_NAME", "/app"}, {"PATH_INFO", "/app/rest"}};
  auto f = fields(vars);
  const char* path_info = f[1].value.data();
  RequestMapper m;
  trellis_request_head head;
  sdk::Request r = mapped(m, f, 30, head);
  // A view of the suffix of the same bytes, in the caller's array and in
  // the variables passed on: nothing is copied or reallocated.
  EXPECT_EQ(f[1].value.data(), path_info + 4);
  ASSERT_EQ(r.variables.size(), 2u);
  EXPECT_EQ(r.variables[1].value.data(), path_info + 4);
  EXPECT_EQ(r.variables[1].value.size(), 5u);
  EXPECT_EQ(r.path.data(), path_info + 4);
  EXPECT_EQ(vars[1].second, "/app/rest");  // the packet bytes themselves are unchanged
}

TEST(RequestMapper, OtherModifiersKeepPathInfo) {
  Vars vars = {{"SCRIPT_NAME", "/app"}, {"PATH_INFO", "/app/rest"}};
  for (std::uint8_t mod : {0, 5, 7, 9}) {
    auto f = fields(vars);
    RequestMapper m;
    trellis_request_head head;
    sdk::Request r = mapped(m, f, mod, head);
    EXPECT_EQ(r.runtime, *runtime_for_modifier(mod));
    EXPECT_EQ(r.path, "/app/rest");
    EXPECT_EQ(variable(r, "PATH_INFO"), "/app/rest");
  }
}

TEST(VarsParser, HeaderIsLittleEndian) {
  const char h[4] = {5, 0x34, 0x12, 9};
  PacketHeader p = parse_header(h);
  EXPECT_EQ(p.modifier1, 5);
  EXPECT_EQ(p.datasize, 0x1234);
  EXPECT_EQ(p.modifier2, 9);
}

TEST(VarsParser, LongValueUsesBothLengthBytes) {
  std::string v(300, 'z');
  std::string block = vars_block({{"K", v}, {"L", ""}});
  std::vector<sdk::Field> out;
  ASSERT_EQ(parse_vars(block, out), "");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].value, v);
  EXPECT_EQ(out[1].name, "L");
  EXPECT_EQ(out[1].value, "");
}

}  // namespace
}  // namespace trellis::uwsgi::test
