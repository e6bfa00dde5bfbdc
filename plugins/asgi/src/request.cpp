#include "request.hpp"

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "awaitable.hpp"
#include "fastcall.hpp"
#include "traceback.hpp"

namespace trellis::asgi {

WorkerState* g_worker = nullptr;
using python::log_exception;

namespace {

using std::string_view;

// ---- interned keys and constants ----------------------------------------------

struct Keys {
  PyObject *type, *asgi, *http_version, *method, *scheme, *path, *raw_path, *query_string, *root_path, *headers,
      *client, *server, *state, *body, *more_body, *status, *trailers, *extensions;
  PyObject *http, *http_request, *http_disconnect, *response_start, *response_body;
  PyObject *v10, *v11, *v2, *s_http, *s_https, *empty_str, *empty_bytes;
  PyObject* asgi_info;  // {"version": "3.0", "spec_version": "2.4"}
  PyObject* done;       // "done"
  PyObject* set_result;
  PyObject* set_exception;
  PyObject* disconnect_msg;  // shared {"type": "http.disconnect"}: apps only read it
};
Keys k;

PyObject* intern(const char* s) { return PyUnicode_InternFromString(s); }

// Common request methods, as interned str.
struct MethodCache {
  const char* name;
  PyObject* str;
};
MethodCache g_methods[] = {{"GET", nullptr},     {"POST", nullptr},   {"HEAD", nullptr},
                           {"PUT", nullptr},     {"DELETE", nullptr}, {"PATCH", nullptr},
                           {"OPTIONS", nullptr}, {"CONNECT", nullptr}, {"TRACE", nullptr}};

PyObject* method_str(string_view m) {
  for (auto& c : g_methods)
    if (m == c.name) return Py_NewRef(c.str);
  return PyUnicode_DecodeLatin1(m.data(), static_cast<Py_ssize_t>(m.size()), nullptr);
}

// Lower-cased header names as bytes, cached by the name as sent (most
// requests repeat the same few names). Bounded.
std::unordered_map<std::string, PyObject*>* g_names = nullptr;

PyObject* header_name(string_view name) {
  if (auto it = g_names->find(std::string(name)); it != g_names->end()) return Py_NewRef(it->second);
  PyObject* b = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(name.size()));
  if (!b) return nullptr;
  char* out = PyBytes_AS_STRING(b);
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    out[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  }
  if (g_names->size() < 512) {
    try {
      g_names->emplace(std::string(name), Py_NewRef(b));
    } catch (...) {
      Py_DECREF(b);  // the extra reference
    }
  }
  return b;
}

PyObject* bytes_of(string_view s) { return PyBytes_FromStringAndSize(s.data(), static_cast<Py_ssize_t>(s.size())); }

long port_number(string_view p) {
  long n = 0;
  if (p.empty() || p.size() > 6) return -1;
  for (char c : p) {
    if (c < '0' || c > '9') return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}

// (host, port), or None.
PyObject* address(string_view host, string_view port) {
  if (host.empty()) return Py_NewRef(Py_None);
  long n = port_number(port);
  PyObject* h = PyUnicode_DecodeUTF8(host.data(), static_cast<Py_ssize_t>(host.size()), "replace");
  if (!h) return nullptr;
  PyObject* p = n >= 0 ? PyLong_FromLong(n) : Py_NewRef(Py_None);
  if (!p) {
    Py_DECREF(h);
    return nullptr;
  }
  PyObject* t = PyTuple_New(2);
  if (!t) {
    Py_DECREF(h);
    Py_DECREF(p);
    return nullptr;
  }
  PyTuple_SET_ITEM(t, 0, h);
  PyTuple_SET_ITEM(t, 1, p);
  return t;
}

// Reason phrases for the status line the core wants ("200 OK").
const char* reason(int code) {
  switch (code) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 418: return "I'm a teapot";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

}  // namespace

// ---- the request object ---------------------------------------------------------

struct Request {
  PyObject_HEAD
  trellis_stream* stream;           // nullptr once done
  PyObject* receive_waiter;         // a Future receive() awaits, or nullptr
  PyObject* send_waiter;            // a Future send() awaits (output over the mark)
  PyObject* task;                   // the application's task, while it runs
  PyObject* receive;                // the callables handed to the application
  PyObject* send;
  std::vector<string_view>* pending;  // delivered, not yet consumed body pieces
  std::int64_t content_length;
  bool body_end;        // BODY_END seen (or no body at all)
  bool body_finished;   // the last http.request (more_body False) was given
  bool want_sent;       // stream_want_body called
  bool disconnected;
  bool started;         // http.response.start accepted
  bool complete;        // the last body was sent
  bool app_running;
  bool queued;          // waits for a place (max concurrency)
};

namespace {

PyTypeObject* g_request_type = nullptr;

void request_dealloc(PyObject* self) {
  auto* r = reinterpret_cast<Request*>(self);
  PyObject_GC_UnTrack(self);
  Py_CLEAR(r->receive_waiter);
  Py_CLEAR(r->send_waiter);
  Py_CLEAR(r->task);
  Py_CLEAR(r->receive);
  Py_CLEAR(r->send);
  delete r->pending;
  r->pending = nullptr;
  PyObject_GC_Del(self);
}

int request_traverse(PyObject* self, visitproc visit, void* arg) {
  auto* r = reinterpret_cast<Request*>(self);
  Py_VISIT(r->receive_waiter);
  Py_VISIT(r->send_waiter);
  Py_VISIT(r->task);
  Py_VISIT(r->receive);
  Py_VISIT(r->send);
  return 0;
}

int request_clear(PyObject* self) {
  auto* r = reinterpret_cast<Request*>(self);
  Py_CLEAR(r->receive_waiter);
  Py_CLEAR(r->send_waiter);
  Py_CLEAR(r->task);
  Py_CLEAR(r->receive);
  Py_CLEAR(r->send);
  return 0;
}

const trellis_host_api* api() { return g_worker->api; }

// fut.done() is false: set its result (or exception). Takes nothing.
void settle(PyObject*& fut, PyObject* value, bool exception = false) {
  if (!fut) return;
  PyObject* f = fut;
  fut = nullptr;
  PyObject* done = PyObject_CallMethodNoArgs(f, k.done);
  if (done == Py_False) {
    PyObject* r = PyObject_CallMethodOneArg(f, exception ? k.set_exception : k.set_result, value);
    if (!r) log_exception(g_worker->host, "asgi: cannot resolve a waiting receive() or send()");
    Py_XDECREF(r);
  } else if (!done) {
    PyErr_Clear();
  }
  Py_XDECREF(done);
  Py_DECREF(f);
}

PyObject* new_future() { return PyObject_CallNoArgs(g_worker->create_future); }

// {"type": "http.request", "body": body, "more_body": more}
PyObject* request_message(PyObject* body, bool more) {
  PyObject* d = _PyDict_NewPresized(3);
  if (!d) return nullptr;
  if (PyDict_SetItem(d, k.type, k.http_request) < 0 || PyDict_SetItem(d, k.body, body) < 0 ||
      PyDict_SetItem(d, k.more_body, more ? Py_True : Py_False) < 0) {
    Py_DECREF(d);
    return nullptr;
  }
  return d;
}

// The pending body as one bytes object, given back to the core.
PyObject* take_pending(Request* r) {
  std::size_t total = 0;
  for (auto piece : *r->pending) total += piece.size();
  PyObject* b = nullptr;
  if (r->pending->size() == 1) {
    b = bytes_of(r->pending->front());
  } else {
    b = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(total));
    if (b) {
      char* out = PyBytes_AS_STRING(b);
      for (auto piece : *r->pending) {
        std::memcpy(out, piece.data(), piece.size());
        out += piece.size();
      }
    }
  }
  if (!b) return nullptr;
  r->pending->clear();
  if (r->stream) api()->stream_consume(r->stream, total);
  return b;
}

// The next message for receive(), or nullptr with *wait set when none is
// ready yet (or nullptr with a Python error).
PyObject* next_message(Request* r, bool& wait) {
  wait = false;
  if (r->pending && !r->pending->empty()) {
    PyObject* body = take_pending(r);
    if (!body) return nullptr;
    bool last = r->body_end && !r->disconnected;
    if (last) r->body_finished = true;
    PyObject* m = request_message(body, !last);
    Py_DECREF(body);
    return m;
  }
  if (r->disconnected || (r->body_finished && r->complete)) return Py_NewRef(k.disconnect_msg);
  if (r->body_end && !r->body_finished) {
    r->body_finished = true;
    return request_message(k.empty_bytes, false);
  }
  wait = true;
  return nullptr;
}

// ---- receive() -----------------------------------------------------------------

PyObject* receive(PyObject* self, PyObject*) {
  auto* r = reinterpret_cast<Request*>(self);
  if (!r->want_sent && r->stream && !r->body_end) {
    // Sends "100 Continue" when the client waits for it.
    r->want_sent = true;
    api()->stream_want_body(r->stream);
  }
  bool wait = false;
  PyObject* m = next_message(r, wait);
  if (m) {
    PyObject* a = awaitable::ready(m);
    Py_DECREF(m);
    return a;
  }
  if (!wait) return nullptr;
  if (r->receive_waiter) {
    PyErr_SetString(PyExc_RuntimeError, "asgi: receive() called again while a previous call still waits");
    return nullptr;
  }
  r->receive_waiter = new_future();
  return Py_XNewRef(r->receive_waiter);
}

// ---- send() --------------------------------------------------------------------

bool as_bytes(PyObject* o, string_view& out) {
  if (PyBytes_Check(o)) {
    out = string_view(PyBytes_AS_STRING(o), static_cast<std::size_t>(PyBytes_GET_SIZE(o)));
    return true;
  }
  if (PyByteArray_Check(o)) {
    out = string_view(PyByteArray_AS_STRING(o), static_cast<std::size_t>(PyByteArray_GET_SIZE(o)));
    return true;
  }
  // str is refused: the spec names str headers as its example of an event
  // that must raise, so an app that sends them learns it at once.
  return false;
}

// The spec: a server ignores the application's Transfer-Encoding (framing
// is the server's; the protocol chooses chunked or a length itself).
bool is_transfer_encoding(string_view name) {
  constexpr string_view te = "transfer-encoding";
  if (name.size() != te.size()) return false;
  for (std::size_t i = 0; i < te.size(); ++i)
    if ((name[i] | 0x20) != te[i]) return false;
  return true;
}

PyObject* send_start(Request* r, PyObject* message) {
  if (r->started) {
    PyErr_SetString(PyExc_RuntimeError, "asgi: http.response.start sent twice");
    return nullptr;
  }
  PyObject* status = PyDict_GetItemWithError(message, k.status);  // borrowed
  if (!status) {
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_KeyError, "asgi: http.response.start without 'status'");
    return nullptr;
  }
  long code = PyLong_AsLong(status);
  if (code == -1 && PyErr_Occurred()) return nullptr;
  if (code < 100 || code > 999) {
    PyErr_Format(PyExc_ValueError, "asgi: invalid status %ld", code);
    return nullptr;
  }
  char line[64];
  int n = std::snprintf(line, sizeof line, "%ld %s", code, reason(static_cast<int>(code)));
  PyObject* headers = PyDict_GetItemWithError(message, k.headers);  // borrowed
  if (!headers && PyErr_Occurred()) return nullptr;
  trellis_field inline_fields[32];
  std::vector<trellis_field> heap;
  trellis_field* fields = inline_fields;
  std::size_t count = 0;
  PyObject* seq = nullptr;
  if (headers && headers != Py_None) {
    seq = PySequence_Fast(headers, "asgi: 'headers' must be an iterable of [name, value] pairs");
    if (!seq) return nullptr;
    Py_ssize_t total = PySequence_Fast_GET_SIZE(seq);
    if (total > 32) {
      heap.resize(static_cast<std::size_t>(total));
      fields = heap.data();
    }
    PyObject** items = PySequence_Fast_ITEMS(seq);
    for (Py_ssize_t i = 0; i < total; ++i) {
      PyObject* pair = items[i];
      PyObject *name, *value;
      if (PyTuple_Check(pair) && PyTuple_GET_SIZE(pair) == 2) {
        name = PyTuple_GET_ITEM(pair, 0);
        value = PyTuple_GET_ITEM(pair, 1);
      } else if (PyList_Check(pair) && PyList_GET_SIZE(pair) == 2) {
        name = PyList_GET_ITEM(pair, 0);
        value = PyList_GET_ITEM(pair, 1);
      } else {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_TypeError, "asgi: each header must be a [name, value] pair");
        return nullptr;
      }
      string_view nv, vv;
      if (!as_bytes(name, nv) || !as_bytes(value, vv)) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_TypeError, "asgi: header names and values must be bytes");
        return nullptr;
      }
      if (is_transfer_encoding(nv)) continue;
      fields[count++] = {{nv.data(), nv.size()}, {vv.data(), vv.size()}};
    }
  }
  trellis_response_head head{};
  head.size = sizeof head;
  head.status = {line, static_cast<std::size_t>(n)};
  head.headers = fields;
  head.header_count = count;
  trellis_status st = r->stream ? api()->stream_start(r->stream, &head) : TRELLIS_CLOSED;
  Py_XDECREF(seq);
  if (st == TRELLIS_INVALID_ARGUMENT) {
    PyErr_SetString(PyExc_ValueError, "asgi: the response head was refused (a header that would break the framing)");
    return nullptr;
  }
  r->started = true;
  if (st == TRELLIS_CLOSED || r->disconnected) {
    r->disconnected = true;
    PyErr_SetString(g_worker->disconnected_error, "the client went away");
    return nullptr;
  }
  return awaitable::ready_none();
}

PyObject* send_body(Request* r, PyObject* message) {
  if (!r->started) {
    PyErr_SetString(PyExc_RuntimeError, "asgi: http.response.body before http.response.start");
    return nullptr;
  }
  if (r->complete) {
    PyErr_SetString(PyExc_RuntimeError, "asgi: http.response.body after the response was complete");
    return nullptr;
  }
  PyObject* body = PyDict_GetItemWithError(message, k.body);
  if (!body && PyErr_Occurred()) return nullptr;
  PyObject* more = PyDict_GetItemWithError(message, k.more_body);
  if (!more && PyErr_Occurred()) return nullptr;
  int more_body = more ? PyObject_IsTrue(more) : 0;
  if (more_body < 0) return nullptr;
  string_view data;
  if (body && !as_bytes(body, data)) {
    PyErr_SetString(PyExc_TypeError, "asgi: 'body' must be bytes");
    return nullptr;
  }
  if (!more_body) r->complete = true;
  if (r->disconnected || !r->stream) {
    PyErr_SetString(g_worker->disconnected_error, "the client went away");
    return nullptr;
  }
  trellis_status st = TRELLIS_OK;
  if (!data.empty() || !more_body) {
    trellis_chunk c{};
    c.kind = TRELLIS_CHUNK_BYTES;
    c.data = data.data();
    c.len = data.size();
    c.fd = -1;
    st = api()->stream_write(r->stream, &c, 1, more_body ? 0 : 1);
    if (st == TRELLIS_OK || st == TRELLIS_AGAIN)
      if (!more_body) {
        trellis_status f = api()->stream_finish(r->stream, nullptr, 0);
        if (f != TRELLIS_OK && f != TRELLIS_AGAIN) st = f;
      }
  }
  if (st == TRELLIS_CLOSED) {
    r->disconnected = true;
    PyErr_SetString(g_worker->disconnected_error, "the client went away");
    return nullptr;
  }
  if (st == TRELLIS_AGAIN && more_body) {
    // Over the high-water mark: send() returns once the output drained.
    if (!r->send_waiter) r->send_waiter = new_future();
    return Py_XNewRef(r->send_waiter);
  }
  if (st != TRELLIS_OK && st != TRELLIS_AGAIN) {
    PyErr_Format(PyExc_RuntimeError, "asgi: the response could not be sent (status %d)", static_cast<int>(st));
    return nullptr;
  }
  return awaitable::ready_none();
}

PyObject* send(PyObject* self, PyObject* message) {
  auto* r = reinterpret_cast<Request*>(self);
  if (!PyDict_Check(message)) {
    PyErr_SetString(PyExc_TypeError, "asgi: send() takes a dict");
    return nullptr;
  }
  PyObject* type = PyDict_GetItemWithError(message, k.type);
  if (!type) {
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_KeyError, "asgi: a message without 'type'");
    return nullptr;
  }
  if (type == k.response_body || (PyUnicode_Check(type) && PyUnicode_Compare(type, k.response_body) == 0))
    return send_body(r, message);
  if (type == k.response_start || (PyUnicode_Check(type) && PyUnicode_Compare(type, k.response_start) == 0))
    return send_start(r, message);
  if (PyErr_Occurred()) return nullptr;
  PyErr_Format(PyExc_RuntimeError, "asgi: unexpected message type %R for an http scope", type);
  return nullptr;
}

PyMethodDef g_receive_def = {"receive", receive, METH_NOARGS, "ASGI receive()"};
PyMethodDef g_send_def = {"send", send, METH_O, "ASGI send(message)"};

// ---- the scope --------------------------------------------------------------------

bool set(PyObject* d, PyObject* key, PyObject* value) {
  if (!value) return false;
  int rc = PyDict_SetItem(d, key, value);
  Py_DECREF(value);
  return rc == 0;
}

string_view sv(trellis_str s) { return s.len ? string_view(s.ptr, s.len) : string_view(); }

PyObject* build_scope(trellis_stream* stream) {
  const trellis_request_head* h = api()->stream_head(stream);
  const trellis_conn_info* c = api()->stream_conn_info(stream);
  PyObject* scope = _PyDict_NewPresized(16);
  if (!scope) return nullptr;
  string_view protocol = sv(h->protocol);
  string_view uri = sv(h->uri);
  string_view raw_path = uri.substr(0, uri.find('?'));
  string_view root_path;
  for (std::size_t i = 0; i < h->variable_count; ++i)
    if (sv(h->variables[i].name) == "SCRIPT_NAME") root_path = sv(h->variables[i].value);
  PyObject* version = protocol == "HTTP/1.1" ? k.v11 : protocol == "HTTP/1.0" ? k.v10 : protocol == "HTTP/2" ? k.v2 : nullptr;
  PyObject* scheme = sv(h->scheme) == "https" ? k.s_https : k.s_http;
  bool ok = set(scope, k.type, Py_NewRef(k.http)) && set(scope, k.asgi, Py_NewRef(k.asgi_info)) &&
            set(scope, k.http_version,
                version ? Py_NewRef(version)
                        : PyUnicode_DecodeLatin1(protocol.substr(protocol.find('/') + 1).data(),
                                                 static_cast<Py_ssize_t>(protocol.size() > 5 ? protocol.size() - 5 : 0),
                                                 nullptr)) &&
            set(scope, k.method, method_str(sv(h->method))) && set(scope, k.scheme, Py_NewRef(scheme)) &&
            set(scope, k.path,
                PyUnicode_DecodeUTF8(h->path.ptr, static_cast<Py_ssize_t>(h->path.len), "surrogateescape")) &&
            set(scope, k.raw_path, bytes_of(raw_path.empty() ? sv(h->path) : raw_path)) &&
            set(scope, k.query_string, h->query.len ? bytes_of(sv(h->query)) : Py_NewRef(k.empty_bytes)) &&
            set(scope, k.root_path,
                root_path.empty()
                    ? Py_NewRef(k.empty_str)
                    : PyUnicode_DecodeUTF8(root_path.data(), static_cast<Py_ssize_t>(root_path.size()), "surrogateescape"));
  if (!ok) {
    Py_DECREF(scope);
    return nullptr;
  }
  PyObject* headers = PyList_New(static_cast<Py_ssize_t>(h->header_count));
  if (!headers) {
    Py_DECREF(scope);
    return nullptr;
  }
  for (std::size_t i = 0; i < h->header_count; ++i) {
    PyObject* name = header_name(sv(h->headers[i].name));
    PyObject* value = name ? bytes_of(sv(h->headers[i].value)) : nullptr;
    PyObject* pair = value ? PyTuple_New(2) : nullptr;
    if (!pair) {
      Py_XDECREF(name);
      Py_XDECREF(value);
      Py_DECREF(headers);
      Py_DECREF(scope);
      return nullptr;
    }
    PyTuple_SET_ITEM(pair, 0, name);
    PyTuple_SET_ITEM(pair, 1, value);
    PyList_SET_ITEM(headers, static_cast<Py_ssize_t>(i), pair);
  }
  string_view remote_addr = sv(h->remote_addr), remote_port = sv(h->remote_port);
  if (remote_addr.empty() && c) {
    remote_addr = sv(c->remote_addr);
    remote_port = sv(c->remote_port);
  }
  PyObject* server = nullptr;
  if (c && (c->flags & TRELLIS_CONN_UNIX)) {
    PyObject* p = PyUnicode_DecodeFSDefaultAndSize(c->socket_name.ptr, static_cast<Py_ssize_t>(c->socket_name.len));
    server = p ? PyTuple_Pack(2, p, Py_None) : nullptr;
    Py_XDECREF(p);
  } else {
    server = c ? address(sv(c->local_addr), sv(c->local_port)) : Py_NewRef(Py_None);
  }
  ok = set(scope, k.headers, headers) && set(scope, k.client, address(remote_addr, remote_port)) &&
       set(scope, k.server, server);
  if (ok && g_worker->lifespan_state) ok = set(scope, k.state, PyDict_Copy(g_worker->lifespan_state));
  if (!ok) {
    Py_DECREF(scope);
    return nullptr;
  }
  return scope;
}

// ---- the life of a request ----------------------------------------------------

Request* new_request(trellis_stream* stream) {
  Request* r = PyObject_GC_New(Request, g_request_type);
  if (!r) return nullptr;
  r->stream = stream;
  r->receive_waiter = r->send_waiter = r->task = r->receive = r->send = nullptr;
  r->pending = nullptr;
  const trellis_request_head* h = api()->stream_head(stream);
  r->content_length = h->content_length;
  r->body_end = h->content_length == 0;
  r->body_finished = r->want_sent = r->disconnected = r->started = r->complete = r->app_running = r->queued = false;
  PyObject_GC_Track(reinterpret_cast<PyObject*>(r));
  return r;
}

// The stream is over for the runtime: stream_done, forget it.
void finish_stream(Request* r) {
  trellis_stream* s = r->stream;
  if (!s) return;
  if (r->pending && !r->pending->empty()) {
    std::size_t total = 0;
    for (auto piece : *r->pending) total += piece.size();
    r->pending->clear();
    api()->stream_consume(s, total);
  }
  r->stream = nullptr;
  g_worker->by_stream.erase(s);
  api()->stream_done(s);
  Py_DECREF(reinterpret_cast<PyObject*>(r));  // the map's reference
}

bool start_app(Request* r) {
  PyObject* scope = build_scope(r->stream);
  if (!scope) return false;
  r->receive = PyCFunction_New(&g_receive_def, reinterpret_cast<PyObject*>(r));
  r->send = r->receive ? PyCFunction_New(&g_send_def, reinterpret_cast<PyObject*>(r)) : nullptr;
  if (!r->send) {
    Py_DECREF(scope);
    return false;
  }
  PyObject* args[] = {g_worker->app, scope, r->receive, r->send, reinterpret_cast<PyObject*>(r)};
  PyObject* coro = PyObject_Vectorcall(g_worker->run, args, 5, nullptr);
  Py_DECREF(scope);
  if (!coro) return false;
  PyObject* task = PyObject_CallOneArg(g_worker->create_task, coro);
  Py_DECREF(coro);
  if (!task) return false;
  r->task = task;
  r->app_running = true;
  g_worker->in_app++;
  return true;
}

void start_waiting() {
  while (!g_worker->waiting.empty() &&
         (g_worker->max_concurrency == 0 || g_worker->in_app < g_worker->max_concurrency)) {
    Request* r = g_worker->waiting.front();
    g_worker->waiting.pop_front();
    r->queued = false;
    if (!r->stream) {
      Py_DECREF(reinterpret_cast<PyObject*>(r));
      continue;
    }
    if (!start_app(r)) {
      log_exception(g_worker->host, "asgi: cannot start the application for a request");
      finish_stream(r);
    }
    Py_DECREF(reinterpret_cast<PyObject*>(r));  // the queue's reference
  }
}

}  // namespace

bool init_request_types() noexcept {
  if (g_request_type) return true;
  if (!awaitable::init_type()) return false;
  static PyTypeObject type = {PyVarObject_HEAD_INIT(nullptr, 0)};
  type.tp_name = "trellis.asgi.Request";
  type.tp_basicsize = sizeof(Request);
  type.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC;
  type.tp_dealloc = request_dealloc;
  type.tp_traverse = request_traverse;
  type.tp_clear = request_clear;
  if (PyType_Ready(&type) != 0) return false;
  g_request_type = &type;
  g_names = new (std::nothrow) std::unordered_map<std::string, PyObject*>();
  if (!g_names) return false;
  for (auto& m : g_methods)
    if (!(m.str = intern(m.name))) return false;
#define KEY(field, text) \
  if (!(k.field = intern(text))) return false;
  KEY(type, "type") KEY(asgi, "asgi") KEY(http_version, "http_version") KEY(method, "method") KEY(scheme, "scheme")
  KEY(path, "path") KEY(raw_path, "raw_path") KEY(query_string, "query_string") KEY(root_path, "root_path")
  KEY(headers, "headers") KEY(client, "client") KEY(server, "server") KEY(state, "state") KEY(body, "body")
  KEY(more_body, "more_body") KEY(status, "status") KEY(trailers, "trailers") KEY(extensions, "extensions")
  KEY(http, "http") KEY(http_request, "http.request") KEY(http_disconnect, "http.disconnect")
  KEY(response_start, "http.response.start") KEY(response_body, "http.response.body") KEY(v10, "1.0")
  KEY(v11, "1.1") KEY(v2, "2") KEY(s_http, "http") KEY(s_https, "https") KEY(empty_str, "")
  KEY(done, "done") KEY(set_result, "set_result") KEY(set_exception, "set_exception")
#undef KEY
  k.empty_bytes = PyBytes_FromStringAndSize("", 0);
  k.asgi_info = Py_BuildValue("{s:s,s:s}", "version", "3.0", "spec_version", "2.4");
  k.disconnect_msg = Py_BuildValue("{s:s}", "type", "http.disconnect");
  return k.empty_bytes && k.asgi_info && k.disconnect_msg;
}

trellis_status request_open(trellis_stream* stream) noexcept {
  Request* r = new_request(stream);
  if (!r) {
    PyErr_Clear();
    return TRELLIS_INTERNAL_ERROR;
  }
  try {
    g_worker->by_stream.emplace(stream, r);  // owns the reference new_request made
  } catch (...) {
    r->stream = nullptr;
    Py_DECREF(reinterpret_cast<PyObject*>(r));
    return TRELLIS_INTERNAL_ERROR;
  }
  if (g_worker->max_concurrency && g_worker->in_app >= g_worker->max_concurrency) {
    try {
      g_worker->waiting.push_back(r);
    } catch (...) {
      r->stream = nullptr;
      g_worker->by_stream.erase(stream);
      Py_DECREF(reinterpret_cast<PyObject*>(r));
      return TRELLIS_INTERNAL_ERROR;
    }
    Py_INCREF(reinterpret_cast<PyObject*>(r));
    r->queued = true;
    return TRELLIS_OK;
  }
  if (!start_app(r)) {
    log_exception(g_worker->host, "asgi: cannot start the application for a request");
    finish_stream(r);  // answered 500 by the core
  }
  return TRELLIS_OK;
}

void request_event(trellis_stream* stream, std::uint32_t type, const char* data, std::size_t len) noexcept {
  auto it = g_worker->by_stream.find(stream);
  if (it == g_worker->by_stream.end()) return;
  Request* r = it->second;
  switch (type) {
    case TRELLIS_EVENT_BODY: {
      if (r->receive_waiter) {
        PyObject* body = bytes_of(string_view(data, len));
        if (!body) {
          log_exception(g_worker->host, "asgi: out of memory delivering a request body");
          return;
        }
        api()->stream_consume(stream, len);
        PyObject* m = request_message(body, true);
        Py_DECREF(body);
        if (m) {
          settle(r->receive_waiter, m);
          Py_DECREF(m);
        } else {
          PyErr_Clear();
        }
        return;
      }
      if (!r->pending) r->pending = new (std::nothrow) std::vector<string_view>();
      if (!r->pending) {
        api()->stream_consume(stream, len);
        return;
      }
      try {
        r->pending->emplace_back(data, len);
      } catch (...) {
        api()->stream_consume(stream, len);
      }
      return;
    }
    case TRELLIS_EVENT_BODY_END:
      r->body_end = true;
      if (r->receive_waiter) {
        r->body_finished = true;
        PyObject* m = request_message(k.empty_bytes, false);
        if (m) {
          settle(r->receive_waiter, m);
          Py_DECREF(m);
        } else {
          PyErr_Clear();
        }
      }
      return;
    case TRELLIS_EVENT_WRITABLE:
      if (r->send_waiter) settle(r->send_waiter, Py_None);
      return;
    case TRELLIS_EVENT_DISCONNECT: {
      r->disconnected = true;
      if (r->receive_waiter) settle(r->receive_waiter, k.disconnect_msg);
      if (r->send_waiter) {
        PyObject* err = PyObject_CallOneArg(g_worker->disconnected_error,
                                            PyUnicode_FromString("the client went away"));
        if (err) {
          settle(r->send_waiter, err, true);
          Py_DECREF(err);
        } else {
          PyErr_Clear();
        }
      }
      if (r->queued) finish_stream(r);  // never started: nobody to tell
      return;
    }
    default:
      return;
  }
}

PyObject* app_done(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 2 || Py_TYPE(args[0]) != g_request_type) {
    PyErr_SetString(PyExc_TypeError, "app_done(request, exception)");
    return nullptr;
  }
  auto* r = reinterpret_cast<Request*>(args[0]);
  PyObject* exc = args[1];
  Py_INCREF(reinterpret_cast<PyObject*>(r));  // finish_stream may drop the map's
  if (exc != Py_None) {
    const bool cancelled = !PyObject_IsInstance(exc, PyExc_Exception);
    // The client left and the app let our ClientDisconnected propagate: the
    // spec says that is not an error to log.
    const bool client_left = r->disconnected && PyObject_IsInstance(exc, g_worker->disconnected_error) == 1;
    if (client_left) {
      g_worker->host.log(sdk::LogLevel::debug, "asgi: the client went away during the response");
    } else if (!cancelled || !r->started) {
      PyErr_Restore(Py_NewRef(reinterpret_cast<PyObject*>(Py_TYPE(exc))), Py_NewRef(exc),
                    PyException_GetTraceback(exc));
      log_exception(g_worker->host, r->started ? "asgi: the application raised after the response started; the "
                                                 "connection is cut"
                                               : "asgi: the application raised; answering 500");
    }
    if (r->stream && r->started && !r->complete) api()->stream_abort(r->stream);
  } else if (r->stream && !r->started) {
    g_worker->host.log(sdk::LogLevel::error, "asgi: the application returned without sending a response; answering 500");
  } else if (r->stream && !r->complete) {
    g_worker->host.log(sdk::LogLevel::error,
                       "asgi: the application returned before its response was complete; the connection is cut");
  }
  finish_stream(r);
  Py_CLEAR(r->task);
  Py_CLEAR(r->receive_waiter);
  Py_CLEAR(r->send_waiter);
  if (r->app_running) {
    r->app_running = false;
    g_worker->in_app--;
  }
  Py_DECREF(reinterpret_cast<PyObject*>(r));
  start_waiting();
  Py_RETURN_NONE;
}

}  // namespace trellis::asgi
