// timer_runtime: an asynchronous trellis runtime. It holds every request on
// the worker's event loop and answers it from a timer, so one worker with
// one thread keeps thousands of requests in flight at once:
//
//   $ curl http://127.0.0.1:8080/anything?delay=250
//   waited 250 ms for /anything
//
// ?delay=MS sets the wait (default --timer-delay, 100 ms). The same shape
// fits any runtime whose work completes later (an event loop of its own,
// I/O of its own): take the stream in on_request, keep it, answer from any
// thread, then Stream::done().
#include <trellis/plugin.hpp>

#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <string_view>

namespace {

using trellis::sdk::Event;
using trellis::sdk::Field;
using trellis::sdk::Host;
using trellis::sdk::LogLevel;
using trellis::sdk::Status;
using trellis::sdk::Stream;

class TimerRuntime;

// One request waiting for its timer.
struct Pending {
  TimerRuntime* runtime;
  Stream stream;
  long delay_ms;
  trellis_timer* timer = nullptr;
};

class TimerRuntime final : public trellis::sdk::Plugin, public trellis::sdk::Runtime {
 public:
  explicit TimerRuntime(Host host) : host_(host) {}

  trellis::sdk::Runtime* runtime() noexcept override { return this; }

  // Asynchronous: on_request runs on the loop thread and returns at once.
  bool blocking() const noexcept override { return false; }

  Status load_application() noexcept override {
    default_delay_ = host_.integer("timer-delay", 100);
    return Status::ok;
  }

  Status on_request(Stream stream, int) noexcept override {
    long delay = default_delay_;
    std::string_view query = stream.request().query;
    if (query.starts_with("delay=")) delay = std::atol(std::string(query.substr(6)).c_str());
    if (delay < 0) delay = 0;
    auto* p = new (std::nothrow) Pending{this, stream, delay};
    if (!p) return Status::internal_error;  // the core answers 500
    p->timer = host_.timer_start(static_cast<std::uint64_t>(delay), &TimerRuntime::fire, p);
    if (!p->timer) {
      delete p;
      return Status::internal_error;
    }
    return Status::ok;
  }

  // The body (unused here) arrives as events; a client that leaves makes
  // the request moot.
  void on_event(Stream stream, const Event& event) noexcept override {
    if (event.type == Event::Type::body) stream.consume(event.data.size());
  }

 private:
  static void fire(void* arg) {
    auto* p = static_cast<Pending*>(arg);
    answer(*p);
    p->stream.done();  // nothing of the stream is touched after this
    delete p;
  }

  static void answer(Pending& p) noexcept {
    if (p.stream.gone()) return;  // the client went away meanwhile
    char body[512];
    std::string_view path = p.stream.request().path;
    int n = std::snprintf(body, sizeof body, "waited %ld ms for %.*s\n", p.delay_ms, static_cast<int>(path.size()),
                          path.data());
    if (n < 0) return;
    std::string_view text(body, static_cast<std::size_t>(n) < sizeof body ? static_cast<std::size_t>(n) : sizeof body - 1);
    char length[24];
    std::snprintf(length, sizeof length, "%zu", text.size());
    const Field headers[] = {{"Content-Type", "text/plain"}, {"Content-Length", length}};
    if (p.stream.start("200 OK", headers) != Status::ok) return;
    p.stream.write(text, /*last=*/true);  // ok or again: the core keeps it either way
    p.stream.finish();
  }

  Host host_;
  long default_delay_ = 100;
};

const trellis_option_spec kOptions[] = {
    {"timer-delay", nullptr, 0, TRELLIS_OPT_INT, "100", "MS", "how long timer_runtime holds each request"},
};

}  // namespace

TRELLIS_PLUGIN("timer_runtime", TRELLIS_KIND_RUNTIME, "1.0.0", "example asynchronous runtime: answers from a timer",
               kOptions, [](Host& host) -> trellis::sdk::Plugin* { return new TimerRuntime(host); })
