#include "py.hpp"

#include "traceback.hpp"

#include <string>

namespace trellis::python {
namespace {

// "".join(traceback.format_exception(type, value, tb)); empty on failure.
std::string format(PyObject* type, PyObject* value, PyObject* tb) {
  static PyObject* format_exception = nullptr;  // immortal for the process, GIL-protected
  if (!format_exception) {
    Ref mod(PyImport_ImportModule("traceback"));
    if (!mod) return {};
    format_exception = PyObject_GetAttrString(mod.get(), "format_exception");
    if (!format_exception) return {};
  }
  Ref lines(PyObject_CallFunctionObjArgs(format_exception, type, value ? value : Py_None,
                                         tb ? tb : Py_None, nullptr));
  if (!lines) return {};
  Ref empty(PyUnicode_FromString(""));
  if (!empty) return {};
  Ref text(PyUnicode_Join(empty.get(), lines.get()));
  if (!text) return {};
  Py_ssize_t n = 0;
  const char* utf8 = PyUnicode_AsUTF8AndSize(text.get(), &n);
  if (!utf8) return {};
  std::string out(utf8, static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
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
  std::string text = format(type, value, tb);
  if (text.empty()) {
    // Formatting itself failed (out of memory, broken traceback module):
    // fall back to the exception's type name.
    PyErr_Clear();
    text = reinterpret_cast<PyTypeObject*>(type)->tp_name;
  }
  std::string msg(what);
  msg += ":\n";
  msg += text;
  host.log(sdk::LogLevel::error, msg);
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(tb);
}

}  // namespace trellis::python
