// PEP 3333 behaviour of the python plugin, through the real .so (its C
// tables, as the SDK 2 core calls them) and one test application
// (apps/pep3333_app.py) that routes on PATH_INFO.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <thread>

#include "harness.hpp"

namespace trellis::test {
namespace {

using sdk::LogLevel;

struct App {
  PluginLibrary lib{TRELLIS_PYTHON_PLUGIN};
  TestCore* core = new TestCore;  // plugins are never freed: neither is their core
  Plugin* plugin = nullptr;
  Status loaded = Status::internal_error;

  App() {
    core->set("wsgi-file", TRELLIS_PY_APPS "/pep3333_app.py");
    core->set("callable", "app");
    core->set("threads", "4");
    core->set("processes", "2");
    plugin = lib.create(*core);
    if (!plugin || !plugin->runtime()) return;
    if (plugin->on_config() != Status::ok) return;
    loaded = plugin->load_application();
  }
};

App& app() {
  static App* a = new App;
  return *a;
}

class Wsgi : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(app().plugin, nullptr);
    ASSERT_EQ(app().loaded, Status::ok) << all_logs(host());
  }
  Result get(const std::string& path, const std::string& query = "", int fail_after = -1) {
    return call(*app().core, *app().plugin, TestRequest::get(path, query), fail_after);
  }
  Result run(const TestRequest& r, int fail_after = -1) { return call(*app().core, *app().plugin, r, fail_after); }
  FakeHost& host() { return *app().core->fake; }
  // Log lines produced by `f`.
  template <typename F>
  std::string logs_of(F&& f) {
    std::size_t from = log_count(host());
    f();
    return logs_since(host(), from);
  }
};

void expect_500(const Result& r) {
  EXPECT_EQ(r.status, Status::app_error);
  EXPECT_EQ(r.response.status, "500 Internal Server Error");
  EXPECT_EQ(r.response.body, "Internal Server Error\n");
  EXPECT_TRUE(r.response.finished);
  EXPECT_FALSE(r.response.aborted);
}

// ---------------------------------------------------------------- plugin shape

TEST_F(Wsgi, DescriptorDeclaresRuntimeAndOptions) {
  const auto* d = app().lib.descriptor;
  // Runtimes are picked by plugin name: "python" is what requests ask for.
  EXPECT_STREQ(d->name, "python");
  EXPECT_EQ(d->kind, TRELLIS_KIND_RUNTIME);
  EXPECT_EQ(d->abi_major, TRELLIS_ABI_MAJOR);
  EXPECT_EQ(d->abi_minor, TRELLIS_ABI_MINOR);
  EXPECT_STREQ(d->toolchain, TRELLIS_TOOLCHAIN_FINGERPRINT);
  std::map<std::string, const trellis_option_spec*> by_name;
  for (std::size_t i = 0; i < d->option_count; ++i) by_name[d->options[i].name] = &d->options[i];
  for (auto name : {"wsgi-file", "module", "callable", "chdir", "pythonpath", "home", "need-app"})
    EXPECT_TRUE(by_name.count(name)) << name;
  EXPECT_EQ(by_name["module"]->short_name, 'w');
  EXPECT_STREQ(by_name["module"]->aliases, "wsgi");
  EXPECT_EQ(by_name["pythonpath"]->type, TRELLIS_OPT_LIST);
  EXPECT_STREQ(by_name["pythonpath"]->aliases, "python-path,pp");
  EXPECT_STREQ(by_name["home"]->aliases, "virtualenv,venv,pyhome");
  EXPECT_EQ(by_name["need-app"]->type, TRELLIS_OPT_FLAG);
  EXPECT_STREQ(by_name["need-app"]->default_value, "true");
  // No declared default: shared with asgi, which tries "application" then
  // "app"; python uses "application" when --callable is not given.
  EXPECT_EQ(by_name["callable"]->default_value, nullptr);
  // A blocking runtime, and nothing but a runtime.
  ASSERT_NE(app().plugin->runtime(), nullptr);
  EXPECT_TRUE(app().plugin->runtime()->flags & TRELLIS_RUNTIME_BLOCKING);
  void* other = nullptr;
  EXPECT_EQ(app().plugin->table()->protocol(app().plugin->self(), &other), nullptr);
  EXPECT_EQ(app().plugin->table()->lock_engine(app().plugin->self(), "flock", &other), nullptr);
}

TEST_F(Wsgi, EmbedsTheSystemPython) {
  auto r = get("/sys");
  EXPECT_EQ(r.status, Status::ok);
  EXPECT_NE(r.response.body.find("\"executable\": \"/usr/bin/python3\""), std::string::npos) << r.response.body;
  EXPECT_NE(r.response.body.find("\"prefix\": \"/usr\""), std::string::npos) << r.response.body;
  EXPECT_NE(r.response.body.find("3.11"), std::string::npos);
  EXPECT_EQ(r.response.body.find(".pyenv"), std::string::npos) << r.response.body;
}

// ---------------------------------------------------------------- environ

TEST_F(Wsgi, EnvironHasEveryRequiredKeyWithNativeStrings) {
  auto t = TestRequest::get("/environ", "a=1&b=%20");
  t.uri = "/environ?a=1&b=%20";
  t.headers = {{"Host", "example.com:8080"}, {"User-Agent", "gtest"}, {"X-Custom-Thing", "v"},
               {"Accept-Encoding", "gzip, br"}};
  auto r = run(t);
  ASSERT_EQ(r.status, Status::ok);
  const std::string& b = r.response.body;
  for (auto want : {"\"REQUEST_METHOD\": [\"str\", \"GET\"]", "\"SCRIPT_NAME\": [\"str\", \"\"]",
                    "\"PATH_INFO\": [\"str\", \"/environ\"]", "\"QUERY_STRING\": [\"str\", \"a=1&b=%20\"]",
                    "\"REQUEST_URI\": [\"str\", \"/environ?a=1&b=%20\"]",
                    "\"SERVER_NAME\": [\"str\", \"localhost\"]", "\"SERVER_PORT\": [\"str\", \"8080\"]",
                    "\"SERVER_PROTOCOL\": [\"str\", \"HTTP/1.1\"]", "\"REMOTE_ADDR\": [\"str\", \"127.0.0.1\"]",
                    "\"REMOTE_PORT\": [\"str\", \"50000\"]", "\"HTTP_HOST\": [\"str\", \"example.com:8080\"]",
                    "\"HTTP_USER_AGENT\": [\"str\", \"gtest\"]", "\"HTTP_X_CUSTOM_THING\": [\"str\", \"v\"]",
                    "\"HTTP_ACCEPT_ENCODING\": [\"str\", \"gzip, br\"]", "\"wsgi.version\": [\"tuple\", [1, 0]]",
                    "\"wsgi.url_scheme\": [\"str\", \"http\"]", "\"wsgi.multithread\": [\"bool\", true]",
                    "\"wsgi.multiprocess\": [\"bool\", true]", "\"wsgi.run_once\": [\"bool\", false]",
                    "\"wsgi.input_terminated\": [\"bool\", true]", "\"_types_native\": true",
                    "\"_errors_has_write\": true", "\"_input_has_read\": true", "\"_file_wrapper_callable\": true"})
    EXPECT_NE(b.find(want), std::string::npos) << want << "\n" << b;
  EXPECT_NE(b.find("\"wsgi.input\": [\"InputStream\""), std::string::npos) << b;
  EXPECT_NE(b.find("\"wsgi.errors\": [\"ErrorsStream\""), std::string::npos) << b;
  EXPECT_EQ(b.find("CONTENT_LENGTH"), std::string::npos) << "no body: no CONTENT_LENGTH";
  EXPECT_EQ(b.find("CONTENT_TYPE"), std::string::npos);
}

TEST_F(Wsgi, ContentTypeAndLengthAreNotDuplicatedAsHttpKeys) {
  auto t = TestRequest::post("/environ", "x=1");
  t.headers = {{"content-type", "application/x-www-form-urlencoded"}};
  auto r = run(t);
  const std::string& b = r.response.body;
  EXPECT_NE(b.find("\"CONTENT_TYPE\": [\"str\", \"application/x-www-form-urlencoded\"]"), std::string::npos) << b;
  EXPECT_NE(b.find("\"CONTENT_LENGTH\": [\"str\", \"3\"]"), std::string::npos) << b;
  EXPECT_EQ(b.find("HTTP_CONTENT_TYPE"), std::string::npos);
  EXPECT_EQ(b.find("HTTP_CONTENT_LENGTH"), std::string::npos);
  EXPECT_NE(b.find("\"REQUEST_METHOD\": [\"str\", \"POST\"]"), std::string::npos);
}

TEST_F(Wsgi, PathInfoIsLatin1DecodedBytes) {
  auto t = TestRequest::get("/environ");
  t.path = "/environ";
  t.uri = "/caf%C3%A9";
  t.headers = {{"X-Bytes", "caf\xc3\xa9"}};
  auto r = run(t);
  // UTF-8 bytes C3 A9 arrive as the two code points U+00C3 U+00A9.
  EXPECT_NE(r.response.body.find("\"HTTP_X_BYTES\": [\"str\", \"caf\\u00c3\\u00a9\"]"), std::string::npos)
      << r.response.body;
  EXPECT_NE(r.response.body.find("\"REQUEST_URI\": [\"str\", \"/caf%C3%A9\"]"), std::string::npos);
}

TEST_F(Wsgi, HeaderNamesWithUnderscoresAreDropped) {
  auto t = TestRequest::get("/environ");
  t.headers = {{"X_Forwarded_For", "spoofed"}, {"X-Forwarded-For", "10.0.0.1"}};
  auto r = run(t);
  EXPECT_NE(r.response.body.find("\"HTTP_X_FORWARDED_FOR\": [\"str\", \"10.0.0.1\"]"), std::string::npos);
  EXPECT_EQ(r.response.body.find("spoofed"), std::string::npos);
}

TEST_F(Wsgi, HttpsSchemeAndHttp10) {
  auto t = TestRequest::get("/environ");
  t.scheme = "https";
  t.protocol = "HTTP/1.0";
  t.server_port = "";
  auto r = run(t);
  EXPECT_NE(r.response.body.find("\"wsgi.url_scheme\": [\"str\", \"https\"]"), std::string::npos);
  EXPECT_NE(r.response.body.find("\"SERVER_PROTOCOL\": [\"str\", \"HTTP/1.0\"]"), std::string::npos);
  EXPECT_NE(r.response.body.find("\"SERVER_PORT\": [\"str\", \"443\"]"), std::string::npos);
}

TEST_F(Wsgi, VariablesArePassedVerbatimAndWin) {
  TestRequest t = TestRequest::get("/derived-path-not-used");
  t.variables = {{"PATH_INFO", "/environ"}, {"SCRIPT_NAME", "/mount"}, {"SERVER_NAME", "nginx.example"},
                {"UWSGI_CUSTOM", "yes"}, {"HTTP_HOST", "from-vars"}};
  t.headers = {{"Host", "from-headers"}};
  auto r = run(t);
  ASSERT_EQ(r.status, Status::ok);
  const std::string& b = r.response.body;
  EXPECT_NE(b.find("\"SCRIPT_NAME\": [\"str\", \"/mount\"]"), std::string::npos) << b;
  EXPECT_NE(b.find("\"SERVER_NAME\": [\"str\", \"nginx.example\"]"), std::string::npos);
  EXPECT_NE(b.find("\"UWSGI_CUSTOM\": [\"str\", \"yes\"]"), std::string::npos);
  // HTTP_* keys come from the protocol's header fields, where repeated lines
  // are already joined (nginx sends one HTTP_* var per line).
  EXPECT_NE(b.find("\"HTTP_HOST\": [\"str\", \"from-headers\"]"), std::string::npos) << b;
  // Missing required keys are filled in, wsgi.* are ours.
  EXPECT_NE(b.find("\"REQUEST_METHOD\": [\"str\", \"GET\"]"), std::string::npos);
  EXPECT_NE(b.find("\"SERVER_PROTOCOL\": [\"str\", \"HTTP/1.1\"]"), std::string::npos);
  EXPECT_NE(b.find("\"wsgi.version\": [\"tuple\", [1, 0]]"), std::string::npos);
  EXPECT_NE(b.find("\"wsgi.input\""), std::string::npos);
}

TEST_F(Wsgi, HttpVariablesPassVerbatimWithoutHeaderFields) {
  TestRequest t = TestRequest::get("/environ");
  t.variables = {{"PATH_INFO", "/environ"}, {"HTTP_HOST", "from-vars"}};
  t.headers = {};
  auto r = run(t);
  ASSERT_EQ(r.status, Status::ok);
  EXPECT_NE(r.response.body.find("\"HTTP_HOST\": [\"str\", \"from-vars\"]"), std::string::npos) << r.response.body;
}

TEST_F(Wsgi, RemoteAddressTheProtocolKnowsWinsOverTheConnection) {
  // uwsgi from nginx: the connection is nginx's, the vars name the client.
  auto t = TestRequest::get("/environ");
  t.client_addr = "203.0.113.9";
  t.client_port = "61000";
  auto r = run(t);
  EXPECT_NE(r.response.body.find("\"REMOTE_ADDR\": [\"str\", \"203.0.113.9\"]"), std::string::npos) << r.response.body;
  EXPECT_NE(r.response.body.find("\"REMOTE_PORT\": [\"str\", \"61000\"]"), std::string::npos);
}

TEST_F(Wsgi, InputTerminatedFollowsTheRequestFlag) {
  // A protocol that cannot tell the true end of a length-less body clears
  // TRELLIS_REQUEST_BODY_TERMINATED: the application must then rely on
  // CONTENT_LENGTH (PEP 3333's wsgi.input_terminated).
  auto t = TestRequest::get("/environ");
  t.body_terminated = false;
  EXPECT_NE(run(t).response.body.find("\"wsgi.input_terminated\": [\"bool\", false]"), std::string::npos);
  t.body_terminated = true;
  EXPECT_NE(run(t).response.body.find("\"wsgi.input_terminated\": [\"bool\", true]"), std::string::npos);
}

TEST_F(Wsgi, MultithreadAndMultiprocessFollowOptions) {
  EXPECT_EQ(get("/multithread").response.body, "[true, true]");
}

// ---------------------------------------------------------------- wsgi.input

TEST_F(Wsgi, ReadAllWithContentLength) {
  std::string body(100000, 'x');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
  auto t = TestRequest::post("/echo", body);
  t.max_chunk = 4096;
  auto r = run(t);
  EXPECT_EQ(r.status, Status::ok);
  EXPECT_EQ(r.response.body, body);
}

TEST_F(Wsgi, ReadStopsAtContentLength) {
  // The stream would give more than announced; wsgi.input must not.
  auto t = TestRequest::post("/echo", "0123456789");
  t.headers = {{"Content-Length", "4"}};
  t.content_length = 4;
  auto r = run(t);
  EXPECT_EQ(r.status, Status::ok);
  EXPECT_EQ(r.response.body, "0123");
}

TEST_F(Wsgi, ChunkedBodyIsReadUntilTheReaderEnds) {
  std::string body(200000, 'c');
  body += "end";
  auto t = TestRequest::post("/echo", body);
  t.chunked = true;
  t.max_chunk = 7000;
  auto r = run(t);
  EXPECT_EQ(r.response.body, body);
  auto env = TestRequest::post("/environ", "abc");
  env.chunked = true;
  auto e = run(env);
  EXPECT_EQ(e.response.body.find("CONTENT_LENGTH"), std::string::npos);
  EXPECT_NE(e.response.body.find("\"HTTP_TRANSFER_ENCODING\": [\"str\", \"chunked\"]"), std::string::npos);
}

TEST_F(Wsgi, ReadNReturnsFullBlocksThenTheRest) {
  EXPECT_EQ(run(TestRequest::post("/read_n", std::string(23, 'z'), "10")).response.body, "[10, 10, 3]");
  auto chunked = TestRequest::post("/read_n", std::string(23, 'z'), "10");
  chunked.chunked = true;
  EXPECT_EQ(run(chunked).response.body, "[10, 10, 3]");
}

TEST_F(Wsgi, ReadNoneAndMinusOneReadEverything) {
  EXPECT_EQ(run(TestRequest::post("/read_none", "hello")).response.body, "[\"hello\", \"\", \"\"]");
}

TEST_F(Wsgi, EmptyBodyReadsNothingWithoutTouchingTheStream) {
  // No stream read at all: the core would take one as the application
  // wanting the body (HTTP's 100 Continue).
  auto r = get("/echo");
  EXPECT_EQ(r.status, Status::ok);
  EXPECT_EQ(r.response.body, "");
  EXPECT_FALSE(r.response.body_wanted);
}

TEST_F(Wsgi, Readline) {
  EXPECT_EQ(run(TestRequest::post("/readline", "one\ntwo\n\nlast")).response.body,
            "[\"one\\n\", \"two\\n\", \"\\n\", \"last\"]");
  auto chunked = TestRequest::post("/readline", "a\nbb\n");
  chunked.chunked = true;
  EXPECT_EQ(run(chunked).response.body, "[\"a\\n\", \"bb\\n\"]");
}

TEST_F(Wsgi, ReadlineLongerThanTheInternalBuffer) {
  std::string line(20000, 'L');
  auto t = TestRequest::post("/readline", line + "\nshort\n");
  t.max_chunk = 5000;
  auto r = run(t);
  EXPECT_EQ(r.response.body, "[\"" + line + "\\n\", \"short\\n\"]");
}

TEST_F(Wsgi, ReadlineWithSize) {
  EXPECT_EQ(run(TestRequest::post("/readline", "abcdef\ngh\n", "4")).response.body,
            "[\"abcd\", \"ef\\n\", \"gh\\n\"]");
}

TEST_F(Wsgi, Readlines) {
  EXPECT_EQ(run(TestRequest::post("/readlines", "1\n22\n333\n")).response.body,
            "[[\"1\\n\", \"22\\n\", \"333\\n\"], \"\"]");
  // The hint stops once that many bytes were returned; the rest stays readable.
  EXPECT_EQ(run(TestRequest::post("/readlines", "1\n22\n333\n", "3")).response.body,
            "[[\"1\\n\", \"22\\n\"], \"333\\n\"]");
}

TEST_F(Wsgi, IterationYieldsLines) {
  EXPECT_EQ(run(TestRequest::post("/iter", "x\ny\nz")).response.body, "[\"x\\n\", \"y\\n\", \"z\"]");
}

TEST_F(Wsgi, MixedReadsConsumeTheReadlineBufferFirst) {
  EXPECT_EQ(run(TestRequest::post("/mixed", "line\nabcdefgh\nrest")).response.body,
            "[\"line\\n\", \"abc\", \"de\", \"fgh\\nrest\", \"\"]");
}

// A body that cannot be read is the client's fault: answered as the
// protocol would have, never a traceback nor an application error.
TEST_F(Wsgi, BodyThatNeverArrivesIsAnswered408) {
  auto t = TestRequest::post("/echo", "only the first part");
  t.content_length = 1000;
  t.body_complete = false;  // the core's read times out once this is read
  Result r;
  auto logs = logs_of([&] { r = run(t); });
  EXPECT_EQ(r.status, Status::ok);
  EXPECT_EQ(r.response.status, "408 Request Timeout");
  EXPECT_EQ(r.response.header("Connection"), "close");
  EXPECT_EQ(r.response.body, "Request Timeout");
  EXPECT_TRUE(r.response.finished);
  EXPECT_FALSE(r.response.aborted);
  EXPECT_TRUE(logged(host(), "python: the request body could not be read: timed out", LogLevel::warn));
  EXPECT_EQ(logs.find("Traceback"), std::string::npos) << logs;
}

TEST_F(Wsgi, BodyOfAClientThatLeftAbortsTheResponse) {
  Exchange x(*app().core, TestRequest::post("/echo", "abc"));
  x.stream().reset = true;  // the peer went away before the app read
  x.stream().reset_why = TRELLIS_CLOSED;
  std::size_t from = log_count(host());
  EXPECT_EQ(x.run(*app().plugin), Status::ok);
  auto logs = logs_since(host(), from);
  EXPECT_TRUE(x.response().aborted);
  EXPECT_FALSE(x.response().finished);
  EXPECT_NE(logs.find("python: the request body could not be read: connection closed"), std::string::npos) << logs;
  EXPECT_EQ(logs.find("Traceback"), std::string::npos) << logs;
}

// ---------------------------------------------------------------- response

TEST_F(Wsgi, SingleItemListIsWrittenWithLast) {
  auto r = get("/single");
  EXPECT_EQ(r.status, Status::ok);
  EXPECT_EQ(r.response.status, "200 OK");
  EXPECT_EQ(r.response.header("Content-Type"), "text/plain");
  ASSERT_EQ(r.response.writes.size(), 1u);
  EXPECT_EQ(r.response.writes[0].data, "hello");
  EXPECT_TRUE(r.response.writes[0].last);
  EXPECT_EQ(r.response.finishes, 1);
}

TEST_F(Wsgi, SequencesMarkTheLastNonEmptyItem) {
  auto t = get("/tuple");
  ASSERT_EQ(t.response.writes.size(), 2u);
  EXPECT_FALSE(t.response.writes[0].last);
  EXPECT_TRUE(t.response.writes[1].last);
  auto m = get("/multi");
  ASSERT_EQ(m.response.writes.size(), 2u);
  EXPECT_EQ(m.response.writes[1].data, "b");
  EXPECT_TRUE(m.response.writes[1].last);
}

TEST_F(Wsgi, GeneratorStreamsNonEmptyChunks) {
  auto r = get("/gen");
  EXPECT_EQ(r.status, Status::ok);
  ASSERT_EQ(r.response.writes.size(), 2u);
  EXPECT_FALSE(r.response.writes[0].last);
  EXPECT_FALSE(r.response.writes[1].last);
  EXPECT_EQ(r.response.body, "ab");
  EXPECT_EQ(r.response.finishes, 1);
}

TEST_F(Wsgi, EmptyBodyOnlyFinishes) {
  auto r = get("/empty");
  EXPECT_EQ(r.status, Status::ok);
  EXPECT_EQ(r.response.status, "204 No Content");
  EXPECT_TRUE(r.response.writes.empty());
  EXPECT_EQ(r.response.finishes, 1);
}

TEST_F(Wsgi, WriteCallableDataPrecedesTheIterable) {
  auto r = get("/write");
  EXPECT_EQ(r.status, Status::ok);
  EXPECT_EQ(r.response.body, "first second third");
  ASSERT_EQ(r.response.writes.size(), 3u);
  EXPECT_EQ(r.response.writes[0].data, "first ");
}

TEST_F(Wsgi, WriteCallableRejectsStr) {
  std::string logs;
  Result r;
  logs = logs_of([&] { r = get("/write_str"); });
  expect_500(r);
  EXPECT_NE(logs.find("TypeError: write() argument must be bytes, not str"), std::string::npos) << logs;
}

TEST_F(Wsgi, Latin1HeaderValuesPassThrough) {
  auto r = get("/latin1_header");
  EXPECT_EQ(r.status, Status::ok);
  EXPECT_EQ(r.response.header("X-Name"), "caf\xe9");
}

// ---------------------------------------------------------------- exc_info

TEST_F(Wsgi, ExcInfoReplacesHeadersNotYetSent) {
  auto r = get("/exc_info_replace");
  EXPECT_EQ(r.status, Status::ok);
  EXPECT_EQ(r.response.status, "503 Service Unavailable");
  EXPECT_EQ(r.response.header("X-Second"), "2");
  EXPECT_EQ(r.response.header("X-First"), "");
  EXPECT_EQ(r.response.body, "replaced");
}

TEST_F(Wsgi, ExcInfoAfterHeadersSentReraisesTheOriginalAndAborts) {
  Result r;
  auto logs = logs_of([&] { r = get("/exc_info_after_sent"); });
  EXPECT_EQ(r.status, Status::app_error);
  EXPECT_TRUE(r.response.aborted);
  EXPECT_EQ(r.response.body, "partial");
  EXPECT_NE(logs.find("ValueError: original error"), std::string::npos) << logs;
}

TEST_F(Wsgi, ExcInfoReraiseIsTheSameException) {
  Result r;
  auto logs = logs_of([&] { r = get("/exc_info_reraise_check"); });
  EXPECT_EQ(r.status, Status::ok);
  EXPECT_EQ(r.response.body, "partial-end");
  EXPECT_NE(logs.find("reraised same: True"), std::string::npos) << logs;
}

TEST_F(Wsgi, SecondStartResponseWithoutExcInfoIsAnError) {
  Result r;
  auto logs = logs_of([&] { r = get("/twice"); });
  expect_500(r);
  EXPECT_NE(logs.find("AssertionError"), std::string::npos) << logs;
}

// ---------------------------------------------------------------- errors -> 500

TEST_F(Wsgi, ExceptionGives500AndTracebackAndTheWorkerLivesOn) {
  Result r;
  auto logs = logs_of([&] { r = get("/raise"); });
  expect_500(r);
  EXPECT_TRUE(logged(host(), "RuntimeError: boom from the app", LogLevel::error));
  EXPECT_NE(logs.find("Traceback (most recent call last)"), std::string::npos) << logs;
  EXPECT_NE(logs.find("pep3333_app.py"), std::string::npos) << logs;
  EXPECT_EQ(get("/single").response.body, "hello");
}

TEST_F(Wsgi, SystemExitDoesNotEndTheWorker) {
  Result r;
  auto logs = logs_of([&] { r = get("/system_exit"); });
  expect_500(r);
  EXPECT_NE(logs.find("SystemExit"), std::string::npos) << logs;
  EXPECT_EQ(get("/single").status, Status::ok);
}

TEST_F(Wsgi, MissingStartResponseGives500) {
  expect_500(get("/no_start"));
  expect_500(get("/no_start_empty"));
  EXPECT_TRUE(logged(host(), "without calling start_response"));
}

TEST_F(Wsgi, StrBodyGives500) {
  Result r;
  auto logs = logs_of([&] { r = get("/str_body"); });
  expect_500(r);
  EXPECT_NE(logs.find("must be bytes, not str"), std::string::npos) << logs;
}

TEST_F(Wsgi, StrChunkAfterHeadersAborts) {
  auto r = get("/str_body_after");
  EXPECT_EQ(r.status, Status::app_error);
  EXPECT_TRUE(r.response.aborted);
  EXPECT_EQ(r.response.body, "bytes first");
}

TEST_F(Wsgi, MalformedStatusGives500) {
  Result r;
  auto logs = logs_of([&] { r = get("/bad_status"); });
  expect_500(r);
  EXPECT_NE(logs.find("malformed status"), std::string::npos) << logs;
  expect_500(get("/bad_status_type"));
}

TEST_F(Wsgi, HeaderTheProtocolRefusesGives500) {
  Result r;
  auto logs = logs_of([&] { r = get("/bad_header_value"); });
  expect_500(r);
  EXPECT_NE(logs.find("invalid response status or header"), std::string::npos) << logs;
}

TEST_F(Wsgi, NonStrOrNonLatin1HeadersGive500) {
  expect_500(get("/bad_header_type"));
  expect_500(get("/non_latin1_header"));
}

// ---------------------------------------------------------------- close()

TEST_F(Wsgi, CloseIsCalledAfterSuccess) {
  Result r;
  auto logs = logs_of([&] { r = get("/close_ok"); });
  EXPECT_EQ(r.status, Status::ok);
  EXPECT_EQ(r.response.body, "123");
  EXPECT_NE(logs.find("closed after 3 chunks"), std::string::npos) << logs;
}

TEST_F(Wsgi, CloseOfAListSubclassIsCalled) {
  Result r;
  auto logs = logs_of([&] { r = get("/close_list_subclass"); });
  EXPECT_EQ(r.status, Status::ok);
  EXPECT_EQ(r.response.body, "xy");
  EXPECT_NE(logs.find("list subclass closed"), std::string::npos) << logs;
}

TEST_F(Wsgi, CloseIsCalledWhenIterationFails) {
  Result r;
  auto logs = logs_of([&] { r = get("/close_error"); });
  expect_500(r);
  EXPECT_NE(logs.find("closed after 0 chunks"), std::string::npos) << logs;
  EXPECT_NE(logs.find("RuntimeError: failed while iterating"), std::string::npos) << logs;

  logs = logs_of([&] { r = get("/close_error_after_sent"); });
  EXPECT_EQ(r.status, Status::app_error);
  EXPECT_TRUE(r.response.aborted);
  EXPECT_NE(logs.find("closed after 2 chunks"), std::string::npos) << logs;
}

// A client that went away is not the application's error: on_request says
// ok (SDK 2 counts app_error only), the log says what happened.
TEST_F(Wsgi, CloseIsCalledAndIterationStopsWhenTheClientGoes) {
  Result r;
  auto logs = logs_of([&] { r = get("/close_gone", "", 1); });
  EXPECT_EQ(r.status, Status::ok);
  EXPECT_NE(logs.find("python: client went away: connection closed"), std::string::npos) << logs;
  EXPECT_NE(logs.find("closed after 2 chunks"), std::string::npos) << logs;
  EXPECT_EQ(logs.find("Traceback"), std::string::npos) << logs;
  EXPECT_EQ(r.response.writes.size(), 1u);
  EXPECT_EQ(r.response.finishes, 0);
  EXPECT_FALSE(r.response.aborted);
}

TEST_F(Wsgi, WriteCallableFailingIsNotAnApplicationError) {
  Result r;
  auto logs = logs_of([&] { r = get("/write_gone", "", 2); });
  EXPECT_EQ(r.status, Status::ok);
  EXPECT_NE(logs.find("python: client went away: connection closed"), std::string::npos) << logs;
  EXPECT_EQ(logs.find("Traceback"), std::string::npos) << logs;
}

TEST_F(Wsgi, StartResponseAfterTheClientLeftIsNotAnApplicationError) {
  // The core refuses the head of a stream whose peer is gone (closed): the
  // application sees an OSError, as from write(), and no traceback is logged.
  Exchange x(*app().core, TestRequest::get("/single"));
  x.stream().reset = true;
  x.stream().reset_why = TRELLIS_CLOSED;
  std::size_t from = log_count(host());
  EXPECT_EQ(x.run(*app().plugin), Status::ok);
  auto logs = logs_since(host(), from);
  EXPECT_NE(logs.find("python: client went away: connection closed"), std::string::npos) << logs;
  EXPECT_EQ(logs.find("Traceback"), std::string::npos) << logs;
  EXPECT_EQ(x.response().status, "");
  EXPECT_FALSE(x.response().finished);
}

TEST_F(Wsgi, CloseRaisingIsLogged) {
  Result r;
  auto logs = logs_of([&] { r = get("/close_raises"); });
  EXPECT_EQ(r.status, Status::app_error);
  EXPECT_EQ(r.response.body, "ok");
  EXPECT_NE(logs.find("ValueError: close failed"), std::string::npos) << logs;
}

// ---------------------------------------------------------------- file_wrapper

class FileWrapper : public Wsgi {
 protected:
  void SetUp() override {
    Wsgi::SetUp();
    char tmpl[] = "/tmp/trellis-py-fw-XXXXXX";
    int fd = ::mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    ::close(fd);
    path_ = tmpl;
    for (int i = 0; i < 10000; ++i) content_ += static_cast<char>('A' + i % 26);
    std::ofstream(path_, std::ios::binary) << content_;
  }
  void TearDown() override { std::remove(path_.c_str()); }
  std::string path_, content_;
};

// A file chunk (sent with sendfile by the core) from the file's position,
// the whole body: the last one.
TEST_F(FileWrapper, RealFileGoesOutAsAFileChunkFromItsPosition) {
  auto r = get("/filewrapper", path_ + ",100,-");
  EXPECT_EQ(r.status, Status::ok);
  ASSERT_EQ(r.response.files.size(), 1u);
  EXPECT_EQ(r.response.files[0].offset, 100);
  EXPECT_EQ(r.response.files[0].count, 9900u);
  EXPECT_TRUE(r.response.files[0].last);
  EXPECT_EQ(r.response.body, content_.substr(100));
  EXPECT_TRUE(r.response.writes.empty());
  EXPECT_EQ(r.response.finishes, 1);
}

TEST_F(FileWrapper, ContentLengthLimitsWhatIsSent) {
  auto r = get("/filewrapper", path_ + ",10,50");
  ASSERT_EQ(r.response.files.size(), 1u);
  EXPECT_EQ(r.response.files[0].offset, 10);
  EXPECT_EQ(r.response.files[0].count, 50u);
  EXPECT_EQ(r.response.body, content_.substr(10, 50));
}

TEST_F(FileWrapper, PythonBufferedPositionIsHonoured) {
  auto r = get("/filewrapper_buffered", path_);
  ASSERT_EQ(r.response.files.size(), 1u);
  EXPECT_EQ(r.response.files[0].offset, 2);
  EXPECT_EQ(r.response.body, content_.substr(2));
}

TEST_F(FileWrapper, FileLikeWithoutDescriptorIsIteratedInBlocks) {
  auto r = get("/filewrapper_bytesio");
  EXPECT_EQ(r.status, Status::ok);
  EXPECT_TRUE(r.response.files.empty());
  ASSERT_EQ(r.response.writes.size(), 3u);
  EXPECT_EQ(r.response.writes[0].data, "0123");
  EXPECT_EQ(r.response.body, "0123456789");
}

// ---------------------------------------------------------------- wsgi.errors

TEST_F(Wsgi, ErrorsStreamLogsWholeLines) {
  auto logs = logs_of([&] { EXPECT_EQ(get("/errors").status, Status::ok); });
  for (auto line : {"line one\n", "partial joined\n", "line three\n", "from writelines\n", "no newline at end\n",
                    "printed to errors\n"})
    EXPECT_NE(logs.find(line), std::string::npos) << line << "in:\n" << logs;
  EXPECT_TRUE(logged(host(), "line one", LogLevel::error));
}

// Runs `code` in the plugin's interpreter: libpython is global once the
// plugin exists (see interpreter.cpp). A thread of its own takes the GIL the
// plain PyGILState way, whatever state the plugin keeps for this thread.
bool run_python(const std::string& code) {
  using Ensure = int (*)();
  using Release = void (*)(int);
  using Run = int (*)(const char*);
  auto ensure = reinterpret_cast<Ensure>(::dlsym(RTLD_DEFAULT, "PyGILState_Ensure"));
  auto release = reinterpret_cast<Release>(::dlsym(RTLD_DEFAULT, "PyGILState_Release"));
  auto run = reinterpret_cast<Run>(::dlsym(RTLD_DEFAULT, "PyRun_SimpleString"));
  if (!ensure || !release || !run) return false;
  int rc = -1;
  std::thread([&] {
    int gil = ensure();
    rc = run(code.c_str());
    release(gil);
  }).join();
  return rc == 0;
}

TEST_F(Wsgi, ErrorsStreamEscapesLoneSurrogatesLikeStderr) {
  // The test app has no route writing arbitrary text, so /environ's helper
  // is swapped for one (and put back) in the loaded module itself.
  const std::string find_app =
      "import sys\n"
      "_m = next(m for m in list(sys.modules.values())\n"
      "          if getattr(m, '__file__', '') and m.__file__.endswith('pep3333_app.py'))\n";
  ASSERT_TRUE(run_python(find_app +
                         "def _probe(environ, start_response):\n"
                         "    err = environ['wsgi.errors']\n"
                         "    n = err.write('bad-\\udcff-x\\n')\n"
                         "    err.writelines(['lone \\ud800 ', 'end\\n'])\n"
                         "    print('via print \\udc80', file=err)\n"
                         "    err.write('still fine\\n')\n"
                         "    start_response('200 OK', [])\n"
                         "    return [str(n).encode()]\n"
                         "_m._saved_environ_dump = _m.environ_dump\n"
                         "_m.environ_dump = _probe\n"));
  Result r{Status::internal_error, {}};
  auto logs = logs_of([&] { r = get("/environ"); });
  ASSERT_TRUE(run_python(find_app + "_m.environ_dump = _m._saved_environ_dump\n"));

  // The application did not see an exception, and write() counted the
  // characters it was given, as for any other str.
  EXPECT_EQ(r.status, Status::ok) << logs;
  EXPECT_EQ(r.response.status, "200 OK") << logs;
  EXPECT_EQ(r.response.body, "8");
  // Each surrogate is logged as its backslash escape (sys.stderr's
  // errors='backslashreplace'), the rest of the line untouched.
  for (auto line : {"bad-\\udcff-x\n", "lone \\ud800 end\n", "via print \\udc80\n", "still fine\n"})
    EXPECT_NE(logs.find(line), std::string::npos) << line << " in:\n" << logs;
  EXPECT_TRUE(logged(host(), "bad-\\udcff-x", LogLevel::error));
  EXPECT_EQ(logs.find("UnicodeEncodeError"), std::string::npos) << logs;
  // The swap is undone: /environ is the environ dump again.
  EXPECT_NE(get("/environ").response.body.find("\"PATH_INFO\""), std::string::npos);
}

// ---------------------------------------------------------------- object reuse

TEST_F(Wsgi, ObjectsTheAppKeepsAreNotReusedAndGoStale) {
  EXPECT_EQ(get("/keep").response.body, "\"kept\"");
  auto r = run(TestRequest::post("/use_stale", "new body"));
  EXPECT_EQ(r.status, Status::ok);
  EXPECT_NE(r.response.body.find("\"start_response\": \"RuntimeError\""), std::string::npos) << r.response.body;
  EXPECT_NE(r.response.body.find("\"stale_input_read\": \"\""), std::string::npos) << r.response.body;
  EXPECT_NE(r.response.body.find("\"same_input\": false"), std::string::npos) << r.response.body;
}

TEST_F(Wsgi, WorkerShutdownRunsAtexitHandlers) {
  char tmpl[] = "/tmp/trellis-py-atexit-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string marker = std::string(tmpl) + "/ran";
  EXPECT_EQ(get("/atexit", marker).status, Status::ok);
  app().plugin->worker_shutdown();
  std::ifstream in(marker);
  std::string text;
  in >> text;
  EXPECT_EQ(text, "ran");
  std::remove(marker.c_str());
  ::rmdir(tmpl);
}

// ---------------------------------------------------------------- threads and fork

TEST_F(Wsgi, ConcurrentRequestsFromFourThreads) {
  constexpr int kThreads = 4, kRequests = 5;
  std::vector<std::string> failures[kThreads];
  std::set<std::string> idents[kThreads];
  std::vector<std::thread> pool;
  for (int t = 0; t < kThreads; ++t) {
    pool.emplace_back([&, t] {
      ASSERT_EQ(app().plugin->thread_start(t), Status::ok);
      for (int i = 0; i < kRequests; ++i) {
        std::string body = "thread " + std::to_string(t) + " request " + std::to_string(i);
        auto r = call(*app().core, *app().plugin, TestRequest::post("/slow_echo", body), -1, t);
        if (r.status != Status::ok || r.response.body != body) failures[t].push_back(r.response.body);
        idents[t].insert(r.response.header("X-Thread"));
      }
      app().plugin->thread_stop(t);
    });
  }
  for (auto& th : pool) th.join();
  std::set<std::string> all;
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_TRUE(failures[t].empty()) << failures[t].front();
    EXPECT_EQ(idents[t].size(), 1u);  // one Python thread state per application thread
    all.insert(idents[t].begin(), idents[t].end());
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads));
}

TEST_F(Wsgi, PreloadForkServesInTheChildAndTheParent) {
  // The loader-process sequence: before_fork, fork, then after_fork_child in
  // the child and after_fork_parent in the parent.
  get("/single");  // Python is warm and has run in this process
  ASSERT_EQ(app().plugin->before_fork(), Status::ok);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    sdk::WorkerIdentity self;
    self.id = 1;
    if (app().plugin->after_fork_child(self) != Status::ok) ::_exit(2);
    if (app().plugin->thread_start(0) != Status::ok) ::_exit(3);
    auto r = call(*app().core, *app().plugin, TestRequest::post("/echo", "from the child"));
    app().plugin->thread_stop(0);
    ::_exit(r.status == Status::ok && r.response.body == "from the child" ? 0 : 1);
  }
  ASSERT_EQ(app().plugin->after_fork_parent(), Status::ok);
  int wstatus = 0;
  ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
  EXPECT_TRUE(WIFEXITED(wstatus));
  EXPECT_EQ(WEXITSTATUS(wstatus), 0);
  // The parent (loader) keeps working and can fork again.
  EXPECT_EQ(get("/single").response.body, "hello");
  ASSERT_EQ(app().plugin->before_fork(), Status::ok);
  pid = ::fork();
  if (pid == 0) {
    app().plugin->after_fork_child({});
    ::_exit(call(*app().core, *app().plugin, TestRequest::get("/single")).response.body == "hello" ? 0 : 1);
  }
  ASSERT_EQ(app().plugin->after_fork_parent(), Status::ok);
  ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
  EXPECT_EQ(WEXITSTATUS(wstatus), 0);
}

}  // namespace
}  // namespace trellis::test
