// start_response(status, headers, exc_info=None) and the write(data)
// callable it returns (PEP 3333). One pair per application thread, attached
// to the thread's ResponseState for the length of a request.
#pragma once

#include "py.hpp"

#include "response_state.hpp"

namespace trellis::python::start_response {

bool init_types() noexcept;  // once, GIL held
PyObject* create() noexcept;  // new reference, detached

void attach(PyObject* start_response, ResponseState* state) noexcept;
// After the request: calls from an application that kept a reference raise.
void detach(PyObject* start_response) noexcept;
// Whether the application kept a reference to it or to its write().
bool escaped(PyObject* start_response) noexcept;

}  // namespace trellis::python::start_response
