// An awaitable that is already done: `await receive()` and `await send()`
// return one when no waiting is needed, so the application's coroutine runs
// on without a trip through the event loop (no Future, no callback). Its
// am_send returns the value directly (no StopIteration to build).
#pragma once

#include "py.hpp"

namespace trellis::asgi::awaitable {

bool init_type() noexcept;
// A new reference to an awaitable giving `value` (a new reference is
// taken), or nullptr with a Python error set.
PyObject* ready(PyObject* value) noexcept;
// A new reference to the shared awaitable that gives None.
PyObject* ready_none() noexcept;

}  // namespace trellis::asgi::awaitable
