#include "start_response.hpp"

#include <cctype>

#include "exception_boundary.hpp"

namespace trellis::python::start_response {
namespace {

struct Writer {
  PyObject_HEAD
  ResponseState* state;
};

struct StartResponse {
  PyObject_HEAD
  ResponseState* state;
  PyObject* write;  // the Writer returned by every call
};

PyTypeObject* g_start_type = nullptr;
PyTypeObject* g_write_type = nullptr;

StartResponse* self_of(PyObject* o) { return reinterpret_cast<StartResponse*>(o); }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
  return true;
}

ResponseState* live_state(ResponseState* st, const char* what) {
  if (!st) PyErr_Format(PyExc_RuntimeError, "%s called outside of the request it was given for", what);
  return st;
}

// "200 OK": three digits, a space, a reason (wsgiref checks the same).
bool valid_status(std::string_view s) {
  return s.size() >= 4 && std::isdigit(static_cast<unsigned char>(s[0])) &&
         std::isdigit(static_cast<unsigned char>(s[1])) && std::isdigit(static_cast<unsigned char>(s[2])) &&
         s[3] == ' ';
}

// Fills st.fields from the application's header list; the views point into
// the str objects, which `fast` keeps alive.
bool collect_headers(ResponseState& st, PyObject* fast) {
  st.fields.clear();
  st.content_length = -1;
  Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
  PyObject** items = PySequence_Fast_ITEMS(fast);
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* item = items[i];
    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
      PyErr_Format(PyExc_TypeError, "response header %zd must be a (name, value) tuple, not %.100s", i,
                   Py_TYPE(item)->tp_name);
      return false;
    }
    std::string_view name, value;
    if (!latin1_view(PyTuple_GET_ITEM(item, 0), name) || !latin1_view(PyTuple_GET_ITEM(item, 1), value)) {
      PyErr_Format(PyExc_TypeError, "response header %zd: name and value must be latin-1 str", i);
      return false;
    }
    st.fields.push_back({name, value});
    if (iequals(name, "content-length")) {
      std::int64_t v = 0;
      bool digits = !value.empty() && value.size() < 19;
      for (char c : value) {
        if (!std::isdigit(static_cast<unsigned char>(c))) digits = false;
        else v = v * 10 + (c - '0');
      }
      if (digits) st.content_length = v;
    }
  }
  return true;
}

PyObject* call(PyObject* self, PyObject* args, PyObject* kwargs) {
  StartResponse* sr = self_of(self);
  ResponseState* st = live_state(sr->state, "start_response()");
  if (!st) return nullptr;
  static const char* kwlist[] = {"status", "headers", "exc_info", nullptr};
  PyObject *status, *headers, *exc_info = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|O:start_response", const_cast<char**>(kwlist), &status,
                                   &headers, &exc_info))
    return nullptr;

  if (exc_info != Py_None) {
    // PEP 3333: too late to replace the headers, so re-raise the
    // application's own error (`raise exc_info[1].with_traceback(exc_info[2])`).
    if (st->stream.head_sent()) {
      if (!PyTuple_Check(exc_info) || PyTuple_GET_SIZE(exc_info) != 3) {
        PyErr_SetString(PyExc_TypeError, "exc_info must be a (type, value, traceback) tuple");
        return nullptr;
      }
      PyObject* value = PyTuple_GET_ITEM(exc_info, 1);
      PyObject* tb = PyTuple_GET_ITEM(exc_info, 2);
      if (tb != Py_None && PyExceptionInstance_Check(value)) PyException_SetTraceback(value, tb);
      PyErr_Restore(Py_NewRef(PyTuple_GET_ITEM(exc_info, 0)), Py_NewRef(value), tb == Py_None ? nullptr : Py_NewRef(tb));
      return nullptr;
    }
  } else if (st->started) {
    PyErr_SetString(PyExc_AssertionError, "start_response() called again without exc_info");
    return nullptr;
  }

  std::string_view status_text;
  if (!latin1_view(status, status_text)) {
    PyErr_Format(PyExc_TypeError, "status must be a latin-1 str, not %.100s", Py_TYPE(status)->tp_name);
    return nullptr;
  }
  if (!valid_status(status_text)) {
    PyErr_Format(PyExc_ValueError, "malformed status %R: expected e.g. '200 OK'", status);
    return nullptr;
  }
  Ref fast(PySequence_Fast(headers, "response headers must be a list of (name, value) tuples"));
  if (!fast) return nullptr;
  // From here the previous headers are replaced: they are not valid any more.
  st->started = false;
  if (!collect_headers(*st, fast.get())) return nullptr;
  Py_XSETREF(st->status, Py_NewRef(status));
  Py_XSETREF(st->headers, fast.release());
  sdk::Status rc = st->stream.start(status_text, st->fields);
  if (rc == sdk::Status::closed) {
    // The client left before the application answered: like a failed
    // write(), not the application's error (the driver logs it as such).
    st->client_gone = true;
    st->io_status = rc;
    PyErr_Format(PyExc_OSError, "start_response() failed, the client is gone: %s", sdk::to_string(rc));
    return nullptr;
  }
  if (rc != sdk::Status::ok) {
    // invalid_argument: the protocol refuses the head (a field that could
    // break its framing); the application's error, answered with a 500.
    PyErr_Format(PyExc_ValueError, "invalid response status or header (%s): %R", sdk::to_string(rc), status);
    return nullptr;
  }
  st->started = true;
  return Py_NewRef(sr->write);
}

// write(data): PEP 3333's imperative body API; its data precede whatever
// the returned iterable yields.
PyObject* write_call(PyObject* self, PyObject* args, PyObject* kwargs) {
  ResponseState* st = live_state(reinterpret_cast<Writer*>(self)->state, "write()");
  if (!st) return nullptr;
  PyObject* data;
  if ((kwargs && PyDict_GET_SIZE(kwargs)) || !PyArg_UnpackTuple(args, "write", 1, 1, &data)) {
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "write() takes exactly one positional argument");
    return nullptr;
  }
  if (!st->started) {
    PyErr_SetString(PyExc_AssertionError, "write() called before start_response()");
    return nullptr;
  }
  if (!PyBytes_Check(data)) {
    PyErr_Format(PyExc_TypeError, "write() argument must be bytes, not %.100s", Py_TYPE(data)->tp_name);
    return nullptr;
  }
  if (PyBytes_GET_SIZE(data) == 0) Py_RETURN_NONE;
  sdk::Status rc = write_body(*st, std::string_view(PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data)), false);
  if (rc != sdk::Status::ok) {
    PyErr_Format(PyExc_OSError, "write() failed, the client is gone: %s", sdk::to_string(rc));
    return nullptr;
  }
  Py_RETURN_NONE;
}

void write_dealloc(PyObject* self) {
  PyTypeObject* tp = Py_TYPE(self);
  tp->tp_free(self);
  Py_DECREF(tp);
}

void start_dealloc(PyObject* self) {
  PyTypeObject* tp = Py_TYPE(self);
  Py_XDECREF(self_of(self)->write);
  tp->tp_free(self);
  Py_DECREF(tp);
}

PyType_Slot kStartSlots[] = {
    {Py_tp_call, reinterpret_cast<void*>(py_entry<call>)},
    {Py_tp_dealloc, reinterpret_cast<void*>(py_entry<start_dealloc>)},
    {Py_tp_doc, const_cast<char*>("start_response(status, headers, exc_info=None) -> write")},
    {0, nullptr},
};
PyType_Spec kStartSpec = {"trellis.StartResponse", sizeof(StartResponse), 0,
                          Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION, kStartSlots};

PyType_Slot kWriteSlots[] = {
    {Py_tp_call, reinterpret_cast<void*>(py_entry<write_call>)},
    {Py_tp_dealloc, reinterpret_cast<void*>(py_entry<write_dealloc>)},
    {Py_tp_doc, const_cast<char*>("write(data: bytes): send body bytes now")},
    {0, nullptr},
};
PyType_Spec kWriteSpec = {"trellis.Write", sizeof(Writer), 0,
                          Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION, kWriteSlots};

}  // namespace

bool init_types() noexcept {
  if (!g_start_type) g_start_type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&kStartSpec));
  if (!g_write_type) g_write_type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&kWriteSpec));
  return g_start_type && g_write_type;
}

PyObject* create() noexcept {
  Writer* w = PyObject_New(Writer, g_write_type);
  if (!w) return nullptr;
  w->state = nullptr;
  StartResponse* sr = PyObject_New(StartResponse, g_start_type);
  if (!sr) {
    Py_DECREF(w);
    return nullptr;
  }
  sr->state = nullptr;
  sr->write = reinterpret_cast<PyObject*>(w);
  return reinterpret_cast<PyObject*>(sr);
}

void attach(PyObject* obj, ResponseState* state) noexcept {
  self_of(obj)->state = state;
  reinterpret_cast<Writer*>(self_of(obj)->write)->state = state;
}

void detach(PyObject* obj) noexcept { attach(obj, nullptr); }

bool escaped(PyObject* obj) noexcept { return Py_REFCNT(obj) > 1 || Py_REFCNT(self_of(obj)->write) > 1; }

}  // namespace trellis::python::start_response
