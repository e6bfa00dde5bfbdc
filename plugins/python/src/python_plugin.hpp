// The "python" plugin: a WSGI (PEP 3333) runtime.
#pragma once

#include "py.hpp"

#include <trellis/plugin.hpp>

#include "settings.hpp"

namespace trellis::python {

// A blocking runtime (Runtime::blocking() keeps its default, true): a WSGI
// application reads its body and writes its response synchronously, so each
// request holds an application thread until it is done.
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
  sdk::Status thread_start(int thread) noexcept override;
  void thread_stop(int thread) noexcept override;
  sdk::Status on_request(sdk::Stream stream, int thread) noexcept override;

 private:
  bool prepare_python() noexcept;  // types and environ keys, GIL held

  // A copy: the handle the factory is given is shared by every instance
  // the export macro creates, each with its own core.
  sdk::Host host_;
  Settings settings_;
  PyObject* app_ = nullptr;  // the WSGI callable, owned
};

}  // namespace trellis::python
