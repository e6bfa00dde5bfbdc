// Finds the application callable: runs --wsgi-file (--asgi-file) as a module of its own, or
// imports --module, then looks up the callable. Caller holds the GIL.
#pragma once

#include "py.hpp"

#include <trellis/host.hpp>

#include "app_settings.hpp"

namespace trellis::python {

// A new reference to the application, or nullptr after logging why (with
// the traceback). Builds paths and messages with std::string, so it may
// throw std::bad_alloc: the caller runs it inside host_guard().
PyObject* load_app(const AppSettings& settings, sdk::Host& host);

}  // namespace trellis::python
