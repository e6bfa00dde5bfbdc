// Runs the WSGI application for one request and turns what it returns into
// ResponseWriter calls: the body iterable (or file_wrapper -> sendfile), the
// iterable's close(), and a 500 or an abort when anything goes wrong.
#pragma once

#include "py.hpp"

#include <trellis/host.hpp>
#include <trellis/request.hpp>
#include <trellis/response.hpp>

#include "thread_objects.hpp"

namespace trellis::python {

// GIL held on entry and exit (released around every blocking call).
// Returns app_error when the application failed, the writer's status when
// the client went away, ok otherwise. serve() itself allocates nothing with
// C++ (what it calls turns a failed allocation into a MemoryError); should
// an exception escape anyway, `objects` are recycled on the way out and the
// caller's host_guard() answers (exception_boundary.hpp).
sdk::Status serve(PyObject* app, ThreadObjects& objects, sdk::Host& host, sdk::Request& request,
                  sdk::ResponseWriter& response);

// A complete "500 Internal Server Error" if no header went out yet, else
// abort(). Does not need the GIL.
void fail_response(sdk::ResponseWriter& response) noexcept;

}  // namespace trellis::python
