// Builds the PEP 3333 environ dict for one request. Keys are interned once;
// the constant part is a template dict copied per request.
#pragma once

#include "py.hpp"

#include <trellis/request.hpp>

#include "settings.hpp"

namespace trellis::python::environ {

// Once per process, GIL held, after the types exist.
bool init(const Settings& settings) noexcept;

// A new dict, or nullptr with a Python exception set.
PyObject* build(const sdk::Request& request, PyObject* input, PyObject* errors) noexcept;

}  // namespace trellis::python::environ
