#include "errors_stream.hpp"

#include <new>
#include <string>

#include "exception_boundary.hpp"

namespace trellis::python::errors_stream {
namespace {

struct ErrorsStream {
  PyObject_HEAD
  sdk::Host* host;
  std::string* pending;  // text after the last newline
};

PyTypeObject* g_type = nullptr;

ErrorsStream* self_of(PyObject* o) { return reinterpret_cast<ErrorsStream*>(o); }

// Application output is reported as errors: that is what the stream is for
// in PEP 3333, and frameworks send their tracebacks here.
void emit(ErrorsStream* s, std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  s->host->log(sdk::LogLevel::error, line);
}

void flush_impl(ErrorsStream* s) {
  if (!s->pending->empty()) {
    emit(s, *s->pending);
    s->pending->clear();
  }
}

// UTF-8 of `text`. Lone surrogates (from surrogateescape'd bytes, broken
// decoders) are written as \udcff escapes instead of raising: sys.stderr,
// which wsgiref and gunicorn hand out as wsgi.errors, uses
// errors='backslashreplace', and a log call must not fail the request.
// `holder` keeps the escaped copy alive while the caller reads `data`.
bool utf8_of(PyObject* text, const char*& data, Py_ssize_t& n, Ref& holder) {
  data = PyUnicode_AsUTF8AndSize(text, &n);  // cached: the common case copies nothing
  if (data) return true;
  if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) return false;
  PyErr_Clear();
  holder = Ref(PyUnicode_AsEncodedString(text, "utf-8", "backslashreplace"));
  if (!holder) return false;
  data = PyBytes_AS_STRING(holder.get());
  n = PyBytes_GET_SIZE(holder.get());
  return true;
}

bool append(ErrorsStream* s, PyObject* text) {
  const char* data;
  Py_ssize_t n;
  Ref escaped;
  if (PyUnicode_Check(text)) {
    if (!utf8_of(text, data, n, escaped)) return false;
  } else if (PyBytes_Check(text)) {  // lenient: some code writes bytes
    data = PyBytes_AS_STRING(text);
    n = PyBytes_GET_SIZE(text);
  } else {
    PyErr_Format(PyExc_TypeError, "wsgi.errors.write() argument must be str, not %.100s", Py_TYPE(text)->tp_name);
    return false;
  }
  std::string_view chunk(data, static_cast<std::size_t>(n));
  for (;;) {
    auto nl = chunk.find('\n');
    if (nl == std::string_view::npos) break;
    if (s->pending->empty()) {
      emit(s, chunk.substr(0, nl));
    } else {
      s->pending->append(chunk.substr(0, nl));
      emit(s, *s->pending);
      s->pending->clear();
    }
    chunk.remove_prefix(nl + 1);
  }
  s->pending->append(chunk);
  return true;
}

PyObject* write(PyObject* self, PyObject* text) {
  if (!append(self_of(self), text)) return nullptr;
  return PyLong_FromSsize_t(PyUnicode_Check(text) ? PyUnicode_GET_LENGTH(text) : PyBytes_GET_SIZE(text));
}

PyObject* writelines(PyObject* self, PyObject* lines) {
  Ref it(PyObject_GetIter(lines));
  if (!it) return nullptr;
  while (PyObject* line = PyIter_Next(it.get())) {
    bool ok = append(self_of(self), line);
    Py_DECREF(line);
    if (!ok) return nullptr;
  }
  if (PyErr_Occurred()) return nullptr;
  Py_RETURN_NONE;
}

PyObject* flush_method(PyObject* self, PyObject*) {
  flush_impl(self_of(self));
  Py_RETURN_NONE;
}

PyObject* writable(PyObject*, PyObject*) { Py_RETURN_TRUE; }

void dealloc(PyObject* self) {
  PyTypeObject* tp = Py_TYPE(self);
  ErrorsStream* s = self_of(self);
  if (s->pending) {
    flush_impl(s);
    delete s->pending;
  }
  tp->tp_free(self);
  Py_DECREF(tp);
}

PyMethodDef kMethods[] = {
    {"write", py_entry<write>, METH_O, "write(str): complete lines go to the server log"},
    {"writelines", py_entry<writelines>, METH_O, nullptr},
    {"flush", py_entry<flush_method>, METH_NOARGS, nullptr},
    {"writable", py_entry<writable>, METH_NOARGS, nullptr},
    {nullptr, nullptr, 0, nullptr},
};

PyType_Slot kSlots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(py_entry<dealloc>)},
    {Py_tp_methods, kMethods},
    {Py_tp_doc, const_cast<char*>("wsgi.errors: lines go to the server log")},
    {0, nullptr},
};

PyType_Spec kSpec = {
    "trellis.ErrorsStream", sizeof(ErrorsStream), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION, kSlots,
};

}  // namespace

bool init_type() noexcept {
  if (!g_type) g_type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&kSpec));
  return g_type != nullptr;
}

PyObject* create(sdk::Host& host) noexcept {
  ErrorsStream* s = PyObject_New(ErrorsStream, g_type);
  if (!s) return nullptr;
  s->host = &host;
  s->pending = new (std::nothrow) std::string();
  if (!s->pending) {
    Py_DECREF(s);
    return PyErr_NoMemory();
  }
  return reinterpret_cast<PyObject*>(s);
}

void flush(PyObject* stream) noexcept { flush_impl(self_of(stream)); }

}  // namespace trellis::python::errors_stream
