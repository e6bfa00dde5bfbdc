// The "asgi" plugin: an ASGI 3.0 runtime. Asynchronous (not
// TRELLIS_RUNTIME_BLOCKING): requests reach it on the worker's loop
// thread, which is the Python thread running the asyncio loop; run_loop
// embeds the worker's loop in that asyncio loop, so the core's callbacks
// (on_request, on_event) come from inside loop_turn with the GIL held.
#pragma once

#include "py.hpp"

#include <trellis/plugin.hpp>

#include "asgi_settings.hpp"

namespace trellis::asgi {

class AsgiPlugin final : public sdk::Plugin, public sdk::Runtime {
 public:
  explicit AsgiPlugin(sdk::Host& host);

  // Plugin
  sdk::Status on_config() noexcept override;
  sdk::Status before_fork() noexcept override;
  sdk::Status after_fork_parent() noexcept override;
  sdk::Status after_fork_child(const sdk::WorkerIdentity& self) noexcept override;
  void worker_shutdown() noexcept override;
  sdk::Runtime* runtime() noexcept override { return this; }

  // Runtime
  bool blocking() const noexcept override { return false; }
  bool drives_loop() const noexcept override { return true; }
  sdk::Status load_application() noexcept override;
  sdk::Status loop_start() noexcept override;
  sdk::Status run_loop() noexcept override;
  sdk::Status on_request(sdk::Stream stream, int thread) noexcept override;
  void on_event(sdk::Stream stream, const sdk::Event& event) noexcept override;
  void on_drain() noexcept override;

 private:
  sdk::Host host_;
  Settings settings_;
  PyObject* app_ = nullptr;  // the ASGI callable, owned
};

}  // namespace trellis::asgi
