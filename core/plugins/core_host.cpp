#include "plugins/core_host.hpp"

#include <sys/mman.h>

#include <spdlog/spdlog.h>

namespace trellis::core {

void CoreHost::log(sdk::LogLevel level, std::string_view message) noexcept {
  try {
    auto lvl = static_cast<spdlog::level::level_enum>(static_cast<int>(level));
    // Multi-line messages (tracebacks) stay readable: one log line each.
    size_t start = 0;
    while (start <= message.size()) {
      size_t end = message.find('\n', start);
      if (end == std::string_view::npos) end = message.size();
      if (end > start || start == 0)
        spdlog::log(lvl, "{}{}", prefix_, message.substr(start, end - start));
      start = end + 1;
    }
  } catch (...) {
    // Logging must never take a plugin down.
  }
}

std::span<const std::string> CoreHost::option_values(std::string_view name) const noexcept {
  try {
    if (context_.option_values) return context_.option_values(name);
  } catch (...) {
  }
  return {};
}

void* CoreHost::shared_memory(std::size_t bytes) noexcept {
  if (context_.forked) {
    log(sdk::LogLevel::error, "shared_memory() called after fork: it must be allocated before workers start");
    return nullptr;
  }
  return allocate_shared(bytes);
}

void* allocate_shared(std::size_t bytes) noexcept {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

}  // namespace trellis::core
