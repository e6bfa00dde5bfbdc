#include "app/worker_main.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>

#include "logging/log.hpp"
#include "process/master.hpp"

namespace trellis::core {

namespace {

// INT and QUIT stop a worker at once, even in the middle of application
// code; _exit is async-signal-safe.
void exit_now(int) { _exit(0); }

// False (errno set) when a signal could not be set up: a worker that INT
// or TERM cannot stop must not serve.
bool prepare_signals() {
  struct sigaction stop{};
  stop.sa_handler = exit_now;
  sigemptyset(&stop.sa_mask);
  struct sigaction ignore{};
  ignore.sa_handler = SIG_IGN;
  struct sigaction fallback{};
  fallback.sa_handler = SIG_DFL;
  if (sigaction(SIGINT, &stop, nullptr) != 0 || sigaction(SIGQUIT, &stop, nullptr) != 0 ||
      sigaction(SIGTTIN, &ignore, nullptr) != 0 || sigaction(SIGTTOU, &ignore, nullptr) != 0 ||
      sigaction(SIGCHLD, &fallback, nullptr) != 0)
    return false;
  // TERM, HUP and USR1 stay blocked: the event loop reads them from a
  // signalfd, so a TERM during application start-up waits for the loop.
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGHUP, SIGUSR1}) sigaddset(&set, s);
  if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return false;
  sigemptyset(&set);
  for (int s : {SIGINT, SIGQUIT, SIGCHLD, SIGTTIN, SIGTTOU}) sigaddset(&set, s);
  return sigprocmask(SIG_UNBLOCK, &set, nullptr) == 0;
}

// The process name ps and top show; only cosmetic, so a failure is noted.
void set_process_name(const char* name) {
  if (prctl(PR_SET_NAME, name) != 0) spdlog::warn("cannot set the process name {}: {}", name, std::strerror(errno));
}

WorkerSettings worker_settings(const ServerState& s, int id, int slot) {
  const config::Config& cfg = *s.config;
  WorkerSettings ws;
  ws.id = id;
  ws.slot = slot;
  ws.threads = s.context.identity.threads;
  ws.processes = s.context.identity.processes;
  ws.limits.header_timeout_ms = static_cast<int>(cfg.integer("header-timeout", 10) * 1000);
  ws.limits.keepalive_timeout_ms = static_cast<int>(cfg.integer("keepalive-timeout", 5) * 1000);
  ws.limits.socket_timeout_ms = static_cast<int>(cfg.integer("socket-timeout", 30) * 1000);
  ws.write_buffer = static_cast<std::size_t>(std::max(0LL, cfg.integer("write-buffer", 1 << 20)));
  ws.post_buffering = static_cast<std::size_t>(std::max(0LL, cfg.integer("post-buffering", 1 << 20)));
  ws.max_requests = static_cast<std::uint64_t>(std::max(0LL, cfg.integer("max-requests", 0)));
  ws.max_requests_jitter = static_cast<std::uint64_t>(std::max(0LL, cfg.integer("max-requests-jitter", 0)));
  ws.reload_on_rss_bytes = std::max(0LL, cfg.integer("reload-on-rss", 0)) * 1024 * 1024;
  ws.log_requests = !cfg.flag("disable-logging");
  ws.lock_engine = s.lock_engine;
  ws.static_maps = s.static_maps;
  return ws;
}

}  // namespace

void attach_to_master(pid_t master) {
  for (int i = 0; i < 2000 && getppid() != master; ++i) usleep(1000);
  // A worker never outlives its master.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
    spdlog::critical("prctl(PR_SET_PDEATHSIG) failed: {}", std::strerror(errno));
    _exit(kExitSystemError);
  }
  if (getppid() != master) _exit(1);
}

void become_loader() {
  log::set_process_label("loader");
  set_process_name("trellis-loader");
  // A loader runs no event loop: TERM and INT simply end it.
  struct sigaction fallback{};
  fallback.sa_handler = SIG_DFL;
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT, SIGQUIT, SIGCHLD, SIGHUP}) sigaddset(&set, s);
  if (sigaction(SIGTERM, &fallback, nullptr) != 0 || sigaction(SIGINT, &fallback, nullptr) != 0 ||
      sigaction(SIGCHLD, &fallback, nullptr) != 0 || sigprocmask(SIG_UNBLOCK, &set, nullptr) != 0) {
    spdlog::critical("the loader's signals could not be set up: {}", std::strerror(errno));
    _exit(kExitSystemError);
  }
}

int worker_main(ServerState& state, int id, int slot, std::uint64_t generation, bool load_application) {
  log::set_process_label("worker " + std::to_string(id));
  log::reopen();  // forked by a loader older than the last log rotation, maybe
  // Shows in ps/top: which process is which worker.
  std::string comm = "trellis-w" + std::to_string(id);
  set_process_name(comm.c_str());
  if (!prepare_signals()) {
    spdlog::critical("worker {}: its signals could not be set up: {}", id, std::strerror(errno));
    return kExitSystemError;
  }

  state.context.forked = true;
  state.context.identity.id = id;
  state.context.identity.generation = generation;
  state.context.identity.pid = getpid();

  trellis_worker_identity self{};
  self.size = sizeof self;
  self.id = id;
  self.pid = getpid();
  self.threads = state.context.identity.threads;
  self.processes = state.context.identity.processes;
  self.generation = generation;
  for (auto& p : state.plugins)
    if (p.after_fork_child(self) != TRELLIS_OK) {
      spdlog::critical("a plugin failed to start in worker {}", id);
      return 1;
    }
  if (state.lock_engine && state.lock_engine.table->init_child &&
      state.lock_engine.table->init_child(state.lock_engine.self) != TRELLIS_OK) {
    spdlog::critical("the accept lock could not be set up in worker {}", id);
    return 1;
  }
  if (load_application)
    for (auto& r : state.runtimes.runtimes)
      if (r.table->load_application(r.self) != TRELLIS_OK) return kExitAppLoadFailed;

  int code = 0;
  {
    Worker worker(worker_settings(state, id, slot), state.listeners_for(id), state.runtimes, *state.scoreboard);
    code = worker.run();
  }
  for (auto& p : state.plugins) p.worker_shutdown();
  return code;
}

}  // namespace trellis::core
