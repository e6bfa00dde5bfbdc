// The one way this plugin includes Python.h. Python.h must come before any
// standard header (it sets feature-test macros), so every source file
// includes this first.
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string_view>

namespace trellis::python {

// A new reference, released automatically. Only for code that holds the GIL.
class Ref {
 public:
  Ref() noexcept = default;
  explicit Ref(PyObject* owned) noexcept : p_(owned) {}
  Ref(const Ref&) = delete;
  Ref& operator=(const Ref&) = delete;
  Ref(Ref&& o) noexcept : p_(o.p_) { o.p_ = nullptr; }
  Ref& operator=(Ref&& o) noexcept {
    if (this != &o) {
      Py_XDECREF(p_);
      p_ = o.p_;
      o.p_ = nullptr;
    }
    return *this;
  }
  ~Ref() { Py_XDECREF(p_); }

  PyObject* get() const noexcept { return p_; }
  PyObject* release() noexcept {
    PyObject* p = p_;
    p_ = nullptr;
    return p;
  }
  explicit operator bool() const noexcept { return p_ != nullptr; }

 private:
  PyObject* p_ = nullptr;
};

// Latin-1 ("bytes as str", PEP 3333's native strings) from raw bytes.
inline PyObject* latin1(std::string_view s) noexcept {
  return PyUnicode_DecodeLatin1(s.data(), static_cast<Py_ssize_t>(s.size()), nullptr);
}

// The bytes of a str whose every character is < 256, without copying: such
// a string is stored one byte per character, which is exactly its latin-1
// encoding. False (nothing set) for anything else.
inline bool latin1_view(PyObject* str, std::string_view& out) noexcept {
  if (!PyUnicode_Check(str) || PyUnicode_KIND(str) != PyUnicode_1BYTE_KIND) return false;
  out = std::string_view(reinterpret_cast<const char*>(PyUnicode_1BYTE_DATA(str)),
                         static_cast<std::size_t>(PyUnicode_GET_LENGTH(str)));
  return true;
}

// Releases the GIL for a blocking call (socket I/O) and takes it back.
class GilRelease {
 public:
  GilRelease() noexcept : saved_(PyEval_SaveThread()) {}
  GilRelease(const GilRelease&) = delete;
  GilRelease& operator=(const GilRelease&) = delete;
  ~GilRelease() { PyEval_RestoreThread(saved_); }

 private:
  PyThreadState* saved_;
};

}  // namespace trellis::python
