// PyMethodDef wants a PyCFunction; METH_FASTCALL and METH_VARARGS|KEYWORDS
// functions have other signatures. Going through void(*)() is the
// documented way to store them without -Wcast-function-type noise.
#pragma once

#include "py.hpp"

namespace trellis::python {

template <typename F>
PyCFunction as_method(F* f) noexcept {
  return reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(f));
}

// Reads an optional size argument: missing or None -> -1.
inline bool optional_size(PyObject* const* args, Py_ssize_t nargs, const char* fname, Py_ssize_t& out) noexcept {
  out = -1;
  if (nargs > 1) {
    PyErr_Format(PyExc_TypeError, "%s() takes at most 1 argument (%zd given)", fname, nargs);
    return false;
  }
  if (nargs == 1 && args[0] != Py_None) {
    out = PyNumber_AsSsize_t(args[0], PyExc_OverflowError);
    if (out == -1 && PyErr_Occurred()) return false;
  }
  return true;
}

}  // namespace trellis::python
