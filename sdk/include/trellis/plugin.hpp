// What every plugin implements, and the one macro that exports it.
//
//   class MyPlugin final : public trellis::sdk::Plugin { ... };
//   static const trellis_option_spec kOptions[] = {...};
//   TRELLIS_PLUGIN("myname", TRELLIS_KIND_GENERAL, "1.0", "does X", kOptions,
//                  [](trellis::sdk::Host& host) -> trellis::sdk::Plugin* {
//                    return new MyPlugin(host);
//                  })
#pragma once

#include <boost/dll/alias.hpp>
#include <cstddef>
#include <string_view>

#include "trellis/abi.h"
#include "trellis/host.hpp"
#include "trellis/lock_engine.hpp"
#include "trellis/protocol.hpp"
#include "trellis/runtime.hpp"
#include "trellis/status.hpp"

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

namespace detail {
template <std::size_t N>
constexpr std::size_t option_count(const trellis_option_spec (&)[N]) noexcept { return N; }
constexpr std::size_t option_count(std::nullptr_t) noexcept { return 0; }

template <typename Factory>
void* create_plugin(void* host, Factory factory) noexcept {
  try {
    return static_cast<Plugin*>(factory(*static_cast<Host*>(host)));
  } catch (...) {
    // No exception may cross the boundary: report and fail as a value.
    static_cast<Host*>(host)->log(LogLevel::error, "plugin constructor threw an exception");
    return nullptr;
  }
}
}  // namespace detail

}  // namespace trellis::sdk

#define TRELLIS_PLUGIN(NAME, KIND, VERSION, SUMMARY, OPTIONS, FACTORY)                 \
  namespace trellis_plugin_export {                                                    \
  static void* trellis_create(void* trellis_host_ptr) {                                            \
    return ::trellis::sdk::detail::create_plugin(trellis_host_ptr, FACTORY);                     \
  }                                                                                    \
  static const trellis_plugin_descriptor trellis_descriptor = {                        \
      TRELLIS_DESCRIPTOR_MAGIC,                                                        \
      TRELLIS_ABI_MAJOR,                                                               \
      TRELLIS_ABI_MINOR,                                                               \
      sizeof(trellis_plugin_descriptor),                                               \
      TRELLIS_TOOLCHAIN_FINGERPRINT,                                                   \
      NAME,                                                                            \
      VERSION,                                                                         \
      KIND,                                                                            \
      SUMMARY,                                                                         \
      (OPTIONS),                                                                       \
      ::trellis::sdk::detail::option_count(OPTIONS),                                   \
      &trellis_create,                                                                 \
  };                                                                                   \
  const trellis_plugin_descriptor* trellis_entry() noexcept { return &trellis_descriptor; } \
  }                                                                                    \
  BOOST_DLL_ALIAS(trellis_plugin_export::trellis_entry, trellis_plugin_entry)

// For a plugin without options of its own.
#define TRELLIS_NO_OPTIONS nullptr
