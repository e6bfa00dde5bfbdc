// The core's side of a plugin's trellis_host: one CoreHost per plugin, so
// every line a plugin logs carries its name; they share one HostContext.
// The C functions of trellis_host_api (host_api.cpp) land here.
#pragma once

#include <trellis/abi.h>

#include <cstdint>
#include <functional>
#include <set>
#include <span>
#include <string>
#include <string_view>

namespace trellis::core {

struct WorkerIdentityCore {
  int id = 0;                    // 1..N in a worker, 0 in the master and a loader
  std::uint64_t generation = 0;
  int pid = 0;
  int threads = 1;
  int processes = 1;
};

struct HostContext {
  // Option lookup, bound to the final configuration once it is resolved.
  std::function<std::span<const std::string>(std::string_view)> option_values;
  WorkerIdentityCore identity;
  bool forked = false;  // shared memory can only be handed out before this
  std::set<std::string, std::less<>> runtime_names;  // loaded runtimes, by plugin name
};

class CoreHost {
 public:
  CoreHost(HostContext& context, std::string plugin_name)
      : context_(context), prefix_("[" + plugin_name + "] ") {}

  trellis_host* handle() { return reinterpret_cast<trellis_host*>(this); }
  static CoreHost* of(trellis_host* h) { return reinterpret_cast<CoreHost*>(h); }

  void log(int level, std::string_view message) noexcept;
  std::size_t option_values(std::string_view name, trellis_str* out, std::size_t max) const noexcept;
  void* shared_memory(std::size_t bytes) noexcept;
  void worker(trellis_worker_identity* out) const noexcept;
  bool runtime_available(std::string_view name) const noexcept;

 private:
  HostContext& context_;
  std::string prefix_;
};

// The table every plugin receives (its functions live in host_api.cpp).
const trellis_host_api* core_host_api() noexcept;

// MAP_SHARED anonymous memory, zeroed; nullptr on failure.
void* allocate_shared(std::size_t bytes) noexcept;

}  // namespace trellis::core
