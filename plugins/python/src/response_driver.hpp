// Runs the WSGI application for one request and turns what it returns into
// calls on its sdk::Stream: the body iterable (or file_wrapper -> a file
// chunk the core sends with sendfile), the iterable's close(), and a 500 or
// an abort when anything goes wrong.
#pragma once

#include "py.hpp"

#include <trellis/host.hpp>
#include <trellis/stream.hpp>

#include "thread_objects.hpp"

namespace trellis::python {

// GIL held on entry and exit (released around every blocking call).
// Returns app_error when the application failed, ok otherwise: a client
// that went away or a body that could not be read is logged and answered
// (or aborted), not counted as the application's error (the core learns of
// those itself); internal_error when the thread's Python objects could not
// be made. serve() itself allocates nothing with C++ (what it calls turns a
// failed allocation into a MemoryError); should an exception escape anyway,
// `objects` are recycled on the way out and the caller's host_guard()
// answers (exception_boundary.hpp).
sdk::Status serve(PyObject* app, ThreadObjects& objects, sdk::Host& host, sdk::Stream stream);

// A complete "500 Internal Server Error" if the head did not go out yet,
// else abort(). Does not need the GIL.
void fail_response(sdk::Stream stream) noexcept;

}  // namespace trellis::python
