// An application runtime (python's WSGI host is one).
#pragma once

#include <cstdint>

#include "trellis/host.hpp"
#include "trellis/request.hpp"
#include "trellis/response.hpp"
#include "trellis/status.hpp"

namespace trellis::sdk {

class Runtime {
 public:
  // uwsgi packets carry modifier1 to choose a runtime; WSGI is 0.
  virtual std::uint8_t modifier1() const noexcept { return 0; }

  // Imports the application. Called in the process that will serve it (each
  // worker with lazy apps) or in the loader process that forks workers
  // (preload). Never in the master. On failure the runtime logs why
  // (traceback included) and returns app_error.
  virtual Status load_application() noexcept = 0;

  // Around each application thread's life in a worker.
  virtual Status thread_start() noexcept { return Status::ok; }
  virtual void thread_stop() noexcept {}

  // Serves one complete request. Called concurrently from `threads`
  // application threads. Returns app_error when the application raised, so
  // the core can count exceptions; the response has been dealt with either
  // way (a 500, or an aborted connection).
  virtual Status handle(Request& request, ResponseWriter& response) noexcept = 0;

 protected:
  ~Runtime() = default;
};

}  // namespace trellis::sdk
