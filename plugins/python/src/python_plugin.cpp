#include "python_plugin.hpp"

#include "app_loader.hpp"
#include "environ.hpp"
#include "errors_stream.hpp"
#include "exception_boundary.hpp"
#include "file_wrapper.hpp"
#include "input_stream.hpp"
#include "interpreter.hpp"
#include "response_driver.hpp"
#include "start_response.hpp"
#include "thread_objects.hpp"
#include "traceback.hpp"

namespace trellis::python {
namespace {

// One application thread's Python side. thread_start() binds a thread
// state to the thread once, so on_request() is a plain GIL acquire/release.
struct ThreadSlot {
  PyThreadState* tstate = nullptr;  // set between thread_start and thread_stop
  PyGILState_STATE gstate{};
  ThreadObjects objects;
};
thread_local ThreadSlot t_slot;

// Holds the GIL for a scope, through the thread's own state when it has one.
class Gil {
 public:
  Gil() noexcept : own_(t_slot.tstate != nullptr) {
    if (own_)
      PyEval_RestoreThread(t_slot.tstate);
    else
      state_ = PyGILState_Ensure();  // a thread the core did not announce
  }
  Gil(const Gil&) = delete;
  Gil& operator=(const Gil&) = delete;
  ~Gil() {
    if (own_)
      PyEval_SaveThread();
    else
      PyGILState_Release(state_);
  }

 private:
  bool own_;
  PyGILState_STATE state_{};
};

}  // namespace

PythonPlugin::PythonPlugin(sdk::Host& host) : host_(host), settings_(read_settings(host)) {
  interpreter::make_libpython_global(host);
}

// Every SDK override below runs its body through host_guard(): no C++
// exception may cross the noexcept boundary (exception_boundary.hpp). Those
// whose body cannot throw today are guarded too, so the rule stays simple.

sdk::Status PythonPlugin::on_config() noexcept {
  // Master: options only, Python never starts here.
  return host_guard(host_, "python: internal error while checking the configuration", [&] {
    settings_ = read_settings(host_);
    return validate(settings_, host_) ? sdk::Status::ok : sdk::Status::invalid_argument;
  });
}

sdk::Status PythonPlugin::before_fork() noexcept {
  return host_guard(host_, "python: internal error before fork", [] {
    interpreter::before_fork();
    return sdk::Status::ok;
  });
}

sdk::Status PythonPlugin::after_fork_parent() noexcept {
  return host_guard(host_, "python: internal error after fork (parent)", [] {
    interpreter::after_fork_parent();
    return sdk::Status::ok;
  });
}

sdk::Status PythonPlugin::after_fork_child(const sdk::WorkerIdentity&) noexcept {
  return host_guard(host_, "python: internal error after fork (child)", [] {
    interpreter::after_fork_child();
    return sdk::Status::ok;
  });
}

void PythonPlugin::worker_shutdown() noexcept { interpreter::run_exit_handlers(host_, "python"); }

bool PythonPlugin::prepare_python() noexcept {
  return input_stream::init_type() && errors_stream::init_type() && file_wrapper::init_type() &&
         start_response::init_types() && environ::init(settings_);
}

sdk::Status PythonPlugin::load_application() noexcept {
  return host_guard(host_, "python: internal error while loading the application", [&] {
    settings_ = read_settings(host_);
    if (app_) return sdk::Status::ok;
    if (settings_.file.empty() && settings_.module.empty() && !settings_.need_app) {
      host_.log(sdk::LogLevel::warn, "python: no application configured");
      return sdk::Status::ok;
    }
    if (auto st = interpreter::acquire(settings_, host_); st != sdk::Status::ok) return st;
    // Released on every way out, a C++ exception from load_app() too; such
    // an exception may leave a Python error behind, cleared while the GIL
    // is still held (the normal paths have cleared theirs already).
    struct Release {
      ~Release() {
        PyErr_Clear();
        interpreter::release();
      }
    } release_at_exit;
    if (!prepare_python()) {
      log_exception(host_, "python: cannot set up the WSGI types");
      return sdk::Status::internal_error;
    }
    app_ = load_app(settings_, host_);
    if (!app_) {
      PyErr_Clear();
      // Without need-app the worker serves 500s instead of failing to start.
      return settings_.need_app ? sdk::Status::app_error : sdk::Status::ok;
    }
    return sdk::Status::ok;
  });
}

// The index the core gives each application thread is not needed: the
// thread's Python state lives in a thread_local slot.
sdk::Status PythonPlugin::thread_start(int) noexcept {
  return host_guard(host_, "python: internal error at thread start", [] {
    if (!interpreter::started() || t_slot.tstate) return sdk::Status::ok;
    t_slot.gstate = PyGILState_Ensure();
    t_slot.tstate = PyEval_SaveThread();
    return sdk::Status::ok;
  });
}

void PythonPlugin::thread_stop(int) noexcept {
  host_guard(host_, "python: internal error at thread stop", [] {
    if (!t_slot.tstate) return;
    PyEval_RestoreThread(t_slot.tstate);
    clear(t_slot.objects);
    t_slot.tstate = nullptr;
    PyGILState_Release(t_slot.gstate);  // frees the thread state if Ensure made it
  });
}

// A blocking runtime's request: on an application thread (or the loop
// thread with --threads 1), returning once the response is complete. The
// stream's views (the request) are valid until then.
sdk::Status PythonPlugin::on_request(sdk::Stream stream, int) noexcept {
  if (!app_) {
    host_.log(sdk::LogLevel::error, "python: no application loaded, check the startup log; answering 500");
    fail_response(stream);
    return sdk::Status::app_error;
  }
  Gil gil;
  return host_guard(
      host_, "python: internal error while serving a request",
      [&] { return serve(app_, t_slot.objects, host_, stream); },
      [&]() noexcept {
        // serve() has recycled the thread's objects while unwinding; a
        // Python error it may have left must not leak into the next request.
        PyErr_Clear();
        GilRelease nogil;
        fail_response(stream);  // 500, or an aborted response after the head
        return sdk::Status::internal_error;
      });
}

}  // namespace trellis::python
