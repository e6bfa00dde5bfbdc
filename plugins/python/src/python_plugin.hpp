// The "python" plugin: a WSGI (PEP 3333) runtime.
#pragma once

#include "py.hpp"

#include <trellis/plugin.hpp>

#include "settings.hpp"

namespace trellis::python {

class PythonPlugin final : public sdk::Plugin, public sdk::Runtime {
 public:
  explicit PythonPlugin(sdk::Host& host);

  // Plugin
  sdk::Status on_config() noexcept override;
  sdk::Status before_fork() noexcept override;
  sdk::Status after_fork_parent() noexcept override;
  sdk::Status after_fork_child(const sdk::WorkerIdentity& self) noexcept override;
  void worker_shutdown() noexcept override;
  sdk::Runtime* runtime() noexcept override { return this; }

  // Runtime
  sdk::Status load_application() noexcept override;
  sdk::Status thread_start() noexcept override;
  void thread_stop() noexcept override;
  sdk::Status handle(sdk::Request& request, sdk::ResponseWriter& response) noexcept override;

 private:
  bool prepare_python() noexcept;  // types and environ keys, GIL held

  sdk::Host& host_;
  Settings settings_;
  PyObject* app_ = nullptr;  // the WSGI callable, owned
};

}  // namespace trellis::python
