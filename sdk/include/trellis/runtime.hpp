// An application runtime (python's WSGI host is one): it receives requests
// as streams and answers them through the Stream.
//
// Two kinds, one interface:
// - blocking (blocking() true, the default): on_request runs on an
//   application thread (or the loop thread with --threads 1), may block,
//   and returns when the request is done. The core receives the whole body
//   first (in memory, spooled to a file past --post-buffering) unless the
//   client waits for a go-ahead, so a slow upload never holds a thread.
// - asynchronous: on_request runs on the loop thread and must not block;
//   the body arrives as events (on_event) with flow control; the runtime
//   completes the stream later, from any thread, and calls Stream::done().
#pragma once

#include "trellis/host.hpp"
#include "trellis/status.hpp"
#include "trellis/stream.hpp"

namespace trellis::sdk {

class Runtime {
 public:
  virtual bool blocking() const noexcept { return true; }

  // Imports the application: in each worker (lazy apps) or in the loader
  // process that forks them (preload). Never in the master. On failure the
  // runtime logs why (traceback included) and returns app_error.
  virtual Status load_application() noexcept = 0;

  // Loop thread, once per worker before it serves.
  virtual Status loop_start() noexcept { return Status::ok; }

  // Around each application thread's life in a worker (blocking runtimes;
  // with --threads 1 the loop thread is thread 0).
  virtual Status thread_start(int thread) noexcept {
    (void)thread;
    return Status::ok;
  }
  virtual void thread_stop(int thread) noexcept { (void)thread; }

  // A request (see the two kinds above). `thread` is the application
  // thread's index (blocking runtimes), 0 otherwise. Blocking runtimes
  // return app_error when the application raised (the response was dealt
  // with either way: a 500, or an abort); asynchronous ones return ok once
  // they took the stream (anything else: the core answers 500).
  virtual Status on_request(Stream stream, int thread) noexcept = 0;

  // Asynchronous runtimes, loop thread: something happened on `stream`.
  virtual void on_event(Stream stream, const Event& event) noexcept {
    (void)stream;
    (void)event;
  }

  // Loop thread: the worker drains; it exits once every stream is done.
  virtual void on_drain() noexcept {}

  // True: this runtime runs the worker's loop inside its own (run_loop).
  virtual bool drives_loop() const noexcept { return false; }

  // Loop thread, after loop_start, when drives_loop(): run the runtime's
  // event loop with the worker's embedded: watch Host::loop_fd(), call
  // Host::loop_turn() when it polls readable and once the delay it returned
  // has passed; return when it returns Host::loop_done. Anything but ok
  // stops the worker (the master starts another).
  virtual Status run_loop() noexcept { return Status::invalid_argument; }

 protected:
  ~Runtime() = default;
};

}  // namespace trellis::sdk
