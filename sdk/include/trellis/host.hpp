// Services the core offers to plugins. Every call is noexcept.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "trellis/status.hpp"

namespace trellis::sdk {

enum class LogLevel : int { trace = 0, debug, info, warn, error, critical };

// Who is running this code. In the master (and in a loader process) id is 0.
struct WorkerIdentity {
  int id = 0;               // 1..N, stable across respawns of a slot
  std::uint64_t generation = 0;  // reload generation that forked it
  int pid = 0;
  int threads = 1;          // application threads in this worker
  int processes = 1;        // configured worker count
};

class Host {
 public:
  // Logging goes through the core's single spdlog registry.
  virtual void log(LogLevel level, std::string_view message) noexcept = 0;

  // Option values, as text, in the order given (command line wins over ini
  // and environment for single-valued options). Empty span: not set and no
  // default. Names are the option's primary long name.
  virtual std::span<const std::string> option_values(std::string_view name) const noexcept = 0;

  // Memory shared by every process forked afterwards. Only valid before the
  // first fork (in on_config or before_fork); returns nullptr otherwise.
  virtual void* shared_memory(std::size_t bytes) noexcept = 0;

  virtual WorkerIdentity worker() const noexcept = 0;

  // Whether a loaded runtime serves uwsgi modifier1 `modifier1`, so a
  // protocol can refuse a request nobody could answer.
  virtual bool runtime_available(std::uint8_t modifier1) const noexcept = 0;

  // Convenience on top of option_values(); inline so they add no ABI.
  std::optional<std::string_view> option(std::string_view name) const noexcept {
    auto v = option_values(name);
    if (v.empty()) return std::nullopt;
    return std::string_view(v.back());
  }
  bool flag(std::string_view name) const noexcept {
    auto v = option(name);
    return v && (*v == "true" || *v == "1" || *v == "yes" || *v == "on");
  }
  long long integer(std::string_view name, long long fallback) const noexcept {
    auto v = option(name);
    if (!v || v->empty()) return fallback;
    std::string s(*v);
    char* end = nullptr;
    long long n = std::strtoll(s.c_str(), &end, 10);
    return (end && *end == '\0') ? n : fallback;
  }

  template <typename... Args>
  void logf(LogLevel level, const char* fmt, Args&&... args) noexcept {
    char buf[2048];
    int n = std::snprintf(buf, sizeof buf, fmt, std::forward<Args>(args)...);
    if (n < 0) return;
    log(level, std::string_view(buf, static_cast<std::size_t>(n) < sizeof buf ? static_cast<std::size_t>(n) : sizeof buf - 1));
  }

 protected:
  ~Host() = default;
};

}  // namespace trellis::sdk
