// wsgi.file_wrapper: wraps a file-like object so the server can send it
// with sendfile() when it is a real file, or read it in blocks otherwise.
#pragma once

#include "py.hpp"

namespace trellis::python::file_wrapper {

bool init_type() noexcept;  // once, GIL held
PyObject* type() noexcept;   // borrowed: the callable put in environ

bool check(PyObject* obj) noexcept;
PyObject* filelike(PyObject* wrapper) noexcept;  // borrowed

}  // namespace trellis::python::file_wrapper
