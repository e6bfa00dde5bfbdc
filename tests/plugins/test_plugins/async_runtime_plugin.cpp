// An asynchronous test runtime ("asyncapp"), for the SDK 2 contract tests:
// it takes every stream on the loop thread and completes it later. Routes:
//   /delay/MS       answers "delayed MS" from a timer after MS ms
//   /thread/MS      answers from a thread of its own after MS ms
//   /echo           echoes the body as it arrives (streamed, chunked), then
//                   ends; consumes only what it has written, so a reader
//                   that stops reading stops the upload too
//   /stall          reads nothing of the body and answers only once the
//                   worker drains or the client leaves
//   /hold           never answers; logs "asyncapp: disconnect on /hold" when
//                   the client leaves
//   /big/N          N bytes of 'x', written in 64 KiB pieces as the
//                   connection drains (waits for WRITABLE after "again")
//   /count          how many streams this worker holds now
//   /finish_only    calls finish() without start() (refused), then done():
//                   the core answers the unanswered stream with a 500
//   /upgrade        with "Upgrade: echo" offered: 101, then echoes every
//                   message back; "bye" is answered with "bye" and the
//                   end of the connection. Without the offer: 426.
//   anything else   "async hello"
//
// With ASYNCAPP_DRIVES_LOOP=1 in its environment it runs the worker's loop
// inside a poll() loop of its own (Runtime::run_loop, as an asyncio runtime
// does), and /delay/MS is then answered from that outer loop's timers, so
// between the worker's turns: the core must notice work queued there.
#include <trellis/plugin.hpp>

#include <poll.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <map>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <new>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

namespace {

using trellis::sdk::Event;
using trellis::sdk::Field;
using trellis::sdk::Host;
using trellis::sdk::LogLevel;
using trellis::sdk::Status;
using trellis::sdk::Stream;

enum class Kind { delay, thread, echo, stall, hold, big, upgraded };

struct Held {
  Kind kind;
  Stream stream;
  long n = 0;            // delay ms, or bytes still to send (big)
  bool started = false;  // echo: the head went out
  class AsyncApp* app = nullptr;
};

class AsyncApp final : public trellis::sdk::Plugin, public trellis::sdk::Runtime {
 public:
  explicit AsyncApp(Host host) : host_(host), drives_loop_(std::getenv("ASYNCAPP_DRIVES_LOOP") != nullptr) {}
  trellis::sdk::Runtime* runtime() noexcept override { return this; }
  bool blocking() const noexcept override { return false; }
  Status load_application() noexcept override { return Status::ok; }
  bool drives_loop() const noexcept override { return drives_loop_; }

  Status run_loop() noexcept override {
    host_.log(LogLevel::info, "asyncapp: running the worker's loop in its own");
    const int fd = host_.loop_fd();
    for (;;) {
      std::int64_t wait = host_.loop_turn();
      if (wait == Host::loop_done) return Status::ok;
      const auto now = std::chrono::steady_clock::now();
      if (!outer_timers_.empty()) {
        auto until = std::chrono::duration_cast<std::chrono::milliseconds>(outer_timers_.begin()->first - now).count();
        until = until < 0 ? 0 : until;
        if (wait < 0 || until < wait) wait = until;
      }
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, wait < 0 ? -1 : static_cast<int>(wait < INT_MAX ? wait : INT_MAX)) < 0 && errno != EINTR) {
        host_.log(LogLevel::error, "asyncapp: poll failed");
        return Status::io_error;
      }
      // The outer loop's own work, between the worker's turns.
      while (!outer_timers_.empty() && outer_timers_.begin()->first <= std::chrono::steady_clock::now()) {
        Held* h = outer_timers_.begin()->second;
        outer_timers_.erase(outer_timers_.begin());
        on_timer(h);
      }
    }
  }

  Status on_request(Stream stream, int) noexcept override {
    std::string_view path = stream.request().path;
    if (path == "/finish_only") {
      const bool refused = stream.finish() == Status::invalid_argument;
      host_.logf(LogLevel::info, "asyncapp: finish before start %s", refused ? "refused" : "accepted");
      stream.done();
      return Status::ok;
    }
    if (path == "/count") {
      char text[32];
      int n = std::snprintf(text, sizeof text, "%zu", held_.size());
      reply(stream, std::string_view(text, static_cast<std::size_t>(n)));
      stream.done();
      return Status::ok;
    }
    auto* h = new (std::nothrow) Held{Kind::delay, stream};
    if (!h) return Status::internal_error;
    h->app = this;
    held_[stream.raw()] = h;
    if (path.starts_with("/delay/")) {
      h->n = std::atol(std::string(path.substr(7)).c_str());
      if (drives_loop_)
        outer_timers_.emplace(std::chrono::steady_clock::now() + std::chrono::milliseconds(h->n), h);
      else
        host_.timer_start(static_cast<std::uint64_t>(h->n), &AsyncApp::on_timer, h);
    } else if (path.starts_with("/thread/")) {
      h->kind = Kind::thread;
      h->n = std::atol(std::string(path.substr(8)).c_str());
      // Completed from a thread that is not the loop's.
      std::thread([h] {
        std::this_thread::sleep_for(std::chrono::milliseconds(h->n));
        h->app->finish_from_thread(h);
      }).detach();
    } else if (path == "/echo") {
      h->kind = Kind::echo;
      const Field head[] = {{"Content-Type", "application/octet-stream"}};
      stream.start("200 OK", head);
    } else if (path == "/stall") {
      h->kind = Kind::stall;
    } else if (path == "/hold") {
      h->kind = Kind::hold;
    } else if (path == "/upgrade") {
      if (stream.request().upgrade != "echo") {
        held_.erase(stream.raw());
        delete h;
        const Field head[] = {{"Content-Length", "0"}};
        if (stream.start("426 Upgrade Required", head) == Status::ok) stream.finish();
        stream.done();
        return Status::ok;
      }
      h->kind = Kind::upgraded;
      const Field head[] = {{"Upgrade", "echo"}, {"Connection", "Upgrade"}};
      if (stream.start("101 Switching Protocols", head) != Status::ok || stream.upgrade() != Status::ok) {
        host_.log(LogLevel::error, "asyncapp: the upgrade was refused");
        stream.abort();
        finish(h);
      }
    } else if (path.starts_with("/big/")) {
      h->kind = Kind::big;
      h->n = std::atol(std::string(path.substr(5)).c_str());
      std::string length = std::to_string(h->n);
      const Field head[] = {{"Content-Type", "text/plain"}, {"Content-Length", length}};
      stream.start("200 OK", head);
      pump(h);
    } else {
      held_.erase(stream.raw());
      delete h;
      reply(stream, "async hello");
      stream.done();
    }
    return Status::ok;
  }

  void on_event(Stream stream, const Event& e) noexcept override {
    auto it = held_.find(stream.raw());
    if (it == held_.end()) return;
    Held* h = it->second;
    switch (e.type) {
      case Event::Type::body:
        if (h->kind == Kind::echo) {
          // Consumed once written: a client that does not read what is
          // echoed stops its own upload (the core's flow control).
          Status st = stream.write(e.data);
          stream.consume(e.data.size());
          if (st == Status::closed) finish(h);
        }
        break;
      case Event::Type::body_end:
        if (h->kind == Kind::echo) {
          stream.finish();
          finish(h);
        }
        break;
      case Event::Type::writable:
        if (h->kind == Kind::big) pump(h);
        break;
      case Event::Type::disconnect:
        host_.logf(LogLevel::info, "asyncapp: disconnect on %s",
                   h->kind == Kind::hold ? "/hold" : h->kind == Kind::stall ? "/stall" : "a request");
        // A timer or a thread still holds a delayed one: it finishes it.
        if (h->kind != Kind::delay && h->kind != Kind::thread) finish(h);
        break;
      case Event::Type::drain:
        if (h->kind == Kind::stall) {
          reply(stream, "drained");
          finish(h);
        }
        break;
      case Event::Type::message:
        if (h->kind != Kind::upgraded) break;
        if (e.data == "bye") {
          stream.send_message(TRELLIS_MESSAGE_CLOSE, "bye");
          finish(h);
        } else if (stream.send_message(e.message_flags, e.data) != Status::ok) {
          stream.abort();
          finish(h);
        }
        break;
    }
  }

  void on_drain() noexcept override { host_.log(LogLevel::info, "asyncapp: the worker drains"); }

 private:
  static void reply(Stream s, std::string_view body) {
    std::string length = std::to_string(body.size());
    const Field head[] = {{"Content-Type", "text/plain"}, {"Content-Length", length}};
    if (s.start("200 OK", head) != Status::ok) return;
    s.write(body, true);
    s.finish();
  }

  static void on_timer(void* arg) {
    auto* h = static_cast<Held*>(arg);
    if (!h->stream.gone()) reply(h->stream, "delayed " + std::to_string(h->n));
    h->app->finish(h);
  }

  void finish_from_thread(Held* h) {
    // Any thread may answer; the map is the loop's, so the bookkeeping
    // goes back there.
    if (!h->stream.gone()) reply(h->stream, "from a thread after " + std::to_string(h->n));
    host_.post([](void* arg) {
      auto* held = static_cast<Held*>(arg);
      held->app->finish(held);
    }, h);
  }

  void pump(Held* h) {
    static const std::string piece(64 * 1024, 'x');
    while (h->n > 0) {
      std::size_t n = static_cast<std::size_t>(h->n) < piece.size() ? static_cast<std::size_t>(h->n) : piece.size();
      h->n -= static_cast<long>(n);
      Status st = h->stream.write(std::string_view(piece.data(), n), h->n == 0);
      if (st == Status::again) return;  // WRITABLE comes when it drained
      if (st != Status::ok) {
        finish(h);
        return;
      }
    }
    h->stream.finish();
    finish(h);
  }

  void finish(Held* h) {
    if (held_.erase(h->stream.raw()) == 0) return;
    h->stream.done();
    delete h;
  }

  Host host_;
  const bool drives_loop_;
  std::multimap<std::chrono::steady_clock::time_point, Held*> outer_timers_;  // run_loop's own timers
  std::unordered_map<trellis_stream*, Held*> held_;  // loop thread only
};

}  // namespace

TRELLIS_PLUGIN("asyncapp", TRELLIS_KIND_RUNTIME, "0.1", "asynchronous C++ test runtime", TRELLIS_NO_OPTIONS,
               [](Host& host) -> trellis::sdk::Plugin* { return new AsyncApp(host); })
