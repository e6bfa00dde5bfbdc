// exception_boundary.hpp on its own: py_entry<> (what CPython calls) and
// host_guard() (what the core calls), with an embedded interpreter. Each
// C++ exception kind maps to its Python exception or log line, each slot
// return type gets its error value. python_cxx_exceptions_test covers the
// real plugin.
#include "exception_boundary.hpp"  // Python.h first

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "harness.hpp"

namespace trellis::python {
namespace {

using test::FakeHost;
using sdk::LogLevel;
using sdk::Status;

// Functions shaped like the plugin's slots, each throwing something.
PyObject* noargs_bad_alloc(PyObject*, PyObject*) { throw std::bad_alloc(); }
PyObject* noargs_runtime_error(PyObject*, PyObject*) { throw std::runtime_error("disk on fire"); }
PyObject* noargs_int(PyObject*, PyObject*) { throw 42; }
PyObject* noargs_fine(PyObject*, PyObject*) { return PyLong_FromLong(7); }
PyObject* fastcall_out_of_range(PyObject*, PyObject* const*, Py_ssize_t) { throw std::out_of_range("index 9"); }
PyObject* iternext_length_error(PyObject*) { throw std::length_error("basic_string::_M_create"); }
int traverse_bad_alloc(PyObject*, visitproc, void*) { throw std::bad_alloc(); }
Py_ssize_t length_runtime_error(PyObject*) { throw std::runtime_error("no length"); }
void dealloc_bad_alloc(PyObject*) { throw std::bad_alloc(); }
void dealloc_fine(PyObject*) {}

class ExceptionBoundary : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!Py_IsInitialized()) Py_InitializeEx(0);  // this thread keeps the GIL
  }
  void TearDown() override { PyErr_Clear(); }

  // "TypeName: message" of the pending exception, which is cleared.
  static std::string take_error() {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (!type) return "(none)";
    PyErr_NormalizeException(&type, &value, &tb);
    std::string out = reinterpret_cast<PyTypeObject*>(type)->tp_name;
    Ref text(value ? PyObject_Str(value) : nullptr);
    const char* utf8 = text ? PyUnicode_AsUTF8(text.get()) : nullptr;
    if (utf8 && *utf8) out += std::string(": ") + utf8;
    PyErr_Clear();
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return out;
  }
};

// ---------------------------------------------------------------- py_entry

TEST_F(ExceptionBoundary, BadAllocBecomesMemoryError) {
  EXPECT_EQ(py_entry<noargs_bad_alloc>(Py_None, nullptr), nullptr);
  EXPECT_EQ(take_error(), "MemoryError");
}

TEST_F(ExceptionBoundary, StdExceptionBecomesRuntimeErrorWithItsMessage) {
  EXPECT_EQ(py_entry<noargs_runtime_error>(Py_None, nullptr), nullptr);
  EXPECT_EQ(take_error(), "RuntimeError: trellis: disk on fire");
  EXPECT_EQ(py_entry<fastcall_out_of_range>(Py_None, nullptr, 0), nullptr);
  EXPECT_EQ(take_error(), "RuntimeError: trellis: index 9");
  EXPECT_EQ(py_entry<iternext_length_error>(Py_None), nullptr);
  EXPECT_EQ(take_error(), "RuntimeError: trellis: basic_string::_M_create");
}

TEST_F(ExceptionBoundary, UnknownExceptionBecomesRuntimeError) {
  EXPECT_EQ(py_entry<noargs_int>(Py_None, nullptr), nullptr);
  EXPECT_EQ(take_error(), "RuntimeError: trellis: unknown C++ exception");
}

TEST_F(ExceptionBoundary, IntegerSlotsFailWithMinusOne) {
  EXPECT_EQ(py_entry<traverse_bad_alloc>(Py_None, nullptr, nullptr), -1);
  EXPECT_EQ(take_error(), "MemoryError");
  EXPECT_EQ(py_entry<length_runtime_error>(Py_None), -1);
  EXPECT_EQ(take_error(), "RuntimeError: trellis: no length");
}

TEST_F(ExceptionBoundary, NothingThrownPassesTheResultThrough) {
  Ref r(py_entry<noargs_fine>(Py_None, nullptr));
  ASSERT_TRUE(r);
  EXPECT_EQ(PyLong_AsLong(r.get()), 7);
  EXPECT_FALSE(PyErr_Occurred());
  py_entry<dealloc_fine>(Py_None);
  EXPECT_FALSE(PyErr_Occurred());
}

TEST_F(ExceptionBoundary, VoidSlotsReportUnraisableAndKeepThePendingError) {
  // A dealloc can run while an exception propagates: that one must survive.
  ASSERT_EQ(PyRun_SimpleString("import sys\n"
                               "seen = []\n"
                               "sys.unraisablehook = lambda u: seen.append(u.exc_type.__name__)\n"),
            0);
  PyErr_SetString(PyExc_ValueError, "already raised");
  py_entry<dealloc_bad_alloc>(Py_None);
  EXPECT_EQ(take_error(), "ValueError: already raised");
  Ref main(PyImport_ImportModule("__main__"));
  ASSERT_TRUE(main);
  Ref seen(PyObject_GetAttrString(main.get(), "seen"));
  ASSERT_TRUE(seen);
  Ref text(PyObject_Repr(seen.get()));
  EXPECT_STREQ(PyUnicode_AsUTF8(text.get()), "['MemoryError']");
}

TEST_F(ExceptionBoundary, PythonCodeCatchesItThroughARealCall) {
  // Called by CPython's own machinery, as a builtin function is.
  static PyMethodDef def = {"boom", py_entry<noargs_runtime_error>, METH_NOARGS, nullptr};
  Ref fn(PyCFunction_New(&def, nullptr));
  ASSERT_TRUE(fn);
  Ref globals(PyDict_New());
  ASSERT_EQ(PyDict_SetItemString(globals.get(), "boom", fn.get()), 0);
  ASSERT_EQ(PyDict_SetItemString(globals.get(), "__builtins__", PyEval_GetBuiltins()), 0);
  Ref r(PyRun_String("try:\n    boom()\n    caught = None\nexcept RuntimeError as e:\n    caught = str(e)\n",
                     Py_file_input, globals.get(), globals.get()));
  ASSERT_TRUE(r) << take_error();
  PyObject* caught = PyDict_GetItemString(globals.get(), "caught");  // borrowed
  ASSERT_TRUE(caught && PyUnicode_Check(caught));
  EXPECT_STREQ(PyUnicode_AsUTF8(caught), "trellis: disk on fire");
}

// ---------------------------------------------------------------- host_guard

TEST_F(ExceptionBoundary, HostGuardLogsAndReturnsInternalError) {
  FakeHost host;
  EXPECT_EQ(host_guard(host.host(), "python: here", []() -> Status { throw std::bad_alloc(); }),
            Status::internal_error);
  EXPECT_TRUE(test::logged(host, "python: here: out of memory", LogLevel::error)) << all_logs(host);
  EXPECT_EQ(host_guard(host.host(), "python: there", []() -> Status { throw std::runtime_error("disk on fire"); }),
            Status::internal_error);
  EXPECT_TRUE(test::logged(host, "python: there: disk on fire", LogLevel::error)) << all_logs(host);
  EXPECT_EQ(host_guard(host.host(), "python: elsewhere", []() -> Status { throw 42; }), Status::internal_error);
  EXPECT_TRUE(test::logged(host, "python: elsewhere: unknown C++ exception", LogLevel::error)) << all_logs(host);
}

TEST_F(ExceptionBoundary, HostGuardRunsTheCleanupAndReturnsItsResult) {
  FakeHost host;
  bool cleaned = false;
  Status st = host_guard(
      host.host(), "python: request", []() -> Status { throw std::bad_alloc(); },
      [&]() noexcept {
        cleaned = true;
        return Status::app_error;
      });
  EXPECT_TRUE(cleaned);
  EXPECT_EQ(st, Status::app_error);
  EXPECT_EQ(test::log_count(host), 1u);
}

TEST_F(ExceptionBoundary, HostGuardWithoutExceptionPassesTheResultThrough) {
  FakeHost host;
  EXPECT_EQ(host_guard(host.host(), "python: fine", [] { return Status::too_large; }), Status::too_large);
  bool ran = false;
  host_guard(host.host(), "python: void", [&] { ran = true; });
  EXPECT_TRUE(ran);
  EXPECT_EQ(test::log_count(host), 0u);
}

TEST_F(ExceptionBoundary, HostGuardOfAVoidHookOnlyLogs) {
  FakeHost host;
  host_guard(host.host(), "python: void throws", []() { throw std::runtime_error("in a hook"); });
  EXPECT_EQ(test::log_count(host), 1u);
  EXPECT_TRUE(test::logged(host, "python: void throws: in a hook", LogLevel::error)) << all_logs(host);
}

}  // namespace
}  // namespace trellis::python
