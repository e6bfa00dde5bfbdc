// What the core offers a plugin: logging, options, shared memory, and in a
// worker the event loop's services (post, timers, fd watches). A Host is a
// small handle over the C table (abi.h); copying it is free. Every call is
// noexcept.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "trellis/abi.h"
#include "trellis/status.hpp"
#include "trellis/strings.hpp"

namespace trellis::sdk {

enum class LogLevel : int {
  trace = TRELLIS_LOG_TRACE,
  debug = TRELLIS_LOG_DEBUG,
  info = TRELLIS_LOG_INFO,
  warn = TRELLIS_LOG_WARN,
  error = TRELLIS_LOG_ERROR,
  critical = TRELLIS_LOG_CRITICAL
};

// Who is running this code. In the master (and a loader process) id is 0.
struct WorkerIdentity {
  int id = 0;                    // 1..N, stable across respawns of a slot
  std::uint64_t generation = 0;  // reload generation that forked it
  int pid = 0;
  int threads = 1;    // application threads in this worker
  int processes = 1;  // configured worker count
};

// Epoll-style interest for Host::watch_fd.
enum Watch : std::uint32_t {
  watch_read = TRELLIS_WATCH_READ,
  watch_write = TRELLIS_WATCH_WRITE,
  watch_error = TRELLIS_WATCH_ERROR,
  watch_hangup = TRELLIS_WATCH_HANGUP
};

class Host {
 public:
  Host() noexcept = default;
  Host(const trellis_host_api* api, trellis_host* host) noexcept : api_(api), host_(host) {}

  // Any thread. Through the core's one logger ("[plugin] message").
  void log(LogLevel level, std::string_view message) const noexcept {
    api_->log(host_, static_cast<std::int32_t>(level), to_c(message));
  }
  template <typename... Args>
  void logf(LogLevel level, const char* fmt, Args&&... args) const noexcept {
    char buf[2048];
    int n = std::snprintf(buf, sizeof buf, fmt, std::forward<Args>(args)...);
    if (n < 0) return;
    log(level, std::string_view(buf, static_cast<std::size_t>(n) < sizeof buf ? static_cast<std::size_t>(n) : sizeof buf - 1));
  }

  // The values of an option (its primary long name), in order; for a
  // single-valued option the winning one is last. The strings live as long
  // as the process. Empty when unset and without default (or out of memory).
  std::vector<std::string_view> option_values(std::string_view name) const noexcept {
    std::vector<std::string_view> out;
    trellis_str buf[16];
    std::size_t n = api_->option_values(host_, to_c(name), buf, 16);
    try {
      if (n <= 16) {
        for (std::size_t i = 0; i < n; ++i) out.push_back(from_c(buf[i]));
        return out;
      }
      std::vector<trellis_str> all(n);
      n = api_->option_values(host_, to_c(name), all.data(), all.size());
      for (std::size_t i = 0; i < n && i < all.size(); ++i) out.push_back(from_c(all[i]));
    } catch (...) {
      out.clear();
    }
    return out;
  }
  std::optional<std::string_view> option(std::string_view name) const noexcept {
    trellis_str buf[16];
    std::size_t n = api_->option_values(host_, to_c(name), buf, 16);
    if (n == 0) return std::nullopt;
    if (n <= 16) return from_c(buf[n - 1]);
    auto all = option_values(name);
    if (all.empty()) return std::nullopt;
    return all.back();
  }
  bool flag(std::string_view name) const noexcept {
    auto v = option(name);
    return v && (*v == "true" || *v == "1" || *v == "yes" || *v == "on");
  }
  long long integer(std::string_view name, long long fallback) const noexcept {
    auto v = option(name);
    if (!v || v->empty() || v->size() > 30) return fallback;
    char s[32];
    v->copy(s, v->size());
    s[v->size()] = '\0';
    char* end = nullptr;
    long long n = std::strtoll(s, &end, 10);
    return (end && *end == '\0') ? n : fallback;
  }

  // Memory shared by every process forked afterwards; only before the first
  // fork (on_config, before_fork), nullptr otherwise.
  void* shared_memory(std::size_t bytes) const noexcept { return api_->shared_memory(host_, bytes); }

  WorkerIdentity worker() const noexcept {
    trellis_worker_identity w{};
    w.size = sizeof w;
    api_->worker(host_, &w);
    return {w.id, w.generation, w.pid, w.threads, w.processes};
  }

  // Whether a loaded runtime answers to `name` (empty: the default one).
  bool runtime_available(std::string_view name) const noexcept { return api_->runtime_available(host_, to_c(name)) != 0; }

  // -- The worker's event loop (in a worker) --------------------------------
  // Any thread: runs fn(arg) on the loop thread soon. Calls from other
  // threads are batched behind one wake-up.
  Status post(void (*fn)(void*), void* arg) const noexcept { return from_c(api_->post(host_, fn, arg)); }
  // Loop thread: fn(arg) once, after `ms` (at most ~10 ms late).
  trellis_timer* timer_start(std::uint64_t ms, void (*fn)(void*), void* arg) const noexcept {
    return api_->timer_start(host_, ms, fn, arg);
  }
  void timer_cancel(trellis_timer* timer) const noexcept { api_->timer_cancel(host_, timer); }
  // Loop thread: fn(arg, ready) whenever `fd` is ready for `events`.
  trellis_watch* watch_fd(int fd, std::uint32_t events, void (*fn)(void*, std::uint32_t), void* arg) const noexcept {
    return api_->watch_fd(host_, fd, events, fn, arg);
  }
  Status watch_modify(trellis_watch* w, std::uint32_t events) const noexcept {
    return from_c(api_->watch_modify(host_, w, events));
  }
  void watch_close(trellis_watch* w) const noexcept { api_->watch_close(host_, w); }
  std::uint64_t now_ms() const noexcept { return api_->now_ms(host_); }
  bool on_loop_thread() const noexcept { return api_->on_loop_thread(host_) != 0; }

  // -- For a runtime that drives the loop (Runtime::drives_loop) ------------
  // Loop thread: polls readable while the loop has work; -1 outside a worker.
  int loop_fd() const noexcept { return api_->loop_fd(host_); }
  // Loop thread, inside Runtime::run_loop: one turn that does not wait. The
  // milliseconds until it wants another turn (0: at once, -1: nothing due),
  // or loop_done: return from run_loop.
  static constexpr std::int64_t loop_done = TRELLIS_LOOP_DONE;
  std::int64_t loop_turn() const noexcept { return api_->loop_turn(host_); }

  const trellis_host_api* api() const noexcept { return api_; }
  trellis_host* raw() const noexcept { return host_; }

 private:
  const trellis_host_api* api_ = nullptr;
  trellis_host* host_ = nullptr;
};

}  // namespace trellis::sdk
