#include "asgi_plugin.hpp"

#include "app_loader.hpp"
#include "bootstrap.hpp"
#include "exception_boundary.hpp"
#include "fastcall.hpp"
#include "interpreter.hpp"
#include "request.hpp"
#include "traceback.hpp"

namespace trellis::asgi {
namespace {

using python::host_guard;
using python::log_exception;
using python::Ref;

// The worker's Python side, set up by loop_start.
struct Loop {
  WorkerState state;
  PyObject* globals = nullptr;   // bootstrap's namespace
  PyObject* lifespan = nullptr;  // bootstrap.Lifespan, or nullptr (off)
  PyGILState_STATE gil{};
  bool gil_held = false;
};
Loop* g_loop = nullptr;

// ---- _native: what bootstrap's Python calls ------------------------------------

PyObject* native_turn(PyObject*, PyObject*) {
  return PyLong_FromLongLong(static_cast<long long>(g_worker->api->loop_turn(g_worker->host.raw())));
}

PyObject* native_log(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs != 2) {
    PyErr_SetString(PyExc_TypeError, "log(level, message)");
    return nullptr;
  }
  long level = PyLong_AsLong(args[0]);
  if (level == -1 && PyErr_Occurred()) return nullptr;
  Py_ssize_t n = 0;
  const char* text = PyUnicode_AsUTF8AndSize(args[1], &n);
  if (!text) return nullptr;
  g_worker->host.log(static_cast<sdk::LogLevel>(level), std::string_view(text, static_cast<std::size_t>(n)));
  Py_RETURN_NONE;
}

PyMethodDef g_native_methods[] = {
    {"turn", native_turn, METH_NOARGS, "one turn of the worker's loop"},
    {"log", python::as_method(native_log), METH_FASTCALL, "log(level, message) through the core"},
    {"app_done", python::as_method(app_done), METH_FASTCALL, "the application of a request ended"},
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef g_native_def = {PyModuleDef_HEAD_INIT, "trellis_asgi_native", nullptr, -1, g_native_methods};

// Imports uvloop when asked (or auto and importable), else asyncio's own.
PyObject* new_loop(const Settings& s, sdk::Host& host) {
  if (s.loop != LoopKind::asyncio) {
    Ref uvloop(PyImport_ImportModule("uvloop"));
    if (uvloop) {
      PyObject* loop = PyObject_CallMethod(uvloop.get(), "new_event_loop", nullptr);
      if (loop) host.log(sdk::LogLevel::info, "asgi: event loop: uvloop");
      return loop;
    }
    if (s.loop == LoopKind::uvloop) {
      log_exception(host, "asgi: --asgi-loop uvloop: cannot import uvloop");
      return nullptr;
    }
    PyErr_Clear();
  }
  Ref asyncio(PyImport_ImportModule("asyncio"));
  if (!asyncio) return nullptr;
  PyObject* loop = PyObject_CallMethod(asyncio.get(), "new_event_loop", nullptr);
  if (loop) host.log(sdk::LogLevel::info, "asgi: event loop: asyncio");
  return loop;
}

}  // namespace

AsgiPlugin::AsgiPlugin(sdk::Host& host) : host_(host), settings_(read_settings(host)) {
  python::interpreter::make_libpython_global(host);
}

sdk::Status AsgiPlugin::on_config() noexcept {
  return host_guard(host_, "asgi: internal error while checking the configuration", [&] {
    settings_ = read_settings(host_);
    return validate(settings_, host_) ? sdk::Status::ok : sdk::Status::invalid_argument;
  });
}

sdk::Status AsgiPlugin::before_fork() noexcept {
  python::interpreter::before_fork();
  return sdk::Status::ok;
}

sdk::Status AsgiPlugin::after_fork_parent() noexcept {
  python::interpreter::after_fork_parent();
  return sdk::Status::ok;
}

sdk::Status AsgiPlugin::after_fork_child(const sdk::WorkerIdentity&) noexcept {
  python::interpreter::after_fork_child();
  return sdk::Status::ok;
}

void AsgiPlugin::worker_shutdown() noexcept { python::interpreter::run_exit_handlers(host_, "asgi"); }

sdk::Status AsgiPlugin::load_application() noexcept {
  return host_guard(host_, "asgi: internal error while loading the application", [&] {
    settings_ = read_settings(host_);
    if (app_) return sdk::Status::ok;
    if (settings_.file.empty() && settings_.module.empty() && !settings_.need_app) {
      host_.log(sdk::LogLevel::warn, "asgi: no application configured");
      return sdk::Status::ok;
    }
    if (auto st = python::interpreter::acquire(settings_, host_); st != sdk::Status::ok) return st;
    struct Release {
      ~Release() {
        PyErr_Clear();
        python::interpreter::release();
      }
    } release_at_exit;
    if (!init_request_types()) {
      log_exception(host_, "asgi: cannot set up the ASGI types");
      return sdk::Status::internal_error;
    }
    app_ = python::load_app(settings_, host_);
    if (!app_) {
      PyErr_Clear();
      return settings_.need_app ? sdk::Status::app_error : sdk::Status::ok;
    }
    return sdk::Status::ok;
  });
}

// Loop thread, before the worker accepts anything: the asyncio loop, the
// bootstrap code, and the lifespan startup, run to its end here.
sdk::Status AsgiPlugin::loop_start() noexcept {
  if (!python::interpreter::started()) return sdk::Status::ok;  // no application: 500s
  g_loop = new (std::nothrow) Loop();
  if (!g_loop) return sdk::Status::internal_error;
  g_loop->gil = PyGILState_Ensure();
  g_loop->gil_held = true;
  return host_guard(host_, "asgi: internal error while starting the event loop", [&] {
    WorkerState& w = g_loop->state;
    w.host = host_;
    w.api = host_.api();
    w.app = app_;
    w.max_concurrency = static_cast<std::size_t>(settings_.max_concurrency > 0 ? settings_.max_concurrency : 0);
    g_worker = &w;
    auto fail = [&](const char* what) {
      log_exception(host_, what);
      return sdk::Status::internal_error;
    };
    if (!init_request_types()) return fail("asgi: cannot set up the ASGI types");
    w.loop = new_loop(settings_, host_);
    if (!w.loop) return fail("asgi: cannot create the event loop");
    Ref asyncio(PyImport_ImportModule("asyncio"));
    if (!asyncio || !Ref(PyObject_CallMethod(asyncio.get(), "set_event_loop", "O", w.loop)))
      return fail("asgi: cannot set the event loop");
    w.create_future = PyObject_GetAttrString(w.loop, "create_future");
    w.create_task = w.create_future ? PyObject_GetAttrString(w.loop, "create_task") : nullptr;
    if (!w.create_task) return fail("asgi: the event loop has no create_task");
    w.disconnected_error =
        PyErr_NewExceptionWithDoc("trellis.asgi.ClientDisconnected",
                                  "send() after the client went away (ASGI spec 2.4: an OSError)", PyExc_OSError, nullptr);
    if (!w.disconnected_error) return fail("asgi: cannot create ClientDisconnected");
    Ref native(PyModule_Create(&g_native_def));
    g_loop->globals = PyDict_New();
    if (!native || !g_loop->globals || PyDict_SetItemString(g_loop->globals, "_native", native.get()) != 0 ||
        PyDict_SetItemString(g_loop->globals, "__builtins__", PyEval_GetBuiltins()) != 0 ||
        PyDict_SetItemString(g_loop->globals, "__name__", Ref(PyUnicode_FromString("trellis_asgi")).get()) != 0)
      return fail("asgi: cannot set up the bootstrap namespace");
    Ref code(Py_CompileString(kBootstrapSource, "<trellis asgi>", Py_file_input));
    if (!code || !Ref(PyEval_EvalCode(code.get(), g_loop->globals, g_loop->globals)))
      return fail("asgi: cannot run the bootstrap code");
    w.run = PyDict_GetItemString(g_loop->globals, "run");  // borrowed, lives with globals
    if (!w.run) return fail("asgi: bootstrap has no run()");
    if (!app_) return sdk::Status::ok;
    if (settings_.lifespan == Lifespan::off) return sdk::Status::ok;
    PyObject* lifespan_type = PyDict_GetItemString(g_loop->globals, "Lifespan");
    PyObject* log = PyDict_GetItemString(native.get() ? PyModule_GetDict(native.get()) : nullptr, "log");
    g_loop->lifespan = PyObject_CallFunction(lifespan_type, "OOsO", app_, w.loop,
                                             settings_.lifespan == Lifespan::on ? "on" : "auto", log);
    if (!g_loop->lifespan) return fail("asgi: cannot set up the lifespan protocol");
    Ref failure(PyObject_CallMethod(g_loop->lifespan, "startup", nullptr));
    if (!failure) return fail("asgi: lifespan startup failed");
    if (failure.get() != Py_None) {
      Py_ssize_t n = 0;
      const char* text = PyUnicode_Check(failure.get()) ? PyUnicode_AsUTF8AndSize(failure.get(), &n) : nullptr;
      if (!text) PyErr_Clear();
      host_.logf(sdk::LogLevel::critical, "asgi: lifespan startup failed: %.*s; the server stops",
                 static_cast<int>(n), text ? text : "");
      return sdk::Status::app_error;
    }
    Ref supported(PyObject_GetAttrString(g_loop->lifespan, "supported"));
    if (supported.get() == Py_True) {
      w.lifespan_state = PyObject_GetAttrString(g_loop->lifespan, "state");
      if (!w.lifespan_state) return fail("asgi: lifespan has no state");
      host_.log(sdk::LogLevel::info, "asgi: lifespan startup complete");
    }
    return sdk::Status::ok;
  });
}

// Loop thread: asyncio runs, the worker's loop inside it, until the worker
// has drained; then the lifespan shutdown.
sdk::Status AsgiPlugin::run_loop() noexcept {
  if (!g_loop) return sdk::Status::internal_error;
  return host_guard(host_, "asgi: internal error in the event loop", [&] {
    WorkerState& w = g_loop->state;
    sdk::Status result = sdk::Status::ok;
    PyObject* drive = PyDict_GetItemString(g_loop->globals, "drive");
    PyObject* turn = PyDict_GetItemString(PyModule_GetDict(PyDict_GetItemString(g_loop->globals, "_native")), "turn");
    Ref done(drive && turn ? PyObject_CallFunction(drive, "OiO", w.loop, host_.loop_fd(), turn) : nullptr);
    if (!done) {
      log_exception(host_, "asgi: the event loop failed");
      result = sdk::Status::internal_error;
    }
    if (g_loop->lifespan && w.lifespan_state) {
      if (!Ref(PyObject_CallMethod(g_loop->lifespan, "shutdown", nullptr)))
        log_exception(host_, "asgi: lifespan shutdown failed");
      else
        host_.log(sdk::LogLevel::info, "asgi: lifespan shutdown complete");
    }
    // Tasks the application left behind (background work) are cancelled
    // by closing the loop; the worker exits right after.
    if (!Ref(PyObject_CallMethod(w.loop, "close", nullptr))) PyErr_Clear();
    if (g_loop->gil_held) {
      g_loop->gil_held = false;
      PyGILState_Release(g_loop->gil);
    }
    return result;
  });
}

sdk::Status AsgiPlugin::on_request(sdk::Stream stream, int) noexcept {
  if (!app_ || !g_worker) {
    host_.log(sdk::LogLevel::error, "asgi: no application loaded, check the startup log; answering 500");
    stream.done();
    return sdk::Status::ok;
  }
  return sdk::from_c(request_open(stream.raw()));
}

void AsgiPlugin::on_event(sdk::Stream stream, const sdk::Event& event) noexcept {
  if (!g_worker) return;
  request_event(stream.raw(), static_cast<std::uint32_t>(event.type), event.data.data(), event.data.size());
}

void AsgiPlugin::on_drain() noexcept {}

}  // namespace trellis::asgi
