#include "input_stream.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "exception_boundary.hpp"
#include "fastcall.hpp"

namespace trellis::python::input_stream {
namespace {

constexpr Py_ssize_t kLineBuffer = 8192;        // readline() lookahead
constexpr Py_ssize_t kFirstChunk = 64 * 1024;   // read() of unknown length starts here
constexpr Py_ssize_t kMaxUpfront = 4 << 20;     // never trust Content-Length beyond this up front

struct InputStream {
  PyObject_HEAD
  sdk::Stream body;        // the request's stream; empty when detached
  std::int64_t remaining;  // bytes the stream may still give; -1 unknown
  bool eof;                // the stream said so, or `remaining` reached 0
  sdk::Status failure;     // why reading last failed (ok: it never did)
  char* buf;               // readline lookahead, allocated on first use
  Py_ssize_t pos, len;     // unread bytes are buf[pos, len)
};

PyTypeObject* g_type = nullptr;

InputStream* self_of(PyObject* o) { return reinterpret_cast<InputStream*>(o); }

Py_ssize_t buffered(const InputStream* s) { return s->len - s->pos; }

// Up to `size` bytes of the body into dst, GIL released while it blocks.
// An error status (the body was refused, timed out, the client left) is a
// failed read.
// Returns the count, 0 at the end of the body, -1 with an exception set.
Py_ssize_t raw_read(InputStream* s, char* dst, Py_ssize_t size) {
  if (s->eof || !s->body || size <= 0) return 0;
  if (s->remaining >= 0 && size > s->remaining) size = static_cast<Py_ssize_t>(s->remaining);
  if (size == 0) {
    s->eof = true;
    return 0;
  }
  std::size_t got = 0;
  sdk::Status st;
  {
    GilRelease nogil;
    st = s->body.read(dst, static_cast<std::size_t>(size), got);
  }
  if (st != sdk::Status::ok) {
    s->failure = st;
    PyErr_Format(PyExc_OSError, "reading the request body failed: %s", sdk::to_string(st));
    return -1;
  }
  if (got == 0) {
    s->eof = true;
    return 0;
  }
  if (s->remaining >= 0) s->remaining -= static_cast<std::int64_t>(got);
  return static_cast<Py_ssize_t>(got);
}

Py_ssize_t take_buffered(InputStream* s, char* dst, Py_ssize_t max) {
  Py_ssize_t n = std::min(max, buffered(s));
  if (n > 0) {
    std::memcpy(dst, s->buf + s->pos, static_cast<std::size_t>(n));
    s->pos += n;
  }
  return n;
}

// Bytes still to come, when that is known.
Py_ssize_t known_rest(const InputStream* s) {
  if (s->eof || !s->body) return buffered(s);
  if (s->remaining >= 0) return buffered(s) + static_cast<Py_ssize_t>(std::min<std::int64_t>(s->remaining, PY_SSIZE_T_MAX / 2));
  return -1;
}

// read(limit): like a buffered file, keeps reading until `limit` bytes or the
// end (limit < 0: everything). The result buffer grows geometrically so an
// unknown length costs O(log n) reallocations.
PyObject* read_upto(InputStream* s, Py_ssize_t limit) {
  Py_ssize_t rest = known_rest(s);
  Py_ssize_t cap = rest >= 0 ? std::min(rest, kMaxUpfront) : buffered(s) + kFirstChunk;
  if (limit >= 0) cap = std::min(cap, limit);
  PyObject* out = PyBytes_FromStringAndSize(nullptr, cap);
  if (!out) return nullptr;
  Py_ssize_t n = take_buffered(s, PyBytes_AS_STRING(out), cap);
  for (;;) {
    if (limit >= 0 && n == limit) break;
    if (n == cap) {
      Py_ssize_t more = known_rest(s);
      if (more == 0) break;
      Py_ssize_t grown = cap ? cap * 2 : kFirstChunk;
      if (more > 0) grown = std::min(grown, n + more);
      if (limit >= 0) grown = std::min(grown, limit);
      if (_PyBytes_Resize(&out, grown) != 0) return nullptr;
      cap = grown;
    }
    Py_ssize_t r = raw_read(s, PyBytes_AS_STRING(out) + n, cap - n);
    if (r < 0) {
      Py_DECREF(out);
      return nullptr;
    }
    if (r == 0) break;
    n += r;
  }
  if (n != cap && _PyBytes_Resize(&out, n) != 0) return nullptr;
  return out;
}

// Refills the (empty) lookahead buffer. Returns bytes read, 0 at end, -1 on error.
Py_ssize_t refill(InputStream* s) {
  if (!s->buf) {
    s->buf = static_cast<char*>(PyMem_Malloc(kLineBuffer));
    if (!s->buf) {
      PyErr_NoMemory();
      return -1;
    }
  }
  s->pos = s->len = 0;
  Py_ssize_t r = raw_read(s, s->buf, kLineBuffer);
  if (r > 0) s->len = r;
  return r;
}

PyObject* readline_impl(InputStream* s, Py_ssize_t limit) {
  std::string acc;  // only used when a line spans refills
  for (;;) {
    Py_ssize_t avail = buffered(s);
    if (limit >= 0) avail = std::min(avail, limit - static_cast<Py_ssize_t>(acc.size()));
    const char* start = s->buf ? s->buf + s->pos : nullptr;
    const void* nl = avail > 0 ? std::memchr(start, '\n', static_cast<std::size_t>(avail)) : nullptr;
    Py_ssize_t take = nl ? static_cast<const char*>(nl) - start + 1 : avail;
    bool done = nl || (limit >= 0 && static_cast<Py_ssize_t>(acc.size()) + take == limit);
    if (done && acc.empty()) {  // the common case: the line is in the buffer
      s->pos += take;
      return PyBytes_FromStringAndSize(start, take);
    }
    if (take > 0) acc.append(start, static_cast<std::size_t>(take));
    s->pos += take;
    if (done) break;
    Py_ssize_t r = refill(s);
    if (r < 0) return nullptr;
    if (r == 0) break;
  }
  return PyBytes_FromStringAndSize(acc.data(), static_cast<Py_ssize_t>(acc.size()));
}

PyObject* read(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  Py_ssize_t size;
  if (!optional_size(args, nargs, "read", size)) return nullptr;
  return read_upto(self_of(self), size);
}

PyObject* readline(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  Py_ssize_t size;
  if (!optional_size(args, nargs, "readline", size)) return nullptr;
  return readline_impl(self_of(self), size);
}

PyObject* readlines(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  Py_ssize_t hint;
  if (!optional_size(args, nargs, "readlines", hint)) return nullptr;
  Ref lines(PyList_New(0));
  if (!lines) return nullptr;
  Py_ssize_t total = 0;
  for (;;) {
    Ref line(readline_impl(self_of(self), -1));
    if (!line) return nullptr;
    Py_ssize_t n = PyBytes_GET_SIZE(line.get());
    if (n == 0) break;
    if (PyList_Append(lines.get(), line.get()) != 0) return nullptr;
    total += n;
    if (hint > 0 && total >= hint) break;
  }
  return lines.release();
}

PyObject* iternext(PyObject* self) {
  PyObject* line = readline_impl(self_of(self), -1);
  if (line && PyBytes_GET_SIZE(line) == 0) {
    Py_DECREF(line);
    return nullptr;  // no exception set: StopIteration
  }
  return line;
}

PyObject* readable(PyObject*, PyObject*) { Py_RETURN_TRUE; }
PyObject* close(PyObject*, PyObject*) { Py_RETURN_NONE; }

void dealloc(PyObject* self) {
  PyTypeObject* tp = Py_TYPE(self);
  PyMem_Free(self_of(self)->buf);
  tp->tp_free(self);
  Py_DECREF(tp);  // instances of heap types own a reference to their type
}

PyMethodDef kMethods[] = {
    {"read", as_method(py_entry<read>), METH_FASTCALL, "read([size]) -> bytes"},
    {"readline", as_method(py_entry<readline>), METH_FASTCALL, "readline([size]) -> bytes"},
    {"readlines", as_method(py_entry<readlines>), METH_FASTCALL, "readlines([hint]) -> list of bytes"},
    {"readable", py_entry<readable>, METH_NOARGS, nullptr},
    {"close", py_entry<close>, METH_NOARGS, "does nothing: the server owns the request body"},
    {nullptr, nullptr, 0, nullptr},
};

PyType_Slot kSlots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(py_entry<dealloc>)},
    {Py_tp_methods, kMethods},
    {Py_tp_iter, reinterpret_cast<void*>(PyObject_SelfIter)},
    {Py_tp_iternext, reinterpret_cast<void*>(py_entry<iternext>)},
    {Py_tp_doc, const_cast<char*>("wsgi.input: the request body")},
    {0, nullptr},
};

PyType_Spec kSpec = {
    "trellis.InputStream", sizeof(InputStream), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION, kSlots,
};

}  // namespace

bool init_type() noexcept {
  if (!g_type) g_type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&kSpec));
  return g_type != nullptr;
}

PyObject* create() noexcept {
  InputStream* s = PyObject_New(InputStream, g_type);
  if (!s) return nullptr;
  s->body = sdk::Stream();
  s->remaining = 0;
  s->eof = true;
  s->failure = sdk::Status::ok;
  s->buf = nullptr;
  s->pos = s->len = 0;
  return reinterpret_cast<PyObject*>(s);
}

void attach(PyObject* stream, sdk::Stream body, std::int64_t content_length) noexcept {
  InputStream* s = self_of(stream);
  s->body = body;
  s->remaining = content_length;
  // No read at all for a body known to be empty: the core would take a
  // read as the application wanting the body (HTTP's 100 Continue).
  s->eof = (!body || content_length == 0);
  s->failure = sdk::Status::ok;
  s->pos = s->len = 0;
}

sdk::Status failure(PyObject* stream) noexcept { return self_of(stream)->failure; }

void detach(PyObject* stream) noexcept {
  InputStream* s = self_of(stream);
  s->body = sdk::Stream();
  s->eof = true;
  s->pos = s->len = 0;
}

}  // namespace trellis::python::input_stream
