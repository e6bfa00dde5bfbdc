// wsgi.errors: a text stream whose complete lines go to the host's log.
// One object per application thread (partial lines never interleave).
#pragma once

#include "py.hpp"

#include <trellis/host.hpp>

namespace trellis::python::errors_stream {

bool init_type() noexcept;  // once, GIL held
PyObject* create(sdk::Host& host) noexcept;
// Logs a pending partial line (end of request).
void flush(PyObject* stream) noexcept;

}  // namespace trellis::python::errors_stream
