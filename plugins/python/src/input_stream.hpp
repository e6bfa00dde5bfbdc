// wsgi.input: the request body as a Python file-like object, implemented in
// C because frameworks call readline() in tight loops (multipart parsing).
// One object per application thread, re-attached to each request.
#pragma once

#include "py.hpp"

#include <cstdint>

#include <trellis/stream.hpp>

namespace trellis::python::input_stream {

bool init_type() noexcept;  // once, GIL held
PyObject* create() noexcept;  // new reference, detached (reads return b"")

// Reads `body`'s request body (Stream::read, which blocks: the GIL is
// released around it). `content_length` < 0: read until the stream reports
// the end (chunked).
void attach(PyObject* stream, sdk::Stream body, std::int64_t content_length) noexcept;
// Why reading the body failed during this request (Status::ok if it did
// not): a body the core or protocol refused is the client's fault, not the
// app's.
sdk::Status failure(PyObject* stream) noexcept;
// The request is over: the stream is gone, later reads see end of input.
void detach(PyObject* stream) noexcept;

}  // namespace trellis::python::input_stream
