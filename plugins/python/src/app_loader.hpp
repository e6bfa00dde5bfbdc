// Finds the WSGI callable: runs --wsgi-file as a module of its own, or
// imports --module, then looks up the callable. Caller holds the GIL.
#pragma once

#include "py.hpp"

#include <trellis/host.hpp>

#include "settings.hpp"

namespace trellis::python {

// A new reference to the application, or nullptr after logging why (with
// the traceback).
PyObject* load_app(const Settings& settings, sdk::Host& host) noexcept;

}  // namespace trellis::python
