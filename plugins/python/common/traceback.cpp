#include "py.hpp"

#include "traceback.hpp"

#include <cstring>

namespace trellis::python {
namespace {

// "".join(traceback.format_exception(type, value, tb)): a new str, or
// nullptr with a Python error set.
PyObject* format(PyObject* type, PyObject* value, PyObject* tb) {
  static PyObject* format_exception = nullptr;  // immortal for the process, GIL-protected
  if (!format_exception) {
    Ref mod(PyImport_ImportModule("traceback"));
    if (!mod) return nullptr;
    format_exception = PyObject_GetAttrString(mod.get(), "format_exception");
    if (!format_exception) return nullptr;
  }
  Ref lines(PyObject_CallFunctionObjArgs(format_exception, type, value ? value : Py_None,
                                         tb ? tb : Py_None, nullptr));
  if (!lines) return nullptr;
  Ref empty(PyUnicode_FromString(""));
  if (!empty) return nullptr;
  return PyUnicode_Join(empty.get(), lines.get());
}

// "<what>:\n<traceback>" as bytes, built with Python's allocator: this runs
// on error paths of noexcept functions, where a C++ allocation that throws
// would end the process. nullptr with a Python error set on failure.
PyObject* message(std::string_view what, PyObject* text) {
  Py_ssize_t n = 0;
  const char* utf8 = PyUnicode_AsUTF8AndSize(text, &n);
  if (!utf8) return nullptr;
  while (n > 0 && utf8[n - 1] == '\n') --n;
  const auto head = static_cast<Py_ssize_t>(what.size());
  PyObject* msg = PyBytes_FromStringAndSize(nullptr, head + 2 + n);
  if (!msg) return nullptr;
  char* out = PyBytes_AS_STRING(msg);
  std::memcpy(out, what.data(), what.size());
  std::memcpy(out + head, ":\n", 2);
  std::memcpy(out + head + 2, utf8, static_cast<std::size_t>(n));
  return msg;
}

}  // namespace

void log_exception(sdk::Host& host, std::string_view what) noexcept {
  PyObject *type = nullptr, *value = nullptr, *tb = nullptr;
  PyErr_Fetch(&type, &value, &tb);
  if (!type) {
    host.log(sdk::LogLevel::error, what);
    return;
  }
  PyErr_NormalizeException(&type, &value, &tb);
  if (tb && value) PyException_SetTraceback(value, tb);
  Ref text(format(type, value, tb));
  Ref msg(text ? message(what, text.get()) : nullptr);
  if (msg) {
    host.log(sdk::LogLevel::error,
             std::string_view(PyBytes_AS_STRING(msg.get()), static_cast<std::size_t>(PyBytes_GET_SIZE(msg.get()))));
  } else {
    // Formatting itself failed (out of memory, broken traceback module, a
    // message that is not UTF-8): fall back to the exception's type name.
    PyErr_Clear();
    host.logf(sdk::LogLevel::error, "%.*s:\n%s", static_cast<int>(what.size()), what.data(),
              reinterpret_cast<PyTypeObject*>(type)->tp_name);
  }
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(tb);
}

}  // namespace trellis::python
