#include "response_driver.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "environ.hpp"
#include "file_wrapper.hpp"
#include "input_stream.hpp"
#include "start_response.hpp"
#include "traceback.hpp"

namespace trellis::python {
namespace {

enum class Outcome {
  ok,
  app_error,    // a Python exception is set
  client_gone,  // the stream failed; state.io_status says how
};

Outcome emit(ResponseState& st, PyObject* chunk, bool last) {
  if (!PyBytes_Check(chunk)) {
    PyErr_Format(PyExc_TypeError, "response body items must be bytes, not %.100s", Py_TYPE(chunk)->tp_name);
    return Outcome::app_error;
  }
  Py_ssize_t n = PyBytes_GET_SIZE(chunk);
  if (n == 0) return Outcome::ok;
  if (!st.started) {
    PyErr_SetString(PyExc_AssertionError, "the application produced body data before calling start_response()");
    return Outcome::app_error;
  }
  Py_INCREF(chunk);  // the GIL is released while writing; keep it alive
  sdk::Status rc = write_body(st, std::string_view(PyBytes_AS_STRING(chunk), static_cast<std::size_t>(n)), last);
  Py_DECREF(chunk);
  return rc == sdk::Status::ok ? Outcome::ok : Outcome::client_gone;
}

// list/tuple: the length is known, so the last non-empty item is written
// with last=true and the protocol can frame a single-item body with a
// Content-Length instead of chunks.
Outcome send_sequence(ResponseState& st, PyObject* seq) {
  const bool is_list = PyList_CheckExact(seq);
  auto size = [&] { return is_list ? PyList_GET_SIZE(seq) : PyTuple_GET_SIZE(seq); };
  auto item = [&](Py_ssize_t i) { return is_list ? PyList_GET_ITEM(seq, i) : PyTuple_GET_ITEM(seq, i); };
  Py_ssize_t last = size() - 1;
  while (last >= 0 && PyBytes_Check(item(last)) && PyBytes_GET_SIZE(item(last)) == 0) --last;
  for (Py_ssize_t i = 0; i < size(); ++i) {  // re-read: the GIL is released while writing
    Outcome o = emit(st, item(i), i == last);
    if (o != Outcome::ok) return o;
  }
  return Outcome::ok;
}

Outcome send_iterable(ResponseState& st, PyObject* body) {
  Ref it(PyObject_GetIter(body));
  if (!it) return Outcome::app_error;
  while (PyObject* chunk = PyIter_Next(it.get())) {
    Outcome o = emit(st, chunk, false);
    Py_DECREF(chunk);
    if (o != Outcome::ok) return o;
  }
  return PyErr_Occurred() ? Outcome::app_error : Outcome::ok;
}

// wsgi.file_wrapper around a regular file: a file chunk from its current
// position (the core sends it with sendfile), at most Content-Length bytes
// when the application gave one. It is the whole body, so it goes out as
// the last one. `handled` stays false when the object has no usable
// descriptor.
Outcome send_file(ResponseState& st, PyObject* wrapper, bool& handled) {
  handled = false;
  PyObject* f = file_wrapper::filelike(wrapper);
  Ref fileno(PyObject_CallMethod(f, "fileno", nullptr));
  int fd = fileno ? PyLong_AsLong(fileno.get()) : -1;
  struct stat sb {};
  if (fd < 0 || ::fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    PyErr_Clear();  // BytesIO & co: iterate instead
    return Outcome::ok;
  }
  // tell() knows about Python-level buffering; the descriptor's offset may not.
  std::int64_t offset = -1;
  if (Ref pos{PyObject_CallMethod(f, "tell", nullptr)}) offset = PyLong_AsLongLong(pos.get());
  if (offset < 0) {
    PyErr_Clear();
    offset = ::lseek(fd, 0, SEEK_CUR);
    if (offset < 0) return Outcome::ok;
  }
  handled = true;
  if (!st.started) {
    PyErr_SetString(PyExc_AssertionError, "the application returned a file_wrapper without calling start_response()");
    return Outcome::app_error;
  }
  std::int64_t count = std::max<std::int64_t>(0, static_cast<std::int64_t>(sb.st_size) - offset);
  if (st.content_length >= 0) count = std::min(count, st.content_length);
  if (count == 0) return Outcome::ok;
  sdk::Status rc;
  {
    GilRelease nogil;
    rc = st.stream.write_file_blocking(fd, offset, count, true);
  }
  if (rc != sdk::Status::ok) {
    st.client_gone = true;
    st.io_status = rc;
    return Outcome::client_gone;
  }
  return Outcome::ok;
}

Outcome send_body(ResponseState& st, PyObject* body) {
  Outcome o = Outcome::ok;
  bool handled = false;
  if (file_wrapper::check(body)) o = send_file(st, body, handled);
  if (!handled) {
    if (PyList_CheckExact(body) || PyTuple_CheckExact(body))
      o = send_sequence(st, body);
    else
      o = send_iterable(st, body);
  }
  if (o != Outcome::ok) return o;
  if (!st.started) {
    PyErr_SetString(PyExc_AssertionError, "the application returned without calling start_response()");
    return Outcome::app_error;
  }
  sdk::Status rc;
  {
    GilRelease nogil;
    rc = st.stream.finish();
  }
  if (rc != sdk::Status::ok) {
    st.client_gone = true;
    st.io_status = rc;
    return Outcome::client_gone;
  }
  return Outcome::ok;
}

// PEP 3333: close() of the iterable is called whatever happened. Its own
// exception is logged; false then.
bool close_body(PyObject* body, sdk::Host& host) {
  // Keep an exception from the body itself while close() runs.
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  bool ok = true;
  // A list or tuple (most bodies) has no close(). For anything else the
  // lookup does not raise AttributeError when there is none: building and
  // clearing that exception cost more than the rest of the request's
  // response handling together.
  PyObject* found = nullptr;
  if (!PyList_CheckExact(body) && !PyTuple_CheckExact(body)) {
    static PyObject* const name = PyUnicode_InternFromString("close");  // under the GIL, kept for good
    if (!name || _PyObject_LookupAttr(body, name, &found) < 0) PyErr_Clear();  // as if it had none
  }
  Ref close(found);
  if (!close) {
    // no close(): nothing to do
  } else if (!Ref(PyObject_CallNoArgs(close.get()))) {
    log_exception(host, "python: the response iterable's close() raised");
    ok = false;
  }
  PyErr_Restore(type, value, tb);
  return ok;
}

// The application raised while the request body could not be read (too
// large, malformed chunking, a client that went quiet or left): the
// client's fault, answered as the protocol would have answered it before
// the app ran, and not counted as an application error.
sdk::Status body_failed(ResponseState& st, sdk::Host& host, sdk::Status why) {
  PyErr_Clear();
  host.logf(sdk::LogLevel::warn, "python: the request body could not be read: %s", sdk::to_string(why));
  GilRelease nogil;
  sdk::Stream s = st.stream;
  std::string_view status = why == sdk::Status::too_large      ? "413 Content Too Large"
                            : why == sdk::Status::protocol_error ? "400 Bad Request"
                            : why == sdk::Status::timed_out      ? "408 Request Timeout"
                                                                 : "";
  if (status.empty() || s.head_sent()) {
    s.abort();
    return sdk::Status::ok;
  }
  // "Connection: close" is the one connection field a protocol honours from
  // a runtime: the rest of the body is not worth reading.
  static const sdk::Field kHeaders[] = {{"Content-Type", "text/plain; charset=utf-8"}, {"Connection", "close"}};
  if (s.start(status, kHeaders) == sdk::Status::ok && s.write_blocking(status.substr(4), true) == sdk::Status::ok)
    s.finish();
  return sdk::Status::ok;
}

sdk::Status app_failed(ResponseState& st, sdk::Host& host, std::string_view what, PyObject* input) {
  if (st.client_gone) {
    // The application only saw our OSError from write() or
    // start_response(): not its bug.
    PyErr_Clear();
    host.logf(sdk::LogLevel::info, "python: client went away: %s", sdk::to_string(st.io_status));
    return sdk::Status::ok;
  }
  if (sdk::Status why = input_stream::failure(input); why != sdk::Status::ok) return body_failed(st, host, why);
  log_exception(host, what);
  {
    GilRelease nogil;
    fail_response(st.stream);
  }
  return sdk::Status::app_error;
}

sdk::Status run(PyObject* app, ThreadObjects& o, sdk::Host& host, const sdk::Request& request) {
  ResponseState& st = o.state;
  Ref env(environ::build(request, o.input, o.errors));
  if (!env) return app_failed(st, host, "python: cannot build the WSGI environ", o.input);
  PyObject* args[] = {env.get(), o.start_response};
  Ref body(PyObject_Vectorcall(app, args, 2, nullptr));
  if (!body) return app_failed(st, host, "python: the application raised", o.input);
  Outcome out = send_body(st, body.get());
  bool closed_ok = close_body(body.get(), host);
  switch (out) {
    case Outcome::ok:
      return closed_ok ? sdk::Status::ok : sdk::Status::app_error;
    case Outcome::client_gone:
      // Iteration stopped; close() ran above, as PEP 3333 wants.
      host.logf(sdk::LogLevel::info, "python: client went away: %s", sdk::to_string(st.io_status));
      return closed_ok ? sdk::Status::ok : sdk::Status::app_error;
    case Outcome::app_error:
      break;
  }
  return app_failed(st, host, "python: the response body failed", o.input);
}

}  // namespace

void fail_response(sdk::Stream s) noexcept {
  static constexpr std::string_view kBody = "Internal Server Error\n";
  static const sdk::Field kHeaders[] = {
      {"Content-Type", "text/plain; charset=utf-8"},
      {"Content-Length", "22"},
  };
  // Once the head went out the client must see a broken response, never a
  // complete-looking one.
  if (s.head_sent() || s.start("500 Internal Server Error", kHeaders) != sdk::Status::ok) {
    s.abort();
    return;
  }
  if (s.write_blocking(kBody, true) == sdk::Status::ok) s.finish();
}

sdk::Status serve(PyObject* app, ThreadObjects& o, sdk::Host& host, sdk::Stream stream) {
  if (!prepare(o, host)) {
    log_exception(host, "python: cannot prepare the request objects");
    PyErr_Clear();
    GilRelease nogil;
    fail_response(stream);
    return sdk::Status::internal_error;
  }
  // recycle() on every way out, a C++ exception too: a wsgi.input still
  // attached to this request's stream would dangle once on_request returns.
  struct Recycle {
    ThreadObjects& o;
    ~Recycle() { recycle(o); }
  };
  // Views into the core's copy of the head, valid until on_request returns.
  const sdk::Request request = stream.request();
  input_stream::attach(o.input, stream, request.content_length);
  Recycle recycle_at_exit{o};
  o.state.begin(stream);
  start_response::attach(o.start_response, &o.state);
  return run(app, o, host, request);
}

}  // namespace trellis::python
