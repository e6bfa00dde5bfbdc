#include "app/worker_main.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdlib>
#include <string_view>

#include <spdlog/spdlog.h>

#include "logging/log.hpp"
#include "process/master.hpp"

namespace trellis::core {

namespace {

// INT and QUIT stop a worker at once, even in the middle of application
// code; _exit is async-signal-safe.
void exit_now(int) { _exit(0); }

void prepare_signals() {
  struct sigaction sa{};
  sa.sa_handler = exit_now;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGQUIT, &sa, nullptr);
  signal(SIGTTIN, SIG_IGN);
  signal(SIGTTOU, SIG_IGN);
  signal(SIGCHLD, SIG_DFL);
  // TERM, HUP and USR1 stay blocked: the event loop reads them from a
  // signalfd, so a TERM during application start-up waits for the loop.
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGHUP, SIGUSR1}) sigaddset(&set, s);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  sigemptyset(&set);
  for (int s : {SIGINT, SIGQUIT, SIGCHLD, SIGTTIN, SIGTTOU}) sigaddset(&set, s);
  sigprocmask(SIG_UNBLOCK, &set, nullptr);
}

WorkerSettings worker_settings(const ServerState& s, int id, int slot) {
  const config::Config& cfg = *s.config;
  WorkerSettings ws;
  ws.id = id;
  ws.slot = slot;
  ws.threads = s.context.identity.threads;
  ws.processes = s.context.identity.processes;
  ws.header_timeout_ms = static_cast<int>(cfg.integer("header-timeout", 10) * 1000);
  ws.keepalive_timeout_ms = static_cast<int>(cfg.integer("keepalive-timeout", 5) * 1000);
  ws.socket_timeout_ms = static_cast<int>(cfg.integer("socket-timeout", 30) * 1000);
  ws.write_buffer = static_cast<std::size_t>(std::max(0LL, cfg.integer("write-buffer", 1 << 20)));
  ws.max_requests = static_cast<std::uint64_t>(std::max(0LL, cfg.integer("max-requests", 0)));
  ws.max_requests_jitter = static_cast<std::uint64_t>(std::max(0LL, cfg.integer("max-requests-jitter", 0)));
  ws.reload_on_rss_bytes = std::max(0LL, cfg.integer("reload-on-rss", 0)) * 1024 * 1024;
  ws.log_requests = !cfg.flag("disable-logging");
  ws.lock_engine = s.lock_engine;
  ws.static_maps = s.static_maps;
  // Test-only: "die-holding-lock:PATH" makes worker 1 kill itself while it
  // holds the accept lock once PATH exists (lock-engine recovery tests).
  if (const char* hooks = std::getenv("TRELLIS_TEST_HOOKS")) {
    std::string_view h = hooks;
    constexpr std::string_view kDie = "die-holding-lock:";
    if (id == 1 && h.starts_with(kDie)) ws.die_holding_lock_trigger = std::string(h.substr(kDie.size()));
  }
  return ws;
}

}  // namespace

void attach_to_master(pid_t master) {
  for (int i = 0; i < 2000 && getppid() != master; ++i) usleep(1000);
  // A worker never outlives its master.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != master) _exit(1);
}

void become_loader() {
  log::set_process_label("loader");
  prctl(PR_SET_NAME, "trellis-loader");
  // A loader runs no event loop: TERM and INT simply end it.
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  signal(SIGCHLD, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT, SIGQUIT, SIGCHLD, SIGHUP}) sigaddset(&set, s);
  sigprocmask(SIG_UNBLOCK, &set, nullptr);
}

int worker_main(ServerState& state, int id, int slot, std::uint64_t generation, bool load_application) {
  log::set_process_label("worker " + std::to_string(id));
  log::reopen();  // forked by a loader older than the last log rotation, maybe
  // Shows in ps/top: which process is which worker.
  std::string comm = "trellis-w" + std::to_string(id);
  prctl(PR_SET_NAME, comm.c_str());
  prepare_signals();

  state.context.forked = true;
  state.context.identity.id = id;
  state.context.identity.generation = generation;
  state.context.identity.pid = getpid();

  for (auto* p : state.plugins)
    if (p->after_fork_child(state.context.identity) != sdk::Status::ok) {
      spdlog::critical("a plugin failed to start in worker {}", id);
      return 1;
    }
  if (state.lock_engine && state.lock_engine->init_child() != sdk::Status::ok) {
    spdlog::critical("the accept lock could not be set up in worker {}", id);
    return 1;
  }
  if (load_application)
    for (auto& [modifier, runtime] : state.runtimes.by_modifier)
      if (runtime->load_application() != sdk::Status::ok) return kExitAppLoadFailed;

  int code = 0;
  {
    Worker worker(worker_settings(state, id, slot), state.listeners_for(id), state.runtimes, *state.scoreboard);
    code = worker.run();
  }
  for (auto* p : state.plugins) p->worker_shutdown();
  return code;
}

}  // namespace trellis::core
