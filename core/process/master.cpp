#include "process/master.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "logging/log.hpp"
#include "process/sd_notify.hpp"

namespace trellis::core {

namespace {

constexpr std::int64_t kFastDeathMs = 2000;
constexpr std::int64_t kMaxRespawnDelayMs = 30000;
constexpr std::int64_t kImmediateStopGraceMs = 3000;

std::string describe_exit(int status) {
  if (WIFEXITED(status)) {
    int code = WEXITSTATUS(status);
    std::string text = "exited with code " + std::to_string(code);
    if (code == kExitSystemError) text += " (a system call failed: see its message above)";
    if (code == kExitInternalError) text += " (an internal error: see its message above)";
    return text;
  }
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    return "was killed by signal " + std::to_string(sig) + " (SIG" + sigabbrev_np(sig) + ")" +
           (WCOREDUMP(status) ? ", core dumped" : "");
  }
  return "ended with status " + std::to_string(status);
}

void remove_file(const std::string& path, const char* why) {
  if (unlink(path.c_str()) != 0 && errno != ENOENT)
    spdlog::warn("cannot remove {} ({}): {}", path, why, std::strerror(errno));
}

// Restarts of a worker that keeps failing (dying at once, or not forking)
// wait longer each time: at once, then 0.5 s, 1 s, 2 s ... up to 30 s.
std::int64_t respawn_delay_ms(int failures_in_a_row) {
  if (failures_in_a_row < 2) return 0;
  return std::min<std::int64_t>(500LL << std::min(failures_in_a_row - 2, 10), kMaxRespawnDelayMs);
}

std::int64_t file_mtime_ns(const std::string& path) {
  struct stat st{};
  if (stat(path.c_str(), &st) != 0) return 0;
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

}  // namespace

Master::Master(MasterSettings settings, MasterHooks hooks, Scoreboard& scoreboard, Spawner& spawner)
    : settings_(std::move(settings)), hooks_(std::move(hooks)), scoreboard_(scoreboard), spawner_(spawner) {
  for (int s = scoreboard_.workers(); s >= 1; --s) free_slots_.push_back(s);
}

int Master::alloc_slot() {
  if (free_slots_.empty()) return 0;
  int s = free_slots_.back();
  free_slots_.pop_back();
  return s;
}

bool Master::spawn(int id, std::uint64_t generation) {
  int slot = alloc_slot();
  if (!slot) {
    spdlog::error("no free worker slot for worker {} (too many workers alive at once)", id);
    return false;
  }
  WorkerSlot& ws = scoreboard_.worker(slot);
  std::uint64_t respawns = ws.respawns.load();
  ws.~WorkerSlot();
  new (&ws) WorkerSlot();
  ws.respawns.store(respawns);
  for (int t = 0; t < scoreboard_.threads(); ++t) {
    CoreSlot& c = scoreboard_.core(slot, t);
    c.busy_since_ms.store(0);
    c.requests.store(0);
    c.request_line[0] = '\0';
  }
  ws.generation.store(generation);
  ws.id.store(id);
  ws.spawned_at_ms.store(monotonic_ms());

  pid_t pid = spawner_.spawn(id, slot, generation);
  if (pid < 0) {
    spawn_failed(id, slot, generation, errno);
    return false;
  }
  if (pid == 0) {
    pending_[slot] = {id, generation};
    return true;
  }
  adopt(id, slot, generation, pid);
  return true;
}

void Master::spawn_failed(int id, int slot, std::uint64_t generation, int error) {
  pending_.erase(slot);
  free_slots_.push_back(slot);
  if (stopping_ || generation != generation_ || id > settings_.processes || has_current(id)) {
    spdlog::error("could not start worker {}: {}", id, std::strerror(error));
    return;
  }
  Respawn& r = respawn_[id];
  r.fast_deaths++;
  // Never at once: fork fails at once too, and tick() runs every 250 ms.
  std::int64_t delay = std::max<std::int64_t>(respawn_delay_ms(r.fast_deaths), 1);
  r.due_ms = monotonic_ms() + delay;
  spdlog::error("could not start worker {}: {}; trying again in {} ms", id, std::strerror(error),
                std::max<std::int64_t>(delay, 250));
}

bool Master::has_current(int id) const {
  for (auto& [pid, p] : procs_)
    if (p.id == id && p.generation == generation_ && p.term_sent_ms == 0) return true;
  for (auto& [slot, pend] : pending_)
    if (pend.id == id && pend.generation == generation_) return true;
  return false;
}

void Master::signal_worker(pid_t pid, int sig) {
  if (pid <= 0) {
    spdlog::critical("refusing to send signal {} to pid {}: not a worker (this is a bug)", sig, pid);
    return;
  }
  if (kill(pid, sig) != 0 && errno != ESRCH)
    spdlog::error("cannot send signal {} to worker pid {}: {}", sig, pid, std::strerror(errno));
}

void Master::adopt(int id, int slot, std::uint64_t generation, pid_t pid) {
  if (pid <= 0) {
    spawn_failed(id, slot, generation, EINVAL);
    return;
  }
  pending_.erase(slot);
  scoreboard_.worker(slot).pid.store(pid);
  Proc p;
  p.id = id;
  p.slot = slot;
  p.generation = generation;
  p.spawned_ms = monotonic_ms();
  procs_[pid] = p;
  spdlog::info("spawned worker {} (pid {}, generation {})", id, pid, generation);
  if (stopping_) stop_worker(pid, procs_[pid], monotonic_ms());
  auto early = early_exits_.find(pid);
  if (early != early_exits_.end()) {
    int status = early->second;
    early_exits_.erase(early);
    on_exit(pid, status);
  }
}

void Master::handle_spawn_events(std::vector<SpawnEvent>& events) {
  for (auto& e : events) {
    switch (e.kind) {
      case SpawnEvent::Kind::spawned:
        adopt(e.id, e.slot, e.generation, e.pid);
        break;
      case SpawnEvent::Kind::spawn_failed:
        spawn_failed(e.id, e.slot, e.generation, e.error);
        break;
      case SpawnEvent::Kind::generation_ready:
        spawner_.retire_before(e.generation);
        break;
      case SpawnEvent::Kind::generation_failed:
        generation_failed(e.generation);
        break;
    }
  }
  events.clear();
}

void Master::generation_failed(std::uint64_t generation) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.generation == generation) {
      free_slots_.push_back(it->first);
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  if (stopping_ || generation != generation_) return;
  bool others_serving = std::any_of(procs_.begin(), procs_.end(), [&](auto& kv) {
    return kv.second.generation < generation && scoreboard_.worker(kv.second.slot).ready.load() != 0;
  });
  std::int64_t now = monotonic_ms();
  if (generation > 1 && others_serving) {
    spdlog::error("reload failed: generation {} could not load the application (see the error above); "
                  "the previous generation keeps serving",
                  generation);
    for (auto& [pid, p] : procs_)
      if (p.generation == generation) stop_worker(pid, p, now);
    generation_ = previous_generation_;
    chain_next_ = 0;
    return;
  }
  spdlog::critical("the application could not be loaded (see the error above); stopping trellis");
  fatal_ = true;
  begin_shutdown(false);
}

int Master::run() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGTTIN, SIGTTOU}) sigaddset(&set, s);
  // Signals are read from a descriptor in the loop, never in a handler.
  if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0) {
    spdlog::critical("sigprocmask failed: {}", std::strerror(errno));
    return 1;
  }
  // Workers forked by a loader are orphaned on purpose and land here.
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    spdlog::critical("prctl(PR_SET_CHILD_SUBREAPER) failed: {}", std::strerror(errno));
    return 1;
  }
  signal_fd_ = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd_ < 0) {
    spdlog::critical("signalfd failed: {}", std::strerror(errno));
    return 1;
  }
  if (!settings_.touch_reload.empty()) touch_mtime_ = file_mtime_ns(settings_.touch_reload);
  if (!settings_.touch_chain_reload.empty()) touch_chain_mtime_ = file_mtime_ns(settings_.touch_chain_reload);

  spawner_.start_generation(generation_);
  for (int id = 1; id <= settings_.processes; ++id) spawn(id, generation_);

  std::int64_t next_tick = 0;
  std::vector<SpawnEvent> events;
  while (!(stopping_ && procs_.empty() && pending_.empty())) {
    std::vector<pollfd> fds{{signal_fd_, POLLIN, 0}};
    for (int fd : spawner_.fds()) fds.push_back({fd, POLLIN, 0});
    std::size_t spawner_end = fds.size();
    std::vector<std::size_t> service_at;
    for (auto* s : services_) {
      service_at.push_back(fds.size());
      s->add_poll_fds(fds);
    }
    service_at.push_back(fds.size());
    if (::poll(fds.data(), fds.size(), 250) < 0 && errno != EINTR) {
      // Nothing the master polls can be trusted this round; the pause
      // keeps a persistent failure from becoming a busy loop.
      spdlog::error("poll failed in the master: {}", std::strerror(errno));
      usleep(250000);
      for (auto& p : fds) p.revents = 0;
    }
    if (spawner_end > 1) {
      spawner_.on_readable(events);
      handle_spawn_events(events);
    }
    read_signals();
    reap();
    std::int64_t now = monotonic_ms();
    if (now >= next_tick) {
      tick(now);
      next_tick = now + 250;
    }
    for (std::size_t i = 0; i < services_.size(); ++i)
      services_[i]->on_poll(fds.data() + service_at[i], service_at[i + 1] - service_at[i], status());
  }
  spawner_.stop();
  for (auto& path : settings_.vacuum_paths) remove_file(path, "--vacuum");
  if (!settings_.pidfile.empty()) remove_file(settings_.pidfile, "--pidfile");
  spdlog::info(fatal_ ? "trellis stopped after a fatal error" : "trellis stopped");
  return fatal_ ? 1 : 0;
}

void Master::read_signals() {
  for (;;) {
    signalfd_siginfo info{};
    ssize_t n = ::read(signal_fd_, &info, sizeof info);
    if (n == static_cast<ssize_t>(sizeof info)) {
      handle_signal(static_cast<int>(info.ssi_signo));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) spdlog::error("reading signals failed: {}", std::strerror(errno));
    return;
  }
}

void Master::reap() {
  for (;;) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0 && errno != ECHILD) spdlog::error("waitpid failed: {}", std::strerror(errno));
    if (pid <= 0) return;
    on_exit(pid, status);
  }
}

void Master::on_exit(pid_t pid, int status) {
  std::vector<SpawnEvent> events;
  if (spawner_.on_exit(pid, status, events)) {
    handle_spawn_events(events);
    return;
  }
  auto it = procs_.find(pid);
  if (it == procs_.end()) {
    // A worker re-parented to us before its loader told us its pid.
    early_exits_[pid] = status;
    return;
  }
  Proc p = it->second;
  procs_.erase(it);
  if (hooks_.worker_died) hooks_.worker_died(pid);
  WorkerSlot& ws = scoreboard_.worker(p.slot);
  auto reason = static_cast<RecycleReason>(ws.recycle_reason.load());
  for (auto* s : services_) s->worker_exited(p.slot);
  ws.pid.store(0);
  ws.ready.store(0);
  free_slots_.push_back(p.slot);

  std::int64_t now = monotonic_ms();
  std::string how = describe_exit(status);
  bool current = p.generation == generation_;
  bool expected = stopping_ || p.term_sent_ms != 0 || reason != RecycleReason::none;

  if (WIFEXITED(status) && WEXITSTATUS(status) == kExitAppLoadFailed) {
    spdlog::error("worker {} (pid {}) of generation {} could not load the application", p.id, pid, p.generation);
    if (current) generation_failed(p.generation);
    return;
  }

  if (expected) {
    const char* why = reason == RecycleReason::max_requests    ? " after --max-requests"
                      : reason == RecycleReason::reload_on_rss ? " after --reload-on-rss"
                                                               : "";
    spdlog::info("worker {} (pid {}) {}{}", p.id, pid, how, why);
  } else if (p.harakiri) {
    spdlog::warn("worker {} (pid {}) {} (harakiri)", p.id, pid, how);
  } else {
    spdlog::error("worker {} (pid {}) died unexpectedly: it {}", p.id, pid, how);
  }
  if (stopping_ || p.id > settings_.processes) return;
  // A worker id with a live current-generation worker needs nothing, nor
  // one whose successor a loader is forking now (a recycle's, say).
  if (has_current(p.id)) return;

  Respawn& r = respawn_[p.id];
  // An unexpected death soon after the spawn counts towards the back-off,
  // whether or not the worker got as far as accepting.
  if (now - p.spawned_ms < kFastDeathMs && !expected) {
    r.fast_deaths++;
  } else {
    r.fast_deaths = 0;
  }
  std::int64_t delay = respawn_delay_ms(r.fast_deaths);
  if (delay > 0) {
    spdlog::warn("worker {} died {} times in a row within {} ms of starting; respawning in {} ms", p.id,
                 r.fast_deaths, kFastDeathMs, delay);
  }
  ws.respawns.fetch_add(1);
  respawns_total_++;
  r.due_ms = now + delay;
  if (delay == 0) {
    r.due_ms = 0;
    if (spawn(p.id, generation_)) {
      auto np = std::find_if(procs_.begin(), procs_.end(), [&](auto& kv) { return kv.second.id == p.id; });
      if (np != procs_.end()) scoreboard_.worker(np->second.slot).respawns.store(ws.respawns.load());
    }
  }
}

void Master::stop_worker(pid_t pid, Proc& p, std::int64_t now) {
  if (p.term_sent_ms) return;
  p.term_sent_ms = now;
  signal_worker(pid, graceful_ ? SIGTERM : SIGINT);
}

void Master::tick(std::int64_t now) {
  // Delayed respawns.
  if (!stopping_) {
    for (auto& [id, r] : respawn_) {
      if (r.due_ms && now >= r.due_ms) {
        r.due_ms = 0;
        // A reload or SIGTTOU since it was scheduled may have made it moot.
        if (id <= settings_.processes && !has_current(id)) spawn(id, generation_);
      }
    }
  }
  // A worker recycling itself (--max-requests, --reload-on-rss) has stopped
  // accepting: its successor starts now, not once the last keep-alive
  // connection of the old one is gone, so new clients never wait for that
  // drain. Marking it stopped starts --worker-reload-mercy; the TERM it
  // gets changes nothing for a worker already draining.
  if (!stopping_) {
    std::vector<int> successors;
    for (auto& [pid, p] : procs_) {
      if (p.term_sent_ms || p.generation != generation_ || p.id > settings_.processes) continue;
      WorkerSlot& ws = scoreboard_.worker(p.slot);
      if (!ws.draining.load() || static_cast<RecycleReason>(ws.recycle_reason.load()) == RecycleReason::none) continue;
      stop_worker(pid, p, now);
      ws.respawns.fetch_add(1);
      respawns_total_++;
      successors.push_back(p.id);
    }
    for (int id : successors) spawn(id, generation_);
  }
  // Reload: an old worker stops only once its successor is ready.
  for (auto& [pid, p] : procs_) {
    if (stopping_ || p.generation >= generation_ || p.term_sent_ms) continue;
    bool successor_ready = std::any_of(procs_.begin(), procs_.end(), [&](auto& kv) {
      return kv.second.id == p.id && kv.second.generation == generation_ &&
             scoreboard_.worker(kv.second.slot).ready.load() != 0;
    });
    if (successor_ready || p.id > settings_.processes) stop_worker(pid, p, now);
  }
  // Harakiri and mercy.
  for (auto& [pid, p] : procs_) {
    if (p.killed) continue;
    if (p.term_sent_ms && now - p.term_sent_ms > std::int64_t(settings_.worker_reload_mercy_s) * 1000) {
      spdlog::warn("worker {} (pid {}) still busy {} s after it was asked to stop (--worker-reload-mercy); killing it",
                   p.id, pid, settings_.worker_reload_mercy_s);
      signal_worker(pid, SIGKILL);
      p.killed = true;
      continue;
    }
    if (settings_.harakiri_s <= 0) continue;
    for (int t = 0; t < scoreboard_.threads(); ++t) {
      CoreSlot& c = scoreboard_.core(p.slot, t);
      std::int64_t since = c.busy_since_ms.load(std::memory_order_relaxed);
      if (since && now - since > std::int64_t(settings_.harakiri_s) * 1000) {
        char line[sizeof c.request_line];
        std::memcpy(line, c.request_line, sizeof line);
        line[sizeof line - 1] = '\0';
        spdlog::error("HARAKIRI: worker {} (pid {}) spent {:.1f} s on request '{}' (--harakiri {}); killing it", p.id,
                      pid, double(now - since) / 1000.0, line, settings_.harakiri_s);
        scoreboard_.worker(p.slot).harakiri_count.fetch_add(1);
        harakiri_total_++;
        signal_worker(pid, SIGKILL);
        p.killed = true;
        p.harakiri = true;
        break;
      }
    }
  }
  if (!announced_ready_ && !stopping_) {
    int ready = 0;
    for (auto& [pid, p] : procs_)
      ready += p.generation == generation_ && !p.term_sent_ms && scoreboard_.worker(p.slot).ready.load() != 0;
    if (ready >= settings_.processes) {
      announced_ready_ = true;
      ever_ready_ = true;
      spdlog::info("all {} workers are ready (generation {})", settings_.processes, generation_);
      sd_notify("READY=1");
    }
  }
  if (stopping_ && !graceful_ && now - stop_started_ms_ > kImmediateStopGraceMs) {
    for (auto& [pid, p] : procs_)
      if (!p.killed) {
        signal_worker(pid, SIGKILL);
        p.killed = true;
      }
  }
  advance_chain();
  check_touch_reload();
}

MasterStatus Master::status() const {
  MasterStatus s;
  s.generation = generation_;
  s.stopping = stopping_;
  // A reload keeps the previous generation serving, so readiness holds.
  s.ready = ever_ready_ && !stopping_;
  s.processes = settings_.processes;
  s.respawns = respawns_total_;
  s.harakiri_kills = harakiri_total_;
  return s;
}

void Master::check_touch_reload() {
  if (stopping_) return;
  if (!settings_.touch_reload.empty()) {
    std::int64_t m = file_mtime_ns(settings_.touch_reload);
    if (m != touch_mtime_) {
      touch_mtime_ = m;
      start_reload("--touch-reload file changed", false);
    }
  }
  if (!settings_.touch_chain_reload.empty()) {
    std::int64_t m = file_mtime_ns(settings_.touch_chain_reload);
    if (m != touch_chain_mtime_) {
      touch_chain_mtime_ = m;
      start_reload("--touch-chain-reload file changed", true);
    }
  }
}

void Master::advance_chain() {
  if (!chain_next_ || stopping_) return;
  bool successor_ready = std::any_of(procs_.begin(), procs_.end(), [&](auto& kv) {
    return kv.second.id == chain_next_ && kv.second.generation == generation_ &&
           scoreboard_.worker(kv.second.slot).ready.load() != 0;
  });
  if (!successor_ready) return;
  // tick() now stops the old worker of this slot; the next one follows.
  if (++chain_next_ > settings_.processes) {
    spdlog::info("chain reload: every worker replaced (generation {})", generation_);
    chain_next_ = 0;
    return;
  }
  spdlog::info("chain reload: replacing worker {}", chain_next_);
  spawn(chain_next_, generation_);
}

void Master::start_reload(const char* why, bool chain) {
  if (stopping_) return;
  // Generation numbers only grow, so a late exit from a failed generation
  // can never be mistaken for one of its successor's.
  previous_generation_ = generation_;
  generation_ = ++last_generation_;
  spdlog::info("{}reloading ({}): starting generation {} with {} workers", chain ? "chain " : "", why, generation_,
               settings_.processes);
  sd_notify("RELOADING=1");
  spawner_.start_generation(generation_);
  // A chain reload replaces one worker at a time, each after its
  // successor is ready (advance_chain); a plain one starts them all.
  chain_next_ = chain ? 1 : 0;
  for (int id = 1; id <= (chain ? 1 : settings_.processes); ++id) spawn(id, generation_);
  announced_ready_ = false;
}

void Master::begin_shutdown(bool graceful) {
  // Already stopping at least this hard; a second INT upgrades a graceful stop.
  if (stopping_ && (graceful || !graceful_)) return;
  stopping_ = true;
  graceful_ = graceful;
  stop_started_ms_ = monotonic_ms();
  sd_notify("STOPPING=1");
  spdlog::info(graceful ? "graceful shutdown: workers finish their requests" : "immediate shutdown");
  // A loader serves no request: stop it now, even in the middle of an
  // import that takes long or hangs (a database that does not answer), so
  // neither Ctrl-C nor TERM waits for an application that is not serving.
  // Workers it had not forked yet will not be needed.
  spawner_.stop();
  for (auto& [pid, p] : procs_) {
    p.term_sent_ms = 0;
    stop_worker(pid, p, stop_started_ms_);
  }
}

void Master::handle_signal(int signo) {
  switch (signo) {
    case SIGCHLD:
      break;  // reaped by the loop
    case SIGTERM:
      begin_shutdown(true);
      break;
    case SIGINT:
    case SIGQUIT:
      begin_shutdown(false);
      break;
    case SIGHUP:
      start_reload("SIGHUP", false);
      break;
    case SIGUSR2:
      start_reload("SIGUSR2", true);
      break;
    case SIGUSR1:
      log::reopen();
      for (auto& [pid, p] : procs_) signal_worker(pid, SIGUSR1);
      spdlog::info("log files reopened");
      break;
    case SIGTTIN:
      if (stopping_) break;
      // The scoreboard was sized at start; a reload needs room for two
      // generations of every worker, so that bounds how many can be added.
      if ((settings_.processes + 1) * 2 > scoreboard_.workers()) {
        spdlog::warn("SIGTTIN: not adding a worker: {} is the most this master can run and still reload "
                     "(start with a higher --processes for more)",
                     settings_.processes);
        break;
      }
      settings_.processes++;
      spdlog::info("SIGTTIN: adding worker {}", settings_.processes);
      spawn(settings_.processes, generation_);
      break;
    case SIGTTOU:
      if (stopping_ || settings_.processes <= 1) break;
      if (settings_.processes <= settings_.min_processes) {
        spdlog::warn("SIGTTOU: not removing a worker: with --reuse-port each of the first {} workers owns a "
                     "listening socket, and connections queued on it would wait for nobody",
                     settings_.min_processes);
        break;
      }
      spdlog::info("SIGTTOU: removing worker {}", settings_.processes);
      for (auto& [pid, p] : procs_)
        if (p.id == settings_.processes) stop_worker(pid, p, monotonic_ms());
      settings_.processes--;
      break;
  }
}

}  // namespace trellis::core
