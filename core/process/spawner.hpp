// How the master gets a new worker process.
//
// Lazy apps: the master forks, and the worker loads the application itself.
// Preload: the master never imports application code, so a loader process
// per generation imports it once and forks the workers, which share its
// memory copy-on-write. A loader forks twice so each worker is re-parented
// to the master (a child subreaper), which then supervises it like any
// other; the intermediate process reports the worker's pid to the master.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <vector>

namespace trellis::core {

struct SpawnEvent {
  // spawn_failed: worker `id` could not be forked (`error` is the errno);
  // the master tries again later.
  enum class Kind { spawned, spawn_failed, generation_ready, generation_failed } kind;
  int id = 0;
  int slot = 0;
  std::uint64_t generation = 0;
  pid_t pid = 0;  // spawned: the worker, always > 0
  int error = 0;
};

class Spawner {
 public:
  virtual ~Spawner() = default;
  // A new generation begins (at start and on every reload).
  virtual void start_generation(std::uint64_t generation) = 0;
  // Asks for worker `id` in `slot`. Returns its pid when known at once, 0
  // when it will arrive as a `spawned` or `spawn_failed` event, -1 with
  // errno set when it failed at once.
  virtual pid_t spawn(int id, int slot, std::uint64_t generation) = 0;
  // Descriptors the master polls; then on_readable() collects events.
  virtual std::vector<int> fds() const = 0;
  virtual void on_readable(std::vector<SpawnEvent>& events) = 0;
  // A child of the master exited: true when it was the spawner's own
  // process (a loader), possibly adding a generation_failed event.
  virtual bool on_exit(pid_t pid, int status, std::vector<SpawnEvent>& events) = 0;
  // Generations older than `generation` need no loader any more.
  virtual void retire_before(std::uint64_t generation) = 0;
  // Stop every loader (shutdown).
  virtual void stop() = 0;
};

// In the child: runs a worker; returns its exit code. An exception that
// escapes it is logged and ends the child with kExitInternalError: it never
// unwinds into the stack frames of the master it was forked from.
using WorkerBody = std::function<int(int id, int slot, std::uint64_t generation, bool load_application)>;

struct LoaderHooks {
  std::function<void()> before_fork;
  std::function<void()> after_fork_parent;
  std::function<bool()> load_application;  // false: could not load
  std::function<void()> in_loader;         // process setup of a new loader (label, signals)
};

class DirectSpawner final : public Spawner {
 public:
  DirectSpawner(std::function<void()> before_fork, std::function<void()> after_fork_parent, WorkerBody body,
                std::function<void()> in_child)
      : before_fork_(std::move(before_fork)),
        after_fork_parent_(std::move(after_fork_parent)),
        body_(std::move(body)),
        in_child_(std::move(in_child)) {}
  void start_generation(std::uint64_t) override {}
  pid_t spawn(int id, int slot, std::uint64_t generation) override;
  std::vector<int> fds() const override { return {}; }
  void on_readable(std::vector<SpawnEvent>&) override {}
  bool on_exit(pid_t, int, std::vector<SpawnEvent>&) override { return false; }
  void retire_before(std::uint64_t) override {}
  void stop() override {}

 private:
  std::function<void()> before_fork_;
  std::function<void()> after_fork_parent_;
  WorkerBody body_;
  std::function<void()> in_child_;
};

class LoaderSpawner final : public Spawner {
 public:
  LoaderSpawner(LoaderHooks hooks, WorkerBody body, std::function<void()> in_child)
      : hooks_(std::move(hooks)), body_(std::move(body)), in_child_(std::move(in_child)) {}
  ~LoaderSpawner() override;
  void start_generation(std::uint64_t generation) override;
  pid_t spawn(int id, int slot, std::uint64_t generation) override;
  std::vector<int> fds() const override;
  void on_readable(std::vector<SpawnEvent>& events) override;
  bool on_exit(pid_t pid, int status, std::vector<SpawnEvent>& events) override;
  void retire_before(std::uint64_t generation) override;
  void stop() override;

 private:
  struct Loader {
    pid_t pid = 0;
    int fd = -1;  // master's end of a SOCK_SEQPACKET pair
    bool ready = false;
    bool stopped = false;  // killed by stop(): its end is not a failure
    std::vector<std::pair<int, int>> queued;  // (id, slot) asked before ready
  };
  [[noreturn]] void loader_main(int fd, std::uint64_t generation);
  void send_spawn(Loader& l, int id, int slot, std::uint64_t generation);

  LoaderHooks hooks_;
  WorkerBody body_;
  std::function<void()> in_child_;
  std::map<std::uint64_t, Loader> loaders_;
};

}  // namespace trellis::core
