#include "awaitable.hpp"

namespace trellis::asgi::awaitable {
namespace {

struct Ready {
  PyObject_HEAD
  PyObject* value;  // owned; nullptr once given
};

PyTypeObject* g_type = nullptr;
PyObject* g_none = nullptr;

void dealloc(PyObject* self) {
  Py_CLEAR(reinterpret_cast<Ready*>(self)->value);
  PyObject_Free(self);
}

PyObject* await_self(PyObject* self) { return Py_NewRef(self); }

PySendResult am_send(PyObject* self, PyObject*, PyObject** result) {
  auto* r = reinterpret_cast<Ready*>(self);
  *result = r->value ? Py_NewRef(r->value) : Py_NewRef(Py_None);
  return PYGEN_RETURN;
}

// The path without am_send (a tracer is set): StopIteration(value).
PyObject* iternext(PyObject* self) {
  auto* r = reinterpret_cast<Ready*>(self);
  if (!r->value || r->value == Py_None) return nullptr;  // StopIteration, result None
  PyObject* args = PyTuple_Pack(1, r->value);
  if (!args) return nullptr;
  PyErr_SetObject(PyExc_StopIteration, args);
  Py_DECREF(args);
  return nullptr;
}

PyAsyncMethods g_async = {await_self, nullptr, nullptr, am_send};

}  // namespace

bool init_type() noexcept {
  if (g_type) return true;
  static PyTypeObject type = {PyVarObject_HEAD_INIT(nullptr, 0)};
  type.tp_name = "trellis.asgi.Ready";
  type.tp_basicsize = sizeof(Ready);
  type.tp_flags = Py_TPFLAGS_DEFAULT;
  type.tp_dealloc = dealloc;
  type.tp_as_async = &g_async;
  type.tp_iter = await_self;
  type.tp_iternext = iternext;
  if (PyType_Ready(&type) != 0) return false;
  g_type = &type;
  g_none = ready(Py_None);
  return g_none != nullptr;
}

PyObject* ready(PyObject* value) noexcept {
  Ready* r = PyObject_New(Ready, g_type);
  if (!r) return nullptr;
  r->value = Py_NewRef(value);
  return reinterpret_cast<PyObject*>(r);
}

PyObject* ready_none() noexcept { return Py_NewRef(g_none); }

}  // namespace trellis::asgi::awaitable
