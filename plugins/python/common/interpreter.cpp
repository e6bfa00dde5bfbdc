#include "py.hpp"

#include "interpreter.hpp"

#include "exception_boundary.hpp"
#include "traceback.hpp"

#include <dlfcn.h>
#include <limits.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace trellis::python::interpreter {
namespace {

// Set by whoever initialised Python in this process.
bool g_started_here = false;
// The GIL state taken by acquire(), for release().
PyGILState_STATE g_acquire_state;

// Set between before_fork() and the end of the fork that follows.
bool g_fork_pending = false;
PyGILState_STATE g_fork_state;

// Everything in this file runs inside noexcept functions: messages go
// through fixed buffers (Host::logf), never a std::string that could throw.
void log_status(sdk::Host& host, const char* who, const char* what, const PyStatus& st) {
  char exit_code[32] = "";
  if (PyStatus_IsExit(st)) std::snprintf(exit_code, sizeof exit_code, " (exit code %d)", st.exitcode);
  host.logf(sdk::LogLevel::error, "%s: %s failed%s%s%s%s%s", who, what, st.func ? " in " : "", st.func ? st.func : "",
            st.err_msg ? ": " : "", st.err_msg ? st.err_msg : "", exit_code);
}

// Prepends `entry` to sys.path unless it is already there.
bool prepend_sys_path(const std::string& entry) {
  PyObject* path = PySys_GetObject("path");  // borrowed
  if (!path || !PyList_Check(path)) {
    PyErr_SetString(PyExc_RuntimeError, "sys.path is not a list");
    return false;
  }
  Ref item(PyUnicode_DecodeFSDefault(entry.c_str()));
  if (!item) return false;
  int present = PySequence_Contains(path, item.get());
  if (present < 0) return false;
  if (present) return true;
  return PyList_Insert(path, 0, item.get()) == 0;
}

sdk::Status start(const AppSettings& s, sdk::Host& host) noexcept {
  // Python finds its prefix (and a virtualenv, through the pyvenv.cfg next
  // to it) from the executable. Name the system Python explicitly: the first
  // python3 on PATH may be another installation entirely.
  char executable[PATH_MAX];
  int len = s.home.empty() ? std::snprintf(executable, sizeof executable, "%s", TRELLIS_PYTHON_EXECUTABLE)
                           : std::snprintf(executable, sizeof executable, "%s/bin/python3", s.home.c_str());
  if (len < 0 || static_cast<std::size_t>(len) >= sizeof executable) {
    host.logf(sdk::LogLevel::error, "%s: --home is longer than PATH_MAX", s.plugin.c_str());
    return sdk::Status::app_error;
  }
  PyConfig config;
  // The "Python" configuration (not isolated): PYTHONPATH and friends keep
  // working as they do for `python3`, like in uWSGI.
  PyConfig_InitPythonConfig(&config);
  // The core owns signals; Python must not install SIGINT etc.
  config.install_signal_handlers = 0;
  config.parse_argv = 0;
  const char* argv[] = {"trellis"};
  PyStatus st = PyConfig_SetBytesString(&config, &config.program_name, executable);
  if (!PyStatus_Exception(st)) st = PyConfig_SetBytesString(&config, &config.executable, executable);
  if (!PyStatus_Exception(st)) st = PyConfig_SetBytesArgv(&config, 1, const_cast<char* const*>(argv));
  if (!PyStatus_Exception(st)) st = Py_InitializeFromConfig(&config);
  PyConfig_Clear(&config);
  if (PyStatus_Exception(st)) {
    log_status(host, s.plugin.c_str(), "interpreter initialisation", st);
    return sdk::Status::app_error;
  }
  g_started_here = true;
  return sdk::Status::ok;
}

}  // namespace

void make_libpython_global(sdk::Host& host) noexcept {
  // Find the libpython this plugin is linked to by one of its symbols, so
  // the right file is promoted even when several Pythons are installed.
  Dl_info info{};
  const char* name = TRELLIS_LIBPYTHON_SONAME;
  if (dladdr(reinterpret_cast<void*>(&Py_IsInitialized), &info) && info.dli_fname) name = info.dli_fname;
  if (!dlopen(name, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL)) {
    const char* err = dlerror();
    host.logf(sdk::LogLevel::warn, "python: cannot make libpython global (C extensions may fail to import): %s",
              err ? err : name);
  }
}

sdk::Status acquire(const AppSettings& s, sdk::Host& host) noexcept {
  // Before Python starts, so relative paths (wsgi-file, sys.path[0]) and
  // the application's own open() calls see the directory asked for.
  if (!s.chdir.empty() && ::chdir(s.chdir.c_str()) != 0) {
    host.logf(sdk::LogLevel::error, "%s: chdir(%s) failed", s.plugin.c_str(), s.chdir.c_str());
    return sdk::Status::app_error;
  }
  if (!Py_IsInitialized()) {
    if (auto st = start(s, host); st != sdk::Status::ok) return st;
  }
  // The initialising thread holds the GIL through its own thread state;
  // Ensure() finds it and only bumps its counter, so release() is uniform.
  g_acquire_state = PyGILState_Ensure();
  for (auto it = s.pythonpath.rbegin(); it != s.pythonpath.rend(); ++it) {
    if (!prepend_sys_path(*it)) {
      PyErr_Clear();
      host.logf(sdk::LogLevel::error, "%s: cannot add %s to sys.path", s.plugin.c_str(), it->c_str());
    }
  }
  return sdk::Status::ok;
}

void release() noexcept {
  PyGILState_Release(g_acquire_state);
  // The thread that initialised Python still holds the GIL through its
  // main thread state (Release only undid our Ensure): let application
  // threads have it. PyGILState_Ensure() on this thread finds that state.
  if (g_started_here && PyGILState_Check()) PyEval_SaveThread();
}

bool started() noexcept { return Py_IsInitialized() != 0; }

void before_fork() noexcept {
  if (!Py_IsInitialized() || g_fork_pending) return;
  g_fork_state = PyGILState_Ensure();
  PyOS_BeforeFork();
  g_fork_pending = true;
}

void after_fork_parent() noexcept {
  if (!g_fork_pending) return;  // a fork we did not prepare
  g_fork_pending = false;
  PyOS_AfterFork_Parent();
  PyGILState_Release(g_fork_state);
}

void after_fork_child() noexcept {
  if (!g_fork_pending) return;
  g_fork_pending = false;
  // Resets the GIL and the import lock, forgets the parent's other threads.
  PyOS_AfterFork_Child();
  PyGILState_Release(g_fork_state);
}

void run_exit_handlers(sdk::Host& host, const char* plugin) noexcept {
  if (!started()) return;
  PyGILState_STATE gil = PyGILState_Ensure();
  char where[64], failed[64];
  std::snprintf(where, sizeof where, "%s: internal error at worker shutdown", plugin);
  std::snprintf(failed, sizeof failed, "%s: atexit handlers failed", plugin);
  host_guard(host, where, [&] {
    Ref atexit(PyImport_ImportModule("atexit"));
    if (!atexit || !Ref(PyObject_CallMethod(atexit.get(), "_run_exitfuncs", nullptr))) log_exception(host, failed);
    for (const char* stream : {"stdout", "stderr"}) {
      PyObject* f = PySys_GetObject(stream);  // borrowed
      if (f && f != Py_None && !Ref(PyObject_CallMethod(f, "flush", nullptr))) PyErr_Clear();
    }
  });
  PyGILState_Release(gil);
}

}  // namespace trellis::python::interpreter
