// The master process: forks and supervises workers, enforces harakiri,
// reacts to signals. It never runs application code; everything about
// plugins reaches it through MasterHooks.
#pragma once

#include <poll.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "process/exit_codes.hpp"
#include "process/scoreboard.hpp"
#include "process/spawner.hpp"

namespace trellis::core {

struct MasterSettings {
  int processes = 1;
  // SIGTTOU goes no lower: with --reuse-port each of the first workers owns
  // a listening socket nobody else accepts on.
  int min_processes = 1;
  int harakiri_s = 0;              // 0: off
  int worker_reload_mercy_s = 60;  // drain time before SIGKILL
  std::string pidfile;
  std::vector<std::string> vacuum_paths;  // removed at exit (--vacuum)
  std::string touch_reload;               // reload when this file's mtime changes
  std::string touch_chain_reload;         // chain-reload when this file's mtime changes
};

struct MasterHooks {
  // A worker died: it may have held the accept lock.
  std::function<void(pid_t pid)> worker_died;
};

// What the master tells the services its loop hosts.
struct MasterStatus {
  std::uint64_t generation = 0;
  bool stopping = false;
  bool ready = false;  // the workers accepted, and no stop has begun
  int processes = 0;
  std::uint64_t respawns = 0;
  std::uint64_t harakiri_kills = 0;
};

// Something the master's loop serves besides signals and spawners (the stats
// server). Its calls must never block.
class LoopService {
 public:
  virtual ~LoopService() = default;
  virtual void add_poll_fds(std::vector<pollfd>& fds) = 0;
  // `fds` are the entries add_poll_fds added, after poll() (or a timeout).
  virtual void on_poll(const pollfd* fds, std::size_t count, const MasterStatus& status) = 0;
  // A worker died; its scoreboard slot is about to be freed for reuse.
  virtual void worker_exited(int slot) = 0;
};

class Master {
 public:
  Master(MasterSettings settings, MasterHooks hooks, Scoreboard& scoreboard, Spawner& spawner);
  void add_service(LoopService* service) { services_.push_back(service); }
  // Returns the process exit code.
  int run();

 private:
  struct Proc {
    int id = 0;     // logical worker number, 1..processes
    int slot = 0;   // scoreboard slot
    std::uint64_t generation = 0;
    std::int64_t spawned_ms = 0;
    std::int64_t term_sent_ms = 0;  // 0: not asked to stop
    bool killed = false;
    bool harakiri = false;
  };
  struct Respawn {
    int fast_deaths = 0;
    std::int64_t due_ms = 0;  // 0: nothing pending
  };

  bool spawn(int id, std::uint64_t generation);
  void adopt(int id, int slot, std::uint64_t generation, pid_t pid);
  // Worker `id` could not be forked: its slot is free again and tick()
  // tries once more after the back-off.
  void spawn_failed(int id, int slot, std::uint64_t generation, int error);
  // A live or pending worker of the current generation holds id `id`.
  bool has_current(int id) const;
  // Sends `sig` to a worker; refuses a pid <= 0, which kill() would take as
  // a process group, or every process the master may signal.
  void signal_worker(pid_t pid, int sig);
  void handle_spawn_events(std::vector<SpawnEvent>& events);
  void generation_failed(std::uint64_t generation);
  void read_signals();
  void reap();
  void on_exit(pid_t pid, int status);
  void tick(std::int64_t now);
  void handle_signal(int signo);
  void start_reload(const char* why, bool chain);
  void advance_chain();
  void stop_worker(pid_t pid, Proc& p, std::int64_t now);
  void begin_shutdown(bool graceful);
  int live_workers() const { return static_cast<int>(procs_.size()); }
  int alloc_slot();
  void check_touch_reload();

  MasterSettings settings_;
  MasterHooks hooks_;
  Scoreboard& scoreboard_;
  Spawner& spawner_;
  std::map<pid_t, Proc> procs_;
  struct Pending {
    int id;
    std::uint64_t generation;
  };
  std::map<int, Pending> pending_;          // slot -> worker asked of a loader
  std::map<pid_t, int> early_exits_;        // reaped before the loader named them
  std::map<int, Respawn> respawn_;
  std::vector<int> free_slots_;
  std::uint64_t generation_ = 1;           // new and respawned workers join it
  std::uint64_t previous_generation_ = 1;  // serves again if generation_ fails
  std::uint64_t last_generation_ = 1;      // highest number handed out
  bool stopping_ = false;
  bool graceful_ = true;
  std::int64_t stop_started_ms_ = 0;
  bool fatal_ = false;
  bool announced_ready_ = false;
  std::int64_t touch_mtime_ = 0;
  std::int64_t touch_chain_mtime_ = 0;
  int chain_next_ = 0;  // chain reload: the worker id being replaced, 0 when none
  int signal_fd_ = -1;
  std::vector<LoopService*> services_;
  bool ever_ready_ = false;
  std::uint64_t respawns_total_ = 0;
  std::uint64_t harakiri_total_ = 0;
  MasterStatus status() const;
};

}  // namespace trellis::core
