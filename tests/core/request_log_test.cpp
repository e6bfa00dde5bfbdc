// The --log-format compiler, the line renderer and JSON string escaping.
#include <gtest/gtest.h>

#include <string>

#include "stats/json.hpp"
#include "stats/prometheus.hpp"
#include "worker/request_log.hpp"

namespace trellis::core {
namespace {

using Var = LogFormat::Var;

std::string escaped(std::string_view s) {
  std::string out;
  json::append_string(out, s);
  return out;
}

TEST(JsonEscape, PlainTextIsQuoted) { EXPECT_EQ(escaped("hello"), "\"hello\""); }

TEST(JsonEscape, QuotesAndBackslashes) { EXPECT_EQ(escaped("a\"b\\c"), "\"a\\\"b\\\\c\""); }

TEST(JsonEscape, ControlCharactersBecomeUnicodeEscapes) {
  EXPECT_EQ(escaped(std::string_view("\n\r\t\x01\x1f\x7f", 6)), "\"\\u000a\\u000d\\u0009\\u0001\\u001f\\u007f\"");
  EXPECT_EQ(escaped(std::string_view("a\0b", 3)), "\"a\\u0000b\"");
}

TEST(JsonEscape, ValidUtf8PassesThrough) {
  EXPECT_EQ(escaped("\xc3\xbc"), "\"\xc3\xbc\"");              // ü
  EXPECT_EQ(escaped("\xe2\x82\xac"), "\"\xe2\x82\xac\"");      // €
  EXPECT_EQ(escaped("\xf0\x9f\x98\x80"), "\"\xf0\x9f\x98\x80\"");  // 😀
}

TEST(JsonEscape, InvalidUtf8BytesAreEscaped) {
  EXPECT_EQ(escaped("\xff"), "\"\\u00ff\"");
  EXPECT_EQ(escaped("a\xc3"), "\"a\\u00c3\"");                 // truncated sequence
  EXPECT_EQ(escaped("\xc0\xaf"), "\"\\u00c0\\u00af\"");        // overlong '/'
  EXPECT_EQ(escaped("\xed\xa0\x80"), "\"\\u00ed\\u00a0\\u0080\"");  // surrogate
  EXPECT_EQ(escaped("\xf4\x90\x80\x80"), "\"\\u00f4\\u0090\\u0080\\u0080\"");  // above U+10FFFF
  EXPECT_EQ(escaped("\x80x"), "\"\\u0080x\"");                 // lone continuation byte
}

TEST(JsonEscape, EveryByteGivesOneLine) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  std::string out = escaped(all);
  EXPECT_EQ(out.find('\n'), std::string::npos);
  for (unsigned char ch : out) EXPECT_TRUE(ch >= 0x20 && ch < 0x7f) << int(ch);
}

TEST(JsonWriter, PlacesCommas) {
  std::string out;
  json::Writer w(out);
  w.begin_object().field("a", 1).key("b").begin_array().value("x").value(std::int64_t{-2}).end_array();
  w.key("c").begin_object().end_object().field("d", true).key("e").raw_value("7").key("f").raw_value("8");
  w.end_object();
  EXPECT_EQ(out, R"({"a":1,"b":["x",-2],"c":{},"d":true,"e":7,"f":8})");
}

TEST(LogFormatCompile, SplitsLiteralsAndVariables) {
  LogFormat f = LogFormat::compile("%(addr) - [%(ltime)] \"%(method) %(uri)\" %(status)");
  const auto& p = f.parts();
  ASSERT_EQ(p.size(), 9u);
  EXPECT_EQ(p[0].var, Var::addr);
  EXPECT_EQ(p[1].var, Var::literal);
  EXPECT_EQ(p[1].text, " - [");
  EXPECT_EQ(p[2].var, Var::ltime);
  EXPECT_EQ(p[3].text, "] \"");
  EXPECT_EQ(p[4].var, Var::method);
  EXPECT_EQ(p[6].var, Var::uri);
  EXPECT_EQ(p[7].text, "\" ");
  EXPECT_EQ(p[8].var, Var::status);
  EXPECT_FALSE(f.is_json());
  EXPECT_FALSE(f.is_default());
}

TEST(LogFormatCompile, VarNameAndLonePercent) {
  LogFormat f = LogFormat::compile("100% %(var.HTTP_X_REQUEST_ID)%");
  const auto& p = f.parts();
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0].text, "100% ");
  EXPECT_EQ(p[1].var, Var::header_var);
  EXPECT_EQ(p[1].text, "HTTP_X_REQUEST_ID");
  EXPECT_EQ(p[2].text, "%");
}

TEST(LogFormatCompile, RejectsUnknownAndUnclosed) {
  EXPECT_THROW(LogFormat::compile("%(nope)"), std::invalid_argument);
  EXPECT_THROW(LogFormat::compile("%(uri"), std::invalid_argument);
  EXPECT_THROW(LogFormat::compile("%(var.)"), std::invalid_argument);
  try {
    LogFormat::compile("x %(bogus) y");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("bogus"), std::string::npos);
  }
}

TEST(LogFormatCompile, JsonAndDefault) {
  EXPECT_TRUE(LogFormat::compile("json").is_json());
  EXPECT_TRUE(LogFormat::compile("").is_default());
}

trellis_field field(std::string_view name, std::string_view value) { return {sdk::to_c(name), sdk::to_c(value)}; }

struct Fixture {
  trellis_field headers[4] = {field("Host", "example.org"),
                              field("User-Agent", "agent \"007\"\n"),
                              field("x-request-id", "abc-123"),
                              field("Referer", "http://r/\xff")};
  sdk::Request req;
  RequestRecord rec;
  Fixture() {
    req.method = "GET";
    req.uri = "/a%0Ab?q=\"1\"\n\xff";
    req.path = "/a\nb";
    req.query = "q=\"1\"";
    req.protocol = "HTTP/1.1";
    req.remote_addr = "127.0.0.1";
    req.server_name = "srv";
    req.headers = sdk::FieldList(headers, 4);
    rec.request = &req;
    rec.summary.status = 404;
    rec.summary.body_bytes = 12;
    rec.summary.wire_bytes = 99;
    rec.pid = 4242;
    rec.worker_id = 3;
    rec.worker_requests = 17;
    rec.micros = 1234567;
    rec.start_unix_us = 1700000000123456;
  }
  std::string render(std::string_view spec) {
    std::string out;
    LogFormat::compile(spec).render(rec, out);
    return out;
  }
};

TEST(LogFormatRender, Variables) {
  Fixture f;
  EXPECT_EQ(f.render("%(method) %(status) %(size) %(rsize) %(msecs) %(micros) %(ms) %(pid) %(wid) %(reqs) %(time)"),
            "GET 404 12 99 1234 1234567 1234.567 4242 3 17 1700000000");
  EXPECT_EQ(f.render("%(host)|%(proto)|%(addr)"), "example.org|HTTP/1.1|127.0.0.1");
  EXPECT_EQ(f.render("%(var.HTTP_X_REQUEST_ID) %(var.QUERY_STRING) %(var.HTTP_MISSING)"), "abc-123 q=\\x221\\x22 -");
  EXPECT_EQ(f.render("%(ltime)").size(), std::string("14/Nov/2023:22:13:20 +0000").size());
}

TEST(LogFormatRender, PlainEscapesHostileBytes) {
  Fixture f;
  std::string line = f.render("%(uri) %(uagent) %(referer)");
  EXPECT_EQ(line, "/a%0Ab?q=\\x221\\x22\\x0a\\xff agent \\x22007\\x22\\x0a http://r/\\xff");
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(LogFormatRender, DefaultLineHasEverything) {
  Fixture f;
  std::string line = f.render("");
  EXPECT_EQ(line, "[pid: 4242|worker: 3|req: 17] 127.0.0.1 GET /a%0Ab?q=\\x221\\x22\\x0a\\xff => 404, 12 bytes in "
                  "1234.567 ms");
}

TEST(LogFormatRender, JsonIsOneObjectWithNumbers) {
  Fixture f;
  std::string line = f.render("json");
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_NE(line.find(R"("status":404,"size":12,"rsize":99,"msecs":1234,)"), std::string::npos);
  EXPECT_NE(line.find(R"({"time":1700000000,"ltime":")"), std::string::npos);
  EXPECT_NE(line.find(R"("pid":4242)"), std::string::npos);
  EXPECT_NE(line.find(R"("micros":1234567)"), std::string::npos);
  EXPECT_NE(line.find(R"("uri":"/a%0Ab?q=\"1\"\u000a\u00ff")"), std::string::npos);
  EXPECT_NE(line.find(R"("uagent":"agent \"007\"\u000a")"), std::string::npos);
  EXPECT_EQ(line.front(), '{');
  EXPECT_EQ(line.back(), '}');
}

TEST(FindRequestVar, CgiVarsHeadersAndFields) {
  Fixture f;
  trellis_field cgi[] = {field("HTTP_X_REQUEST_ID", "from-uwsgi"), field("UWSGI_SCHEME", "https")};
  EXPECT_EQ(find_request_var(f.req, "HTTP_X_REQUEST_ID"), "abc-123");
  EXPECT_EQ(find_request_var(f.req, "HTTP_USER_AGENT"), "agent \"007\"\n");
  EXPECT_EQ(find_request_var(f.req, "REQUEST_METHOD"), "GET");
  EXPECT_EQ(find_request_var(f.req, "PATH_INFO"), "/a\nb");
  EXPECT_EQ(find_request_var(f.req, "NOPE"), "");
  f.req.variables = sdk::FieldList(cgi, 2);
  EXPECT_EQ(find_request_var(f.req, "HTTP_X_REQUEST_ID"), "from-uwsgi");
  EXPECT_EQ(find_request_var(f.req, "UWSGI_SCHEME"), "https");
}

TEST(Prometheus, LabelValuesAreEscaped) {
  EXPECT_EQ(prometheus_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

}  // namespace
}  // namespace trellis::core
