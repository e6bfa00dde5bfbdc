// "flock": an advisory lock on an anonymous temporary file. The kernel drops
// it when the holder dies, so no recovery is needed.
//
// flock() locks belong to an open file description, which fork() shares: a
// descriptor inherited from the master would make every worker the same
// owner. So the master keeps one descriptor to an already unlinked file and
// each worker re-opens it through /proc/self/fd, getting a description of its
// own. Nothing is left in the file system, even after a crash.
//
// Threads of one worker share that description too, so a process-local
// mutex orders them first: the engine excludes threads as pthread and sem do.
#pragma once

#include <mutex>

#include "trellis/host.hpp"
#include "trellis/lock_engine.hpp"

namespace trellis::locks {

class FlockLock final : public sdk::LockEngine {
 public:
  const char* name() const noexcept override { return "flock"; }
  explicit FlockLock(sdk::Host host) : host_(host) {}
  sdk::Status init_master() noexcept override;
  sdk::Status init_child() noexcept override;
  sdk::Status lock() noexcept override;
  void unlock() noexcept override;

 private:
  sdk::Host host_;
  int master_fd_ = -1;  // inherited by every worker, never locked
  int fd_ = -1;         // this worker's own open file description
  std::mutex threads_;  // held together with the flock
};

}  // namespace trellis::locks
