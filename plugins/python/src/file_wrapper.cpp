#include "file_wrapper.hpp"

#include <structmember.h>  // PyMemberDef, T_OBJECT

#include <cstddef>

#include "exception_boundary.hpp"

namespace trellis::python::file_wrapper {
namespace {

struct FileWrapper {
  PyObject_HEAD
  PyObject* filelike;
  Py_ssize_t blksize;
};

PyTypeObject* g_type = nullptr;

FileWrapper* self_of(PyObject* o) { return reinterpret_cast<FileWrapper*>(o); }

PyObject* tp_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
  static const char* kwlist[] = {"filelike", "block_size", nullptr};
  PyObject* filelike = nullptr;
  Py_ssize_t blksize = 8192;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|n:file_wrapper", const_cast<char**>(kwlist), &filelike,
                                   &blksize))
    return nullptr;
  if (blksize <= 0) {
    PyErr_SetString(PyExc_ValueError, "file_wrapper block size must be positive");
    return nullptr;
  }
  PyObject* self = type->tp_alloc(type, 0);
  if (!self) return nullptr;
  self_of(self)->filelike = Py_NewRef(filelike);
  self_of(self)->blksize = blksize;
  return self;
}

// The fallback when no file descriptor can be used: iterate in blocks.
PyObject* iternext(PyObject* self) {
  FileWrapper* w = self_of(self);
  PyObject* data = PyObject_CallMethod(w->filelike, "read", "n", w->blksize);
  if (!data) return nullptr;
  Py_ssize_t n = PyObject_Length(data);
  if (n <= 0) {
    Py_DECREF(data);
    return nullptr;  // with an exception if n < 0, else StopIteration
  }
  return data;
}

// PEP 3333: close() of the wrapper closes the wrapped object if it can.
PyObject* close(PyObject* self, PyObject*) {
  PyObject* filelike = self_of(self)->filelike;
  if (filelike && PyObject_HasAttrString(filelike, "close")) return PyObject_CallMethod(filelike, "close", nullptr);
  Py_RETURN_NONE;
}

int traverse(PyObject* self, visitproc visit, void* arg) {
  Py_VISIT(Py_TYPE(self));
  Py_VISIT(self_of(self)->filelike);
  return 0;
}

int clear(PyObject* self) {
  Py_CLEAR(self_of(self)->filelike);
  return 0;
}

void dealloc(PyObject* self) {
  PyTypeObject* tp = Py_TYPE(self);
  PyObject_GC_UnTrack(self);
  clear(self);
  tp->tp_free(self);
  Py_DECREF(tp);
}

PyMemberDef kMembers[] = {
    {"filelike", T_OBJECT, offsetof(FileWrapper, filelike), READONLY, nullptr},
    {"blksize", T_PYSSIZET, offsetof(FileWrapper, blksize), READONLY, nullptr},
    {nullptr, 0, 0, 0, nullptr},
};

PyMethodDef kMethods[] = {
    {"close", py_entry<close>, METH_NOARGS, "closes the wrapped file"},
    {nullptr, nullptr, 0, nullptr},
};

PyType_Slot kSlots[] = {
    {Py_tp_new, reinterpret_cast<void*>(py_entry<tp_new>)},
    {Py_tp_dealloc, reinterpret_cast<void*>(py_entry<dealloc>)},
    {Py_tp_traverse, reinterpret_cast<void*>(py_entry<traverse>)},
    {Py_tp_clear, reinterpret_cast<void*>(py_entry<clear>)},
    {Py_tp_iter, reinterpret_cast<void*>(PyObject_SelfIter)},
    {Py_tp_iternext, reinterpret_cast<void*>(py_entry<iternext>)},
    {Py_tp_methods, kMethods},
    {Py_tp_members, kMembers},
    {Py_tp_doc, const_cast<char*>("file_wrapper(filelike, block_size=8192): wsgi.file_wrapper")},
    {0, nullptr},
};

PyType_Spec kSpec = {
    "trellis.FileWrapper", sizeof(FileWrapper), 0, Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, kSlots,
};

}  // namespace

bool init_type() noexcept {
  if (!g_type) g_type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&kSpec));
  return g_type != nullptr;
}

PyObject* type() noexcept { return reinterpret_cast<PyObject*>(g_type); }

bool check(PyObject* obj) noexcept { return Py_IS_TYPE(obj, g_type); }

PyObject* filelike(PyObject* wrapper) noexcept { return self_of(wrapper)->filelike; }

}  // namespace trellis::python::file_wrapper
