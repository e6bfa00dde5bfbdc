// What every plugin implements, and the one macro that exports it.
//
//   class MyPlugin final : public trellis::sdk::Plugin { ... };
//   static const trellis_option_spec kOptions[] = {...};
//   TRELLIS_PLUGIN("myname", TRELLIS_KIND_GENERAL, "1.0", "does X", kOptions,
//                  [](trellis::sdk::Host& host) -> trellis::sdk::Plugin* {
//                    return new MyPlugin(host);
//                  })
//
// The classes here are the plugin's own C++: the core never sees them. The
// macro's bridge (detail/bridge.hpp) turns them into the C tables of abi.h,
// so a plugin built with any C++ compiler and standard library loads.
#pragma once

#include <cstddef>
#include <string_view>

#include "trellis/abi.h"
#include "trellis/host.hpp"
#include "trellis/lock_engine.hpp"
#include "trellis/protocol.hpp"
#include "trellis/runtime.hpp"
#include "trellis/status.hpp"
#include "trellis/stream.hpp"

namespace trellis::sdk {

// Lifecycle hooks, in the order the core calls them. Which process runs
// each hook is part of the contract (docs/plugin-abi.md).
class Plugin {
 public:
  // Master, once the configuration is final and before sockets are bound.
  // Validate options here; never run application code.
  virtual Status on_config() noexcept { return Status::ok; }
  // Right before fork(), in the process about to fork (master or loader).
  virtual Status before_fork() noexcept { return Status::ok; }
  // In the process that forked, right after fork() (preload: the loader).
  virtual Status after_fork_parent() noexcept { return Status::ok; }
  // In the new worker, right after fork().
  virtual Status after_fork_child(const WorkerIdentity& self) noexcept {
    (void)self;
    return Status::ok;
  }
  // In a worker about to exit, after its last request.
  virtual void worker_shutdown() noexcept {}

  // The interface matching the descriptor's kind; the others are null.
  virtual Runtime* runtime() noexcept { return nullptr; }
  virtual Protocol* protocol() noexcept { return nullptr; }
  virtual LockEngine* lock_engine(std::string_view engine) noexcept {
    (void)engine;
    return nullptr;
  }

 protected:
  ~Plugin() = default;
};

}  // namespace trellis::sdk

#include "trellis/detail/bridge.hpp"

#define TRELLIS_PLUGIN(NAME, KIND, VERSION, SUMMARY, OPTIONS, FACTORY)                                        \
  namespace trellis_plugin_export {                                                                           \
  static ::trellis::sdk::Host trellis_host_handle;                                                            \
  static trellis_status trellis_create(const trellis_host_api* trellis_api_, trellis_host* trellis_host_,     \
                                       trellis_plugin_instance* trellis_out_) {                               \
    trellis_host_handle = ::trellis::sdk::Host(trellis_api_, trellis_host_);                                  \
    return ::trellis::sdk::detail::create_plugin(trellis_host_handle, trellis_out_, FACTORY);                 \
  }                                                                                                           \
  static const trellis_plugin_descriptor trellis_descriptor = {                                               \
      TRELLIS_DESCRIPTOR_MAGIC,                                                                               \
      sizeof(trellis_plugin_descriptor),                                                                      \
      TRELLIS_ABI_MAJOR,                                                                                      \
      TRELLIS_ABI_MINOR,                                                                                      \
      TRELLIS_TOOLCHAIN_FINGERPRINT,                                                                          \
      NAME,                                                                                                   \
      VERSION,                                                                                                \
      KIND,                                                                                                   \
      SUMMARY,                                                                                                \
      (OPTIONS),                                                                                              \
      ::trellis::sdk::detail::option_count(OPTIONS),                                                          \
      sizeof(trellis_option_spec),                                                                            \
      &trellis_create,                                                                                        \
  };                                                                                                          \
  }                                                                                                           \
  extern "C" __attribute__((visibility("default"))) const trellis_plugin_descriptor* trellis_plugin_entry(void) { \
    return &trellis_plugin_export::trellis_descriptor;                                                        \
  }

// For a plugin without options of its own.
#define TRELLIS_NO_OPTIONS nullptr
