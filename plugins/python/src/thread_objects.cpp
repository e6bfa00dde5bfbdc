#include "thread_objects.hpp"

#include "errors_stream.hpp"
#include "input_stream.hpp"
#include "start_response.hpp"

namespace trellis::python {

bool prepare(ThreadObjects& o, sdk::Host& host) noexcept {
  if (o.host != &host) clear(o);  // another plugin instance (tests): start afresh
  o.host = &host;
  if (!o.input && !(o.input = input_stream::create())) return false;
  if (!o.errors && !(o.errors = errors_stream::create(host))) return false;
  if (!o.start_response && !(o.start_response = start_response::create())) return false;
  return true;
}

void recycle(ThreadObjects& o) noexcept {
  o.state.end();
  if (o.input) {
    input_stream::detach(o.input);
    if (Py_REFCNT(o.input) > 1) Py_CLEAR(o.input);
  }
  if (o.errors) {
    errors_stream::flush(o.errors);
    if (Py_REFCNT(o.errors) > 1) Py_CLEAR(o.errors);
  }
  if (o.start_response) {
    start_response::detach(o.start_response);
    if (start_response::escaped(o.start_response)) Py_CLEAR(o.start_response);
  }
}

void clear(ThreadObjects& o) noexcept {
  o.state.end();
  Py_CLEAR(o.input);
  Py_CLEAR(o.errors);
  Py_CLEAR(o.start_response);
  o.host = nullptr;
}

}  // namespace trellis::python
