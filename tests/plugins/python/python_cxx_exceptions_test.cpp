// The python plugin with its C++ allocations failing: whatever throws
// std::bad_alloc must come out as a MemoryError the application can catch,
// a logged error and a 500, or an error status; never std::terminate.
//
// Memory is not really exhausted (that would be slow and flaky): this binary
// replaces operator new and makes it fail on demand (failing_new.hpp), so
// only the plugin's own C++ containers and strings see the failure.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "failing_new.hpp"
#include "harness.hpp"

namespace trellis::test {
namespace {

using sdk::LogLevel;

constexpr std::size_t kEverything = 0;
constexpr std::size_t kOneMiB = 1 << 20;
constexpr std::size_t kNever = FailAllocations::kNever;

// The host stands for the core, whose memory is not under test: logging
// allocates normally even while the plugin's allocations fail.
class Host final : public sdk::Host {
 public:
  std::map<std::string, std::vector<std::string>, std::less<>> options;

  void log(LogLevel level, std::string_view message) noexcept override {
    FailAllocations none(kNever);
    logs.push_back({level, std::string(message)});
  }
  std::span<const std::string> option_values(std::string_view name) const noexcept override {
    auto it = options.find(name);
    return it == options.end() ? std::span<const std::string>() : std::span<const std::string>(it->second);
  }
  void* shared_memory(std::size_t) noexcept override { return nullptr; }
  sdk::WorkerIdentity worker() const noexcept override { return {}; }
  bool runtime_available(std::uint8_t m) const noexcept override { return m == 0; }

  bool logged(std::string_view needle, LogLevel level) const {
    for (auto& [l, text] : logs)
      if (l == level && text.find(needle) != std::string::npos) return true;
    return false;
  }
  std::string all() const {
    std::string out;
    for (auto& [l, text] : logs) out += text + "\n";
    return out;
  }

  std::vector<std::pair<LogLevel, std::string>> logs;
};

// A writer that allocates nothing, so it keeps working while every
// allocation fails. `gone`: the client disconnected, writes fail.
class BareWriter final : public sdk::ResponseWriter {
 public:
  explicit BareWriter(bool gone = false) : gone_(gone) {}
  Status start(std::string_view s, std::span<const sdk::Field>) noexcept override {
    if (sent_) return Status::unsupported;
    std::size_t n = std::min(s.size(), sizeof status - 1);
    std::memcpy(status, s.data(), n);
    status[n] = '\0';
    return Status::ok;
  }
  Status write(std::string_view data, bool) noexcept override {
    if (gone_) return Status::closed;
    if (!data.empty()) sent_ = true;
    return Status::ok;
  }
  Status send_file(int, std::int64_t, std::int64_t) noexcept override { return gone_ ? Status::closed : Status::ok; }
  Status finish() noexcept override {
    ++finishes;
    sent_ = true;
    return Status::ok;
  }
  void abort() noexcept override { aborted = true; }
  bool headers_sent() const noexcept override { return sent_; }

  char status[64] = "";
  int finishes = 0;
  bool aborted = false;

 private:
  bool gone_;
  bool sent_ = false;
};

// A body the protocol refused (larger than limit-post).
class RefusedBody final : public sdk::BodyReader {
 public:
  Status read(char*, std::size_t, std::size_t& got) noexcept override {
    got = 0;
    return Status::too_large;
  }
};

struct App {
  LoadedPlugin lib{TRELLIS_PYTHON_PLUGIN};
  Host* host = new Host;  // plugins are never freed: neither is their host
  sdk::Plugin* plugin = nullptr;
  sdk::Runtime* rt = nullptr;
  Status loaded = Status::internal_error;

  App() {
    host->options["wsgi-file"] = {TRELLIS_PY_APPS "/cxx_exceptions_app.py"};
    host->options["callable"] = {"app"};
    plugin = static_cast<sdk::Plugin*>(lib.descriptor->create(host));
    if (!plugin) return;
    rt = plugin->runtime();
    if (plugin->on_config() != Status::ok) return;
    loaded = rt->load_application();
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
    ASSERT_EQ(app().loaded, Status::ok) << app().host->all();
  }
  Host& host() { return *app().host; }

  // Serves `t` while allocations of `fail_from` bytes or more fail. The
  // request is built before, so only what the plugin allocates can fail.
  Status serve(const TestRequest& t, sdk::ResponseWriter& w, std::size_t fail_from,
               sdk::BodyReader* body = nullptr) {
    BuiltRequest built(t);
    if (body) built.req.body = body;
    FailAllocations failing(fail_from);
    return app().rt->handle(built.req, w);
  }
  // A first request of the same shape, so the thread's objects exist and
  // its reusable buffers have their capacity before allocations fail.
  void warm_up(const TestRequest& t) {
    BareWriter w;
    ASSERT_EQ(serve(t, w, kNever), Status::ok) << host().all();
  }
};

// ------------------------------------------------ CPython calling the plugin

TEST_F(CxxExceptions, ReadlineOfAHugeLineRaisesMemoryError) {
  // readline() gathers a line spanning reads in a std::string.
  TestRequest t = TestRequest::post("/readline", std::string(4 << 20, 'x'));
  t.max_chunk = 64 << 10;
  FakeWriter w;
  EXPECT_EQ(serve(t, w, kOneMiB), Status::ok) << host().all();
  EXPECT_EQ(w.status, "200 OK");
  EXPECT_EQ(w.body, "MemoryError ()");
}

TEST_F(CxxExceptions, ReadlineSucceedsWhenMemoryAllows) {
  TestRequest t = TestRequest::post("/readline", std::string(4 << 20, 'x'));
  t.max_chunk = 64 << 10;
  FakeWriter w;
  EXPECT_EQ(serve(t, w, kNever), Status::ok) << host().all();
  EXPECT_EQ(w.body, "read 4194304 bytes");
}

TEST_F(CxxExceptions, HugePartialLineOnWsgiErrorsRaisesMemoryError) {
  // wsgi.errors keeps the text after the last newline in a std::string.
  FakeWriter w;
  EXPECT_EQ(serve(TestRequest::get("/errors"), w, kOneMiB), Status::ok) << host().all();
  EXPECT_EQ(w.status, "200 OK");
  EXPECT_EQ(w.body, "MemoryError ()");
}

TEST_F(CxxExceptions, HugeHeaderListRaisesMemoryErrorFromStartResponse) {
  // start_response() collects the headers in a std::vector.
  FakeWriter w;
  EXPECT_EQ(serve(TestRequest::get("/headers"), w, kOneMiB), Status::ok) << host().all();
  EXPECT_EQ(w.status, "200 OK");
  EXPECT_EQ(w.header("Content-Type"), "text/plain");
  EXPECT_EQ(w.body, "MemoryError ()");
}

TEST_F(CxxExceptions, EnvironOutOfMemoryIsA500WithTheTraceback) {
  // A header name never seen before goes into environ's key cache.
  TestRequest t = TestRequest::get("/hello");
  warm_up(t);
  t.headers.push_back({"X-Never-Seen-Before", "1"});
  BareWriter w;
  EXPECT_EQ(serve(t, w, kEverything), Status::app_error) << host().all();
  EXPECT_STREQ(w.status, "500 Internal Server Error");
  EXPECT_EQ(w.finishes, 1);
  EXPECT_TRUE(host().logged("python: cannot build the WSGI environ:\n", LogLevel::error)) << host().all();
  EXPECT_TRUE(host().logged("MemoryError", LogLevel::error)) << host().all();
}

// ------------------------------------------------ the noexcept SDK calls

TEST_F(CxxExceptions, ClientGoneIsLoggedWithoutAllocating) {
  TestRequest t = TestRequest::get("/hello");
  warm_up(t);
  BareWriter gone(true);
  EXPECT_EQ(serve(t, gone, kEverything), Status::closed) << host().all();
  EXPECT_TRUE(host().logged("python: client went away: connection closed", LogLevel::info)) << host().all();
}

TEST_F(CxxExceptions, RefusedBodyIsAnsweredWithoutAllocating) {
  TestRequest t = TestRequest::post("/read", "x");
  warm_up(TestRequest::get("/hello"));
  RefusedBody refused;
  BareWriter w;
  EXPECT_EQ(serve(t, w, kEverything, &refused), Status::too_large) << host().all();
  EXPECT_STREQ(w.status, "413 Content Too Large");
  EXPECT_TRUE(host().logged("python: the request body could not be read: too large", LogLevel::warn))
      << host().all();
}

TEST_F(CxxExceptions, OnConfigOutOfMemoryIsAnInternalError) {
  Status st;
  {
    FailAllocations failing(kEverything);
    st = app().plugin->on_config();
  }
  EXPECT_EQ(st, Status::internal_error);
  EXPECT_TRUE(host().logged("python: internal error while checking the configuration: out of memory",
                            LogLevel::error))
      << host().all();
  EXPECT_EQ(app().plugin->on_config(), Status::ok) << host().all();
}

TEST_F(CxxExceptions, LoadApplicationOutOfMemoryIsAnInternalError) {
  Status st;
  {
    FailAllocations failing(kEverything);
    st = app().rt->load_application();
  }
  EXPECT_EQ(st, Status::internal_error);
  EXPECT_TRUE(host().logged("python: internal error while loading the application: out of memory",
                            LogLevel::error))
      << host().all();
  // Still serving: the GIL was not left held, nothing was half loaded.
  BareWriter w;
  EXPECT_EQ(serve(TestRequest::get("/hello"), w, kNever), Status::ok) << host().all();
  EXPECT_STREQ(w.status, "200 OK");
}

}  // namespace
}  // namespace trellis::test
