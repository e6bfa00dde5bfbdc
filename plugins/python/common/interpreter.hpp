// CPython's process-wide life: making libpython's symbols global, starting
// the interpreter with PyConfig, and keeping it sane across fork().
#pragma once

#include <trellis/host.hpp>
#include <trellis/status.hpp>

#include "app_settings.hpp"

namespace trellis::python::interpreter {

// Python C extensions (markupsafe, ...) are linked without libpython and
// expect its symbols in the global namespace; the core opens plugins
// RTLD_LOCAL, so promote the already-loaded libpython to RTLD_GLOBAL.
void make_libpython_global(sdk::Host& host) noexcept;

// Starts CPython in this process if nobody did yet (chdir, virtualenv,
// sys.path). Returns with the GIL held by the calling thread in both cases;
// call release() when done.
sdk::Status acquire(const AppSettings& settings, sdk::Host& host) noexcept;
void release() noexcept;

bool started() noexcept;

// Called around the core's fork() (loader/preload mode): no other Python
// thread may run and Python's internal locks must be consistent in the
// child, and the parent takes them back afterwards.
void before_fork() noexcept;
void after_fork_parent() noexcept;
void after_fork_child() noexcept;

// At a worker's end, what a normal interpreter exit would do for the
// application (atexit handlers flushing metrics or closing pools, buffered
// stdout and stderr). Not Py_FinalizeEx(): it waits for every non-daemon
// thread the app started. Takes the GIL; `plugin` prefixes the messages.
void run_exit_handlers(sdk::Host& host, const char* plugin) noexcept;

}  // namespace trellis::python::interpreter
