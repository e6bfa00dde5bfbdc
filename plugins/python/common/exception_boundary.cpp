#include "exception_boundary.hpp"

#include <exception>
#include <new>

namespace trellis::python {

// `throw;` re-raises the exception being handled without copying it, so
// each handler sees its real type; nothing here allocates.

void raise_current_exception() noexcept {
  try {
    throw;
  } catch (const std::bad_alloc&) {
    PyErr_NoMemory();
  } catch (const std::exception& e) {
    PyErr_Format(PyExc_RuntimeError, "trellis: %s", e.what());
  } catch (...) {
    PyErr_SetString(PyExc_RuntimeError, "trellis: unknown C++ exception");
  }
}

void report_current_exception_unraisable() noexcept {
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  raise_current_exception();
  PyErr_WriteUnraisable(nullptr);
  PyErr_Restore(type, value, tb);
}

void log_current_exception(sdk::Host& host, const char* where) noexcept {
  try {
    throw;
  } catch (const std::bad_alloc&) {
    host.logf(sdk::LogLevel::error, "%s: out of memory", where);
  } catch (const std::exception& e) {
    host.logf(sdk::LogLevel::error, "%s: %s", where, e.what());
  } catch (...) {
    host.logf(sdk::LogLevel::error, "%s: unknown C++ exception", where);
  }
}

}  // namespace trellis::python
