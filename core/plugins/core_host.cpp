#include "plugins/core_host.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

namespace trellis::core {

void CoreHost::log(int level, std::string_view message) noexcept {
  try {
    auto lvl = static_cast<spdlog::level::level_enum>(std::clamp(level, 0, 5));
    // Multi-line messages (tracebacks) stay readable: one log line each.
    size_t start = 0;
    while (start <= message.size()) {
      size_t end = message.find('\n', start);
      if (end == std::string_view::npos) end = message.size();
      if (end > start || start == 0) spdlog::log(lvl, "{}{}", prefix_, message.substr(start, end - start));
      start = end + 1;
    }
  } catch (...) {
    // Logging must never take a plugin down.
  }
}

std::size_t CoreHost::option_values(std::string_view name, trellis_str* out, std::size_t max) const noexcept {
  try {
    if (!context_.option_values) return 0;
    std::span<const std::string> values = context_.option_values(name);
    for (std::size_t i = 0; i < values.size() && i < max; ++i) out[i] = {values[i].data(), values[i].size()};
    return values.size();
  } catch (...) {
    return 0;
  }
}

void* CoreHost::shared_memory(std::size_t bytes) noexcept {
  if (context_.forked) {
    log(TRELLIS_LOG_ERROR, "shared_memory() called after fork: it must be allocated before workers start");
    return nullptr;
  }
  return allocate_shared(bytes);
}

void CoreHost::worker(trellis_worker_identity* out) const noexcept {
  trellis_worker_identity w{};
  w.size = sizeof w;
  w.id = context_.identity.id;
  w.pid = static_cast<std::int32_t>(::getpid());  // the caller's process: master, loader or worker
  w.threads = context_.identity.threads;
  w.processes = context_.identity.processes;
  w.generation = context_.identity.generation;
  // Only as much as the plugin's struct holds.
  std::uint32_t room = out->size;
  std::memcpy(out, &w, std::min<std::size_t>(room, sizeof w));
  out->size = room;
}

bool CoreHost::runtime_available(std::string_view name) const noexcept {
  if (name.empty()) return !context_.runtime_names.empty();
  return context_.runtime_names.find(name) != context_.runtime_names.end();
}

void* allocate_shared(std::size_t bytes) noexcept {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

}  // namespace trellis::core
