// Where a C++ exception must stop. CPython cannot unwind one through its C
// frames and every SDK call is noexcept, so an exception escaping either way
// ends in std::terminate: one std::bad_alloc would take the worker down with
// every request in flight.
//
// Two doors, one rule each:
//  - every function CPython calls (PyMethodDef entries, tp_* slots) is
//    registered as py_entry<fn>: an exception becomes a Python exception and
//    the error value the slot type means (nullptr, -1);
//  - every SDK override runs its body through host_guard(): an exception
//    becomes one error record in the host's log and an error result.
// With zero-cost exceptions the try blocks cost nothing until something
// throws, and nothing here allocates (messages go through fixed buffers).
#pragma once

#include "py.hpp"

#include <type_traits>

#include <trellis/host.hpp>
#include <trellis/status.hpp>

namespace trellis::python {

// Only from inside a catch block, GIL held: sets the Python exception for
// the C++ exception being handled. std::bad_alloc is MemoryError, another
// std::exception a RuntimeError carrying its what(), anything else a
// RuntimeError saying so.
void raise_current_exception() noexcept;

// Only from inside a catch block, GIL held: reports the C++ exception being
// handled through sys.unraisablehook, for slots that cannot fail (dealloc).
// An exception that was already set is left as it was.
void report_current_exception_unraisable() noexcept;

// Only from inside a catch block: one error record, "<where>: <what>".
void log_current_exception(sdk::Host& host, const char* where) noexcept;

// Runs f() for CPython (GIL held). A C++ exception comes back as a Python
// exception and the error value of f's result type.
template <typename F>
auto py_guard(F&& f) noexcept -> decltype(f()) {
  using R = decltype(f());
  try {
    return f();
  } catch (...) {
    if constexpr (std::is_void_v<R>) {
      report_current_exception_unraisable();
    } else {
      raise_current_exception();
      if constexpr (std::is_pointer_v<R>) {
        return nullptr;
      } else {
        static_assert(std::is_integral_v<R> && std::is_signed_v<R>, "CPython slots fail with nullptr or -1");
        return R(-1);
      }
    }
  }
}

// py_entry<fn>: a function with fn's signature that runs fn through
// py_guard(). What goes into PyMethodDef and PyType_Slot tables.
template <auto Fn>
struct PyEntry;

template <typename R, typename... Args, R (*Fn)(Args...)>
struct PyEntry<Fn> {
  static R call(Args... args) noexcept {
    return py_guard([&]() -> R { return Fn(args...); });
  }
};

template <auto Fn>
inline constexpr auto py_entry = &PyEntry<Fn>::call;

// Runs the body of a noexcept SDK override. A C++ exception is logged as
// "<where>: <what>" and on_error() gives the result instead (it must not
// throw: e.g. answer 500 and return Status::internal_error).
template <typename Body, typename OnError>
auto host_guard(sdk::Host& host, const char* where, Body&& body, OnError&& on_error) noexcept
    -> decltype(body()) {
  try {
    return body();
  } catch (...) {
    log_current_exception(host, where);
    return on_error();
  }
}

// The same for a body whose failure needs no cleanup: Status::internal_error
// (or nothing, for a void hook).
template <typename Body>
auto host_guard(sdk::Host& host, const char* where, Body&& body) noexcept -> decltype(body()) {
  using R = decltype(body());
  return host_guard(host, where, body, []() noexcept -> R {
    if constexpr (!std::is_void_v<R>) return sdk::Status::internal_error;
  });
}

}  // namespace trellis::python
