#include "process/spawner.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>

#include "process/exit_codes.hpp"

namespace trellis::core {

namespace {

// Loader <-> master messages: fixed size, one per SEQPACKET datagram.
struct Message {
  enum Type : int { ready = 1, spawn = 2, spawned = 3, spawn_failed = 4 } type;
  int id;
  int slot;
  std::uint64_t generation;
  pid_t pid;
  int error;  // spawn_failed: errno of the fork that failed
};

bool send_message(int fd, const Message& m) {
  return ::send(fd, &m, sizeof m, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof m);
}

// Runs a forked child's whole life and ends the process with its exit code.
// Nothing unwinds out of a child: the stack below it belongs to the master.
template <class Body>
[[noreturn]] void run_child(const char* role, Body&& body) noexcept {
  int code = kExitInternalError;
  try {
    code = body();
  } catch (const std::exception& e) {
    spdlog::critical("{} stopped by an unexpected error: {}", role, e.what());
  } catch (...) {
    spdlog::critical("{} stopped by an unexpected error of unknown type", role);
  }
  _exit(code);
}

}  // namespace

pid_t DirectSpawner::spawn(int id, int slot, std::uint64_t generation) {
  if (before_fork_) before_fork_();
  pid_t pid = fork();
  int fork_error = errno;
  if (pid != 0) {  // parent, or -1
    if (after_fork_parent_) after_fork_parent_();
    errno = fork_error;
    return pid;
  }
  run_child("worker", [&] {
    in_child_();
    return body_(id, slot, generation, true);
  });
}

LoaderSpawner::~LoaderSpawner() { stop(); }

void LoaderSpawner::start_generation(std::uint64_t generation) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    int error = errno;
    spdlog::error("socketpair for the loader failed: {}", std::strerror(error));
    errno = error;
    return;
  }
  pid_t pid = fork();
  if (pid < 0) {
    int fork_error = errno;
    spdlog::error("cannot fork the loader of generation {}: {}", generation, std::strerror(fork_error));
    close(sv[0]);
    close(sv[1]);
    errno = fork_error;  // spawn() reports it
    return;
  }
  if (pid == 0) {
    close(sv[0]);
    for (auto& [g, l] : loaders_) close(l.fd);
    run_child("loader", [&]() -> int { loader_main(sv[1], generation); });
  }
  close(sv[1]);
  Loader l;
  l.pid = pid;
  l.fd = sv[0];
  loaders_[generation] = std::move(l);
  spdlog::info("loader of generation {} started (pid {}): importing the application", generation, pid);
}

void LoaderSpawner::loader_main(int fd, std::uint64_t generation) {
  hooks_.in_loader();
  if (!hooks_.load_application()) _exit(kExitAppLoadFailed);
  spdlog::info("application loaded; forking workers from here (generation {})", generation);
  if (!send_message(fd, {Message::ready, 0, 0, generation, getpid(), 0})) {
    spdlog::error("loader of generation {}: cannot reach the master: {}", generation, std::strerror(errno));
    _exit(1);
  }
  for (;;) {
    Message m{};
    ssize_t n = recv(fd, &m, sizeof m, 0);
    if (n == 0) _exit(0);  // the master is gone or retired us
    if (n != static_cast<ssize_t>(sizeof m)) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) spdlog::error("loader of generation {}: reading from the master failed: {}", generation,
                               std::strerror(errno));
      _exit(n < 0 ? 1 : 0);
    }
    if (m.type != Message::spawn) continue;
    if (hooks_.before_fork) hooks_.before_fork();
    pid_t middle = fork();
    if (middle == 0) {
      // The intermediate: fork the worker, report it, vanish, so that the
      // worker is re-parented to the master.
      pid_t worker = fork();
      if (worker == 0) {
        close(fd);
        run_child("worker", [&] {
          in_child_();
          return body_(m.id, m.slot, m.generation, false);
        });
      }
      // A failed fork is reported as such, never as a pid: the master must
      // not adopt (and later signal) pid -1.
      Message report{Message::spawned, m.id, m.slot, m.generation, worker, 0};
      if (worker < 0) report = {Message::spawn_failed, m.id, m.slot, m.generation, 0, errno};
      _exit(send_message(fd, report) ? 0 : 1);
    }
    int fork_error = errno;
    if (hooks_.after_fork_parent) hooks_.after_fork_parent();
    if (middle < 0) {
      if (!send_message(fd, {Message::spawn_failed, m.id, m.slot, m.generation, 0, fork_error})) _exit(1);
      continue;
    }
    while (waitpid(middle, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
}

void LoaderSpawner::send_spawn(Loader& l, int id, int slot, std::uint64_t generation) {
  if (!send_message(l.fd, {Message::spawn, id, slot, generation, 0, 0}))
    spdlog::error("cannot reach the loader of generation {}: {}", generation, std::strerror(errno));
}

pid_t LoaderSpawner::spawn(int id, int slot, std::uint64_t generation) {
  auto it = loaders_.find(generation);
  if (it == loaders_.end()) {
    // The loader of the serving generation died: a new one re-imports.
    start_generation(generation);
    it = loaders_.find(generation);
    if (it == loaders_.end()) return -1;
  }
  if (it->second.ready)
    send_spawn(it->second, id, slot, generation);
  else
    it->second.queued.emplace_back(id, slot);
  return 0;
}

std::vector<int> LoaderSpawner::fds() const {
  std::vector<int> out;
  for (auto& [g, l] : loaders_) out.push_back(l.fd);
  return out;
}

void LoaderSpawner::on_readable(std::vector<SpawnEvent>& events) {
  for (auto& [generation, l] : loaders_) {
    for (;;) {
      Message m{};
      ssize_t n = recv(l.fd, &m, sizeof m, MSG_DONTWAIT);
      if (n != static_cast<ssize_t>(sizeof m)) break;
      if (m.type == Message::ready) {
        l.ready = true;
        events.push_back({SpawnEvent::Kind::generation_ready, 0, 0, generation, l.pid});
        for (auto& [id, slot] : l.queued) send_spawn(l, id, slot, generation);
        l.queued.clear();
      } else if (m.type == Message::spawned && m.pid > 0) {
        events.push_back({SpawnEvent::Kind::spawned, m.id, m.slot, m.generation, m.pid});
      } else if (m.type == Message::spawned || m.type == Message::spawn_failed) {
        events.push_back({SpawnEvent::Kind::spawn_failed, m.id, m.slot, m.generation, 0, m.error});
      }
    }
  }
}

bool LoaderSpawner::on_exit(pid_t pid, int status, std::vector<SpawnEvent>& events) {
  for (auto it = loaders_.begin(); it != loaders_.end(); ++it) {
    Loader& l = it->second;
    if (l.pid != pid) continue;
    std::uint64_t generation = it->first;
    // Collect what it said before dying (spawned workers must be known).
    on_readable(events);
    bool failed = !l.ready;
    if (l.stopped) {
      spdlog::info("loader of generation {} (pid {}) stopped", generation, pid);
      // Workers it was still to fork will never come: the master forgets
      // them (it is stopping, so nothing else follows).
      events.push_back({SpawnEvent::Kind::generation_failed, 0, 0, generation, pid});
    } else if (failed) {
      events.push_back({SpawnEvent::Kind::generation_failed, 0, 0, generation, pid});
      if (!(WIFEXITED(status) && WEXITSTATUS(status) == kExitAppLoadFailed))
        spdlog::error("the loader of generation {} (pid {}) died before the application was loaded", generation,
                      pid);
    } else {
      spdlog::info("loader of generation {} (pid {}) exited", generation, pid);
    }
    close(l.fd);
    loaders_.erase(it);
    return true;
  }
  return false;
}

void LoaderSpawner::retire_before(std::uint64_t generation) {
  for (auto& [g, l] : loaders_)
    if (g < generation && l.fd >= 0) shutdown(l.fd, SHUT_WR);  // the loader sees EOF and exits
}

void LoaderSpawner::stop() {
  for (auto& [g, l] : loaders_)
    if (l.pid > 0 && !l.stopped) {
      l.stopped = true;
      if (kill(l.pid, SIGKILL) != 0 && errno != ESRCH)
        spdlog::error("cannot stop the loader of generation {} (pid {}): {}", g, l.pid, std::strerror(errno));
    }
}

}  // namespace trellis::core
