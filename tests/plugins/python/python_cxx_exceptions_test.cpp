// The python plugin with its C++ allocations failing: whatever throws
// std::bad_alloc must come out as a MemoryError the application can catch,
// a logged error and a 500, or an error status; never std::terminate.
//
// Memory is not really exhausted (that would be slow and flaky): this binary
// replaces operator new and makes it fail on demand (failing_new.hpp), so
// only the plugin's own C++ containers and strings see the failure.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "failing_new.hpp"
#include "harness.hpp"

namespace trellis::test {
namespace {

using sdk::LogLevel;

constexpr std::size_t kEverything = 0;
constexpr std::size_t kOneMiB = 1 << 20;
constexpr std::size_t kNever = FailAllocations::kNever;

// The core stands apart from the plugin: its memory is not under test, so
// every call into it (FakeHost records with strings and vectors) allocates
// normally even while the plugin's allocations fail. The table the plugin is
// created with forwards each call to the test core's with failures off.
const trellis_host_api*& core_table() {
  static const trellis_host_api* t = nullptr;
  return t;
}

template <auto Member, typename Fn>
struct Unfailing;
template <auto Member, typename R, typename... Args>
struct Unfailing<Member, R (*)(Args...)> {
  static R call(Args... args) {
    FailAllocations none(kNever);
    return (core_table()->*Member)(args...);
  }
};
#define TRELLIS_UNFAILING(api, field) \
  (api)->field = Unfailing<&trellis_host_api::field, decltype(trellis_host_api::field)>::call

// A body the core refused (larger than limit-post): the stream's reads
// fail with too_large while this is set on the serving thread.
thread_local bool t_refuse_body = false;

trellis_host_api* unfailing(const trellis_host_api* core) {
  core_table() = core;
  auto* api = new trellis_host_api(*core);  // never freed, like the plugin
  TRELLIS_UNFAILING(api, log);
  TRELLIS_UNFAILING(api, option_values);
  TRELLIS_UNFAILING(api, worker);
  TRELLIS_UNFAILING(api, stream_head);
  TRELLIS_UNFAILING(api, stream_conn_info);
  TRELLIS_UNFAILING(api, stream_want_body);
  TRELLIS_UNFAILING(api, stream_start);
  TRELLIS_UNFAILING(api, stream_write);
  TRELLIS_UNFAILING(api, stream_wait_writable);
  TRELLIS_UNFAILING(api, stream_finish);
  TRELLIS_UNFAILING(api, stream_abort);
  TRELLIS_UNFAILING(api, stream_head_sent);
  TRELLIS_UNFAILING(api, stream_done);
  TRELLIS_UNFAILING(api, stream_gone);
  api->stream_read = [](trellis_stream* s, char* buf, size_t size, size_t* got) -> trellis_status {
    if (t_refuse_body) {
      *got = 0;
      return TRELLIS_TOO_LARGE;
    }
    FailAllocations none(kNever);
    return core_table()->stream_read(s, buf, size, got);
  };
  return api;
}

struct App {
  PluginLibrary lib{TRELLIS_PYTHON_PLUGIN};
  TestCore* core = new TestCore;  // plugins are never freed: neither is their core
  Plugin* plugin = nullptr;
  Status loaded = Status::internal_error;

  App() {
    core->set("wsgi-file", TRELLIS_PY_APPS "/cxx_exceptions_app.py");
    core->set("callable", "app");
    plugin = lib.create(unfailing(core->api), core->host());
    if (!plugin || !plugin->runtime()) return;
    if (plugin->on_config() != Status::ok) return;
    loaded = plugin->load_application();
  }
};

App& app() {
  static App* a = new App;
  return *a;
}

class CxxExceptions : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(app().plugin, nullptr);
    ASSERT_EQ(app().loaded, Status::ok) << all();
  }
  FakeHost& host() { return *app().core->fake; }
  std::string all() { return all_logs(host()); }

  // Serves `t` while allocations of `fail_from` bytes or more fail. The
  // request is made before, so only what the plugin allocates can fail.
  // `fail_after_writes` >= 0: the client leaves after that many writes.
  Result serve(const TestRequest& t, std::size_t fail_from, int fail_after_writes = -1, bool refuse_body = false) {
    Exchange x(*app().core, t, fail_after_writes);
    Result r;
    t_refuse_body = refuse_body;
    {
      FailAllocations failing(fail_from);
      r.status = x.run(*app().plugin);
    }
    t_refuse_body = false;
    r.response = x.response();
    return r;
  }
  // A first request of the same shape, so the thread's objects exist and
  // its reusable buffers have their capacity before allocations fail.
  void warm_up(const TestRequest& t) { ASSERT_EQ(serve(t, kNever).status, Status::ok) << all(); }
};

// ------------------------------------------------ CPython calling the plugin

TEST_F(CxxExceptions, ReadlineOfAHugeLineRaisesMemoryError) {
  // readline() gathers a line spanning reads in a std::string.
  TestRequest t = TestRequest::post("/readline", std::string(4 << 20, 'x'));
  t.max_chunk = 64 << 10;
  auto r = serve(t, kOneMiB);
  EXPECT_EQ(r.status, Status::ok) << all();
  EXPECT_EQ(r.response.status, "200 OK");
  EXPECT_EQ(r.response.body, "MemoryError ()");
}

TEST_F(CxxExceptions, ReadlineSucceedsWhenMemoryAllows) {
  TestRequest t = TestRequest::post("/readline", std::string(4 << 20, 'x'));
  t.max_chunk = 64 << 10;
  auto r = serve(t, kNever);
  EXPECT_EQ(r.status, Status::ok) << all();
  EXPECT_EQ(r.response.body, "read 4194304 bytes");
}

TEST_F(CxxExceptions, HugePartialLineOnWsgiErrorsRaisesMemoryError) {
  // wsgi.errors keeps the text after the last newline in a std::string.
  auto r = serve(TestRequest::get("/errors"), kOneMiB);
  EXPECT_EQ(r.status, Status::ok) << all();
  EXPECT_EQ(r.response.status, "200 OK");
  EXPECT_EQ(r.response.body, "MemoryError ()");
}

TEST_F(CxxExceptions, HugeHeaderListRaisesMemoryErrorFromStartResponse) {
  // start_response() collects the headers in a std::vector.
  auto r = serve(TestRequest::get("/headers"), kOneMiB);
  EXPECT_EQ(r.status, Status::ok) << all();
  EXPECT_EQ(r.response.status, "200 OK");
  EXPECT_EQ(r.response.header("Content-Type"), "text/plain");
  EXPECT_EQ(r.response.body, "MemoryError ()");
}

TEST_F(CxxExceptions, EnvironOutOfMemoryIsA500WithTheTraceback) {
  // A header name never seen before goes into environ's key cache.
  TestRequest t = TestRequest::get("/hello");
  warm_up(t);
  t.headers.push_back({"X-Never-Seen-Before", "1"});
  auto r = serve(t, kEverything);
  EXPECT_EQ(r.status, Status::app_error) << all();
  EXPECT_EQ(r.response.status, "500 Internal Server Error");
  EXPECT_EQ(r.response.finishes, 1);
  EXPECT_TRUE(logged(host(), "python: cannot build the WSGI environ:\n", LogLevel::error)) << all();
  EXPECT_TRUE(logged(host(), "MemoryError", LogLevel::error)) << all();
}

// ------------------------------------------------ the noexcept SDK calls

// A client gone and a refused body are not application errors: on_request
// says ok (SDK 2 counts app_error only), the log says what happened.
TEST_F(CxxExceptions, ClientGoneIsLoggedWithoutAllocating) {
  TestRequest t = TestRequest::get("/hello");
  warm_up(t);
  auto r = serve(t, kEverything, 0);
  EXPECT_EQ(r.status, Status::ok) << all();
  EXPECT_FALSE(r.response.finished);
  EXPECT_TRUE(logged(host(), "python: client went away: connection closed", LogLevel::info)) << all();
}

TEST_F(CxxExceptions, RefusedBodyIsAnsweredWithoutAllocating) {
  TestRequest t = TestRequest::post("/read", "x");
  warm_up(TestRequest::get("/hello"));
  auto r = serve(t, kEverything, -1, true);
  EXPECT_EQ(r.status, Status::ok) << all();
  EXPECT_EQ(r.response.status, "413 Content Too Large");
  EXPECT_TRUE(r.response.finished);
  EXPECT_TRUE(logged(host(), "python: the request body could not be read: too large", LogLevel::warn)) << all();
}

TEST_F(CxxExceptions, OnConfigOutOfMemoryIsAnInternalError) {
  Status st;
  {
    FailAllocations failing(kEverything);
    st = app().plugin->on_config();
  }
  EXPECT_EQ(st, Status::internal_error);
  EXPECT_TRUE(logged(host(), "python: internal error while checking the configuration: out of memory",
                     LogLevel::error))
      << all();
  EXPECT_EQ(app().plugin->on_config(), Status::ok) << all();
}

TEST_F(CxxExceptions, LoadApplicationOutOfMemoryIsAnInternalError) {
  Status st;
  {
    FailAllocations failing(kEverything);
    st = app().plugin->load_application();
  }
  EXPECT_EQ(st, Status::internal_error);
  EXPECT_TRUE(logged(host(), "python: internal error while loading the application: out of memory",
                     LogLevel::error))
      << all();
  // Still serving: the GIL was not left held, nothing was half loaded.
  auto r = serve(TestRequest::get("/hello"), kNever);
  EXPECT_EQ(r.status, Status::ok) << all();
  EXPECT_EQ(r.response.status, "200 OK");
}

}  // namespace
}  // namespace trellis::test
