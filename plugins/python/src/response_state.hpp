// What one request's response has done so far, shared by start_response,
// the write() callable and the response driver. One per application thread,
// reset per request, so the header vector's capacity is reused.
#pragma once

#include "py.hpp"

#include <cstdint>
#include <vector>

#include <trellis/stream.hpp>

namespace trellis::python {

struct ResponseState {
  sdk::Stream stream;        // the request's stream; empty between requests
  bool started = false;      // start_response accepted a status and headers
  bool client_gone = false;  // a write failed: nothing more reaches the client
  sdk::Status io_status = sdk::Status::ok;
  std::int64_t content_length = -1;  // the application's Content-Length, if any
  // References keeping alive the str objects `fields` points into (their
  // one-byte storage is the latin-1 wire form, so nothing is copied).
  PyObject* status = nullptr;
  PyObject* headers = nullptr;
  std::vector<sdk::Field> fields;

  void begin(sdk::Stream s) noexcept {
    stream = s;
    started = false;
    client_gone = false;
    io_status = sdk::Status::ok;
    content_length = -1;
  }
  // GIL held.
  void end() noexcept {
    Py_CLEAR(status);
    Py_CLEAR(headers);
    fields.clear();
    stream = sdk::Stream();
  }
};

// Sends body bytes with the GIL released, waiting while the core holds more
// unsent output than its high-water mark. A failure means the client is
// gone (or the socket timed out): it is remembered so callers stop.
inline sdk::Status write_body(ResponseState& st, std::string_view data, bool last) noexcept {
  if (st.client_gone) return st.io_status;
  sdk::Status rc;
  {
    GilRelease nogil;
    rc = st.stream.write_blocking(data, last);
  }
  if (rc != sdk::Status::ok) {
    st.client_gone = true;
    st.io_status = rc;
  }
  return rc;
}

}  // namespace trellis::python
