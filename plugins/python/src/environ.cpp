#include "environ.hpp"

#include <cctype>
#include <string>
#include <unordered_map>

#include "exception_boundary.hpp"
#include "file_wrapper.hpp"

namespace trellis::python::environ {
namespace {

// Interned keys: dict lookups by the application then hit the identity
// fast path, and nothing is allocated for them per request.
struct Keys {
  PyObject *REQUEST_METHOD, *SCRIPT_NAME, *PATH_INFO, *QUERY_STRING, *CONTENT_TYPE, *CONTENT_LENGTH,
      *SERVER_NAME, *SERVER_PORT, *SERVER_PROTOCOL, *REMOTE_ADDR, *REMOTE_PORT, *REQUEST_URI;
  PyObject *version, *url_scheme, *input, *errors, *multithread, *multiprocess, *run_once, *input_terminated,
      *file_wrapper;
} k;

// Values that repeat across requests.
PyObject* g_empty = nullptr;
PyObject* g_template = nullptr;
struct Cached {
  const char* text;
  PyObject* obj;
};
Cached g_methods[] = {{"GET", nullptr},    {"POST", nullptr},    {"HEAD", nullptr}, {"PUT", nullptr},
                      {"DELETE", nullptr}, {"OPTIONS", nullptr}, {"PATCH", nullptr}};
Cached g_protocols[] = {{"HTTP/1.1", nullptr}, {"HTTP/1.0", nullptr}};
Cached g_schemes[] = {{"http", nullptr}, {"https", nullptr}};

// HTTP_* keys by header name. Bounded: a client sending random header
// names must not grow it forever; past the bound keys are built per use.
constexpr std::size_t kMaxHeaderKeys = 512;
std::unordered_map<std::string, PyObject*> g_header_keys;
std::string g_scratch;  // GIL-protected, reused to avoid allocating

bool intern(PyObject*& slot, const char* text) {
  slot = PyUnicode_InternFromString(text);
  return slot != nullptr;
}

template <std::size_t N>
bool fill(Cached (&table)[N]) {
  for (auto& c : table)
    if (!intern(c.obj, c.text)) return false;
  return true;
}

// A new reference to the str for `s`, shared when it is a common value.
template <std::size_t N>
PyObject* value(std::string_view s, const Cached (&table)[N]) {
  for (const auto& c : table)
    if (s == c.text) return Py_NewRef(c.obj);
  return s.empty() ? Py_NewRef(g_empty) : latin1(s);
}

PyObject* value(std::string_view s) { return s.empty() ? Py_NewRef(g_empty) : latin1(s); }

bool ieq(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != lower[i]) return false;
  return true;
}

// Stores (key, value), stealing `val`. With `keep_existing`, a key already
// present (a variable the front end sent, given verbatim) wins.
bool put(PyObject* env, PyObject* key, PyObject* val, bool keep_existing) {
  if (!val) return false;
  int rc;
  if (keep_existing) {
    rc = PyDict_SetDefault(env, key, val) ? 0 : -1;
  } else {
    rc = PyDict_SetItem(env, key, val);
  }
  Py_DECREF(val);
  return rc == 0;
}

// A new reference to the key "HTTP_<NAME>" for a header name, or nullptr
// without an exception when the header must not be passed on.
// The environ key spelled in g_scratch: interned once and cached (bounded),
// since the same names come back on every request.
PyObject* cached_key() {
  auto it = g_header_keys.find(g_scratch);
  if (it != g_header_keys.end()) return Py_NewRef(it->second);
  Ref key(PyUnicode_DecodeLatin1(g_scratch.data(), static_cast<Py_ssize_t>(g_scratch.size()), nullptr));
  if (!key) return nullptr;
  if (g_header_keys.size() < kMaxHeaderKeys) {
    PyObject* interned = key.release();
    PyUnicode_InternInPlace(&interned);
    key = Ref(interned);
    g_header_keys.emplace(g_scratch, interned);  // may throw: the key is still owned by `key` alone
    Py_INCREF(interned);                          // the cache's reference
  }
  return key.release();
}

PyObject* header_key(std::string_view name) {
  // "X_Forwarded_For" would collide with "X-Forwarded-For" once mapped and
  // could spoof what a proxy set: drop names with underscores, as nginx and
  // gunicorn do.
  g_scratch.assign("HTTP_");
  for (char c : name) {
    if (c == '_') return nullptr;
    g_scratch.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return cached_key();
}

// A variable name from the front end (nginx sends the same dozen on every
// request): decoded once, then shared from the same cache as header keys.
PyObject* variable_key(std::string_view name) {
  g_scratch.assign(name);
  return cached_key();
}

// A field already given a key in this environ: the protocol hands repeats
// one by one (trellis_request_head), PEP 3333 wants one value, so they are
// joined in order of arrival, Cookie with "; " (RFC 6265 §5.4), anything
// else with ", " (RFC 9110 §5.3). Returns a new reference.
PyObject* joined(PyObject* before, bool cookie, std::string_view more) {
  g_scratch.assign(cookie ? "; " : ", ");
  g_scratch.append(more);
  Ref tail(latin1(g_scratch));
  if (!tail) return nullptr;
  return PyUnicode_Concat(before, tail.get());
}

bool add_headers(PyObject* env, const sdk::Request& r, bool keep_existing) {
  for (const sdk::Field f : r.headers) {
    PyObject* key;
    bool content = true;
    if (ieq(f.name, "content-type")) {
      key = Py_NewRef(k.CONTENT_TYPE);
    } else if (ieq(f.name, "content-length")) {
      key = Py_NewRef(k.CONTENT_LENGTH);
    } else {
      content = false;
      key = header_key(f.name);
      if (!key) {
        if (PyErr_Occurred()) return false;
        continue;
      }
    }
    Ref owned_key(key);
    // Only a header's own key can be there already, or CONTENT_TYPE and
    // CONTENT_LENGTH from a front end's variables (which win): HTTP_*
    // variables are skipped when the request has headers.
    PyObject* before = PyDict_GetItemWithError(env, key);  // borrowed
    if (!before && PyErr_Occurred()) return false;
    if (before && !(content && keep_existing)) {
      if (!put(env, key, joined(before, !content && ieq(f.name, "cookie"), f.value), false)) return false;
      continue;
    }
    if (!put(env, key, value(f.value), keep_existing)) return false;
  }
  return true;
}

bool add_derived(PyObject* env, const sdk::Request& r, bool keep) {
  std::string_view port = r.server_port;
  if (port.empty()) port = (r.scheme == "https") ? "443" : "80";
  return put(env, k.REQUEST_METHOD, value(r.method, g_methods), keep) &&
         put(env, k.PATH_INFO, value(r.path), keep) && put(env, k.QUERY_STRING, value(r.query), keep) &&
         put(env, k.REQUEST_URI, value(r.uri), keep) &&
         put(env, k.SERVER_PROTOCOL, value(r.protocol, g_protocols), keep) &&
         put(env, k.SERVER_NAME, value(r.server_name.empty() ? std::string_view("localhost") : r.server_name),
             keep) &&
         put(env, k.SERVER_PORT, value(port), keep) && put(env, k.REMOTE_ADDR, value(r.remote_addr), keep) &&
         put(env, k.REMOTE_PORT, value(r.remote_port), keep) && add_headers(env, r, keep);
}

bool add_variables(PyObject* env, const sdk::Request& r) {
  for (const sdk::Field f : r.variables) {
    // nginx sends one HTTP_* var per header line, and the protocol maps
    // each to a header in Request::headers; add_derived() turns those into
    // the HTTP_* keys, joining repeats. Copying the vars here would keep
    // only the last line.
    if (!r.headers.empty() && f.name.starts_with("HTTP_")) continue;
    Ref key(variable_key(f.name));
    if (!key || !put(env, key.get(), value(f.value), false)) return false;
  }
  return true;
}

PyObject* build_dict(const sdk::Request& r, PyObject* input, PyObject* errors) {
  // Copying a small dict clones its hash table in one go: cheaper than
  // inserting the constant keys one by one.
  Ref env(PyDict_Copy(g_template));
  if (!env) return nullptr;
  PyObject* e = env.get();
  const bool vars = !r.variables.empty();
  // Variables a front end computed (a uwsgi vars block from nginx) go in
  // verbatim and win; derived values then only fill what they left out.
  if (vars && !add_variables(e, r)) return nullptr;
  if (!add_derived(e, r, vars)) return nullptr;
  if (!put(e, k.url_scheme, value(r.scheme.empty() ? std::string_view("http") : r.scheme, g_schemes), false) ||
      PyDict_SetItem(e, k.input, input) != 0 || PyDict_SetItem(e, k.errors, errors) != 0)
    return nullptr;
  if (!r.body_terminated && PyDict_SetItem(e, k.input_terminated, Py_False) != 0) return nullptr;
  return env.release();
}

}  // namespace

bool init(const Settings& s) noexcept {
  if (g_template) return true;
  bool ok = intern(k.REQUEST_METHOD, "REQUEST_METHOD") && intern(k.SCRIPT_NAME, "SCRIPT_NAME") &&
            intern(k.PATH_INFO, "PATH_INFO") && intern(k.QUERY_STRING, "QUERY_STRING") &&
            intern(k.CONTENT_TYPE, "CONTENT_TYPE") && intern(k.CONTENT_LENGTH, "CONTENT_LENGTH") &&
            intern(k.SERVER_NAME, "SERVER_NAME") && intern(k.SERVER_PORT, "SERVER_PORT") &&
            intern(k.SERVER_PROTOCOL, "SERVER_PROTOCOL") && intern(k.REMOTE_ADDR, "REMOTE_ADDR") &&
            intern(k.REMOTE_PORT, "REMOTE_PORT") && intern(k.REQUEST_URI, "REQUEST_URI") &&
            intern(k.version, "wsgi.version") && intern(k.url_scheme, "wsgi.url_scheme") &&
            intern(k.input, "wsgi.input") && intern(k.errors, "wsgi.errors") &&
            intern(k.multithread, "wsgi.multithread") && intern(k.multiprocess, "wsgi.multiprocess") &&
            intern(k.run_once, "wsgi.run_once") && intern(k.input_terminated, "wsgi.input_terminated") &&
            intern(k.file_wrapper, "wsgi.file_wrapper") && intern(g_empty, "") && fill(g_methods) &&
            fill(g_protocols) && fill(g_schemes);
  if (!ok) return false;
  Ref tmpl(PyDict_New());
  if (!tmpl) return false;
  PyObject* env = tmpl.get();
  ok = put(env, k.SCRIPT_NAME, Py_NewRef(g_empty), false) &&
       put(env, k.version, Py_BuildValue("(ii)", 1, 0), false) &&
       put(env, k.multithread, PyBool_FromLong(s.threads > 1), false) &&
       put(env, k.multiprocess, PyBool_FromLong(s.processes > 1), false) &&
       put(env, k.run_once, Py_NewRef(Py_False), false) &&
       put(env, k.input_terminated, Py_NewRef(Py_True), false) &&
       put(env, k.file_wrapper, Py_NewRef(file_wrapper::type()), false);
  if (!ok) return false;
  g_template = tmpl.release();
  return true;
}

PyObject* build(const sdk::Request& r, PyObject* input, PyObject* errors) noexcept {
  // The header key cache and its scratch string are C++ containers: a
  // failed allocation there is a MemoryError like any other here.
  return py_guard([&] { return build_dict(r, input, errors); });
}

}  // namespace trellis::python::environ
