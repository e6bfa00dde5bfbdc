// One worker's ASGI state and the per-request object: the scope, the
// receive and send callables (C functions, no Python closures), and the
// events from the core. Everything here runs on the worker's loop thread
// with the GIL held (the loop thread is the Python thread running asyncio).
#pragma once

#include "py.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <unordered_map>

#include <trellis/abi.h>
#include <trellis/host.hpp>

namespace trellis::asgi {

struct Request;

struct WorkerState {
  sdk::Host host;
  const trellis_host_api* api = nullptr;
  PyObject* app = nullptr;            // borrowed from the plugin
  PyObject* loop = nullptr;           // the asyncio loop
  PyObject* create_future = nullptr;  // loop.create_future
  PyObject* create_task = nullptr;    // loop.create_task
  PyObject* run = nullptr;            // bootstrap's run(app, scope, receive, send, req)
  PyObject* lifespan_state = nullptr; // the lifespan "state" dict, or nullptr: no lifespan
  PyObject* disconnected_error = nullptr;  // trellis.asgi.ClientDisconnected (an OSError)
  std::size_t max_concurrency = 0;
  std::size_t in_app = 0;             // requests whose application runs
  std::deque<Request*> waiting;       // over max_concurrency, in order (owned refs)
  std::unordered_map<trellis_stream*, Request*> by_stream;  // owned refs
};

extern WorkerState* g_worker;

// Types, interned keys and constant objects; GIL held, once per process.
bool init_request_types() noexcept;

// The core's callbacks (loop thread, GIL held).
trellis_status request_open(trellis_stream* stream) noexcept;
void request_event(trellis_stream* stream, std::uint32_t type, const char* data, std::size_t len) noexcept;

// bootstrap's run() reports the application's end: exc is None or the
// exception it raised.
PyObject* app_done(PyObject* module, PyObject* const* args, Py_ssize_t nargs);

}  // namespace trellis::asgi
