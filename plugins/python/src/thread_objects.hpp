// The Python objects one application thread reuses request after request
// (wsgi.input, wsgi.errors, start_response) and its ResponseState. An
// object the application kept a reference to is replaced, never reused.
#pragma once

#include "py.hpp"

#include <trellis/host.hpp>

#include "response_state.hpp"

namespace trellis::python {

struct ThreadObjects {
  sdk::Host* host = nullptr;  // whose log wsgi.errors writes to
  PyObject* input = nullptr;
  PyObject* errors = nullptr;
  PyObject* start_response = nullptr;
  ResponseState state;
};

// Creates what is missing; false with a Python exception set. GIL held.
bool prepare(ThreadObjects& objects, sdk::Host& host) noexcept;
// End of request: detach everything and drop objects the application kept.
void recycle(ThreadObjects& objects) noexcept;
// The thread is ending. GIL held.
void clear(ThreadObjects& objects) noexcept;

}  // namespace trellis::python
