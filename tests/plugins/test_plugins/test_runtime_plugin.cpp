// A tiny application runtime in C++ ("testapp"), so that process-model
// tests run without Python. Routes:
//   /            "Hello World!"
//   /pid         the worker's pid
//   /sleep/MS    sleeps MS milliseconds, then answers
//   /echo        the request body
//   /bytes/N     N bytes of 'x'
//   /crash       abort(): the worker dies with SIGABRT
//   /leak/MB     keeps MB more megabytes resident (for --reload-on-rss)
#include <trellis/plugin.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

using trellis::sdk::Field;
using trellis::sdk::Status;

class TestRuntime final : public trellis::sdk::Plugin, public trellis::sdk::Runtime {
 public:
  explicit TestRuntime(trellis::sdk::Host& host) : host_(host) {}

  trellis::sdk::Runtime* runtime() noexcept override { return this; }

  Status load_application() noexcept override {
    if (host_.flag("testapp-fail-load")) {
      host_.log(trellis::sdk::LogLevel::error, "testapp: refusing to load (--testapp-fail-load)");
      return Status::app_error;
    }
    return Status::ok;
  }

  Status on_request(trellis::sdk::Stream stream, int) noexcept override {
    try {
      trellis::sdk::Request req = stream.request();
      std::string body;
      std::string_view path = req.path;
      if (path == "/pid") {
        body = std::to_string(getpid());
      } else if (path.starts_with("/sleep/")) {
        std::this_thread::sleep_for(std::chrono::milliseconds(std::atoi(std::string(path.substr(7)).c_str())));
        body = "slept";
      } else if (path == "/echo") {
        char buf[65536];
        std::size_t got = 0;
        while (stream.read(buf, sizeof buf, got) == Status::ok && got > 0) body.append(buf, got);
      } else if (path.starts_with("/bytes/")) {
        body.assign(static_cast<std::size_t>(std::atoll(std::string(path.substr(7)).c_str())), 'x');
      } else if (path == "/crash") {
        std::abort();
      } else if (path.starts_with("/leak/")) {
        std::size_t mb = static_cast<std::size_t>(std::atoll(std::string(path.substr(6)).c_str()));
        leaked_.emplace_back(mb << 20, 'x');  // touched, so resident
        body = "leaked";
      } else {
        body = "Hello World!";
      }
      std::string length = std::to_string(body.size());
      Field headers[] = {{"Content-Type", "text/plain"}, {"Content-Length", length}};
      if (stream.start("200 OK", headers) != Status::ok) return Status::app_error;
      if (stream.write_blocking(body, true) != Status::ok) return Status::ok;  // client went away
      stream.finish();
      return Status::ok;
    } catch (...) {
      return Status::app_error;
    }
  }

 private:
  trellis::sdk::Host& host_;
  std::vector<std::string> leaked_;
};

const trellis_option_spec kOptions[] = {
    {"testapp-fail-load", nullptr, 0, TRELLIS_OPT_FLAG, "false", nullptr, "make load_application fail"},
};

}  // namespace

TRELLIS_PLUGIN("testapp", TRELLIS_KIND_RUNTIME, "0.1", "C++ test application runtime", kOptions,
               [](trellis::sdk::Host& host) { return static_cast<trellis::sdk::Plugin*>(new TestRuntime(host)); })
