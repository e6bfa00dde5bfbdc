// The core's side of sdk::Host. One CoreHost per plugin, so every line a
// plugin logs carries its name; they share one HostContext.
#pragma once

#include <trellis/host.hpp>

#include <functional>
#include <set>
#include <span>
#include <string>

namespace trellis::core {

struct HostContext {
  // Option lookup, bound to the final configuration once it is resolved.
  std::function<std::span<const std::string>(std::string_view)> option_values;
  sdk::WorkerIdentity identity;
  bool forked = false;  // shared memory can only be handed out before this
  std::set<std::uint8_t> runtime_modifiers;
};

class CoreHost final : public sdk::Host {
 public:
  CoreHost(HostContext& context, std::string plugin_name)
      : context_(context), prefix_("[" + plugin_name + "] ") {}

  void log(sdk::LogLevel level, std::string_view message) noexcept override;
  std::span<const std::string> option_values(std::string_view name) const noexcept override;
  void* shared_memory(std::size_t bytes) noexcept override;
  sdk::WorkerIdentity worker() const noexcept override { return context_.identity; }
  bool runtime_available(std::uint8_t modifier1) const noexcept override {
    return context_.runtime_modifiers.count(modifier1) != 0;
  }

 private:
  HostContext& context_;
  std::string prefix_;
};

// MAP_SHARED anonymous memory, zeroed; nullptr on failure.
void* allocate_shared(std::size_t bytes) noexcept;

}  // namespace trellis::core
