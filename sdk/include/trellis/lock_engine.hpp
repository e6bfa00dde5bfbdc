// Accept locks: which worker may accept() next when the kernel's own
// distribution (EPOLLEXCLUSIVE) is not what the operator wants.
#pragma once

#include <string_view>

#include "trellis/status.hpp"

namespace trellis::sdk {

class LockEngine {
 public:
  // The name --lock-engine selects it by. NUL-terminated, lives forever.
  virtual const char* name() const noexcept = 0;
  // In the master before the first fork: set up shared state, typically in
  // Host::shared_memory().
  virtual Status init_master() noexcept = 0;
  // In each worker after fork (flock opens its own descriptor here).
  virtual Status init_child() noexcept { return Status::ok; }
  // The worker's accept thread, around poll() and accept(). lock() blocks
  // as long as it takes; a stopping worker may exit while its thread still
  // waits here (a thread that gets the lock after that calls unlock() at
  // once), so the lock must survive a waiter that vanishes.
  virtual Status lock() noexcept = 0;
  virtual void unlock() noexcept = 0;
  // In the master: worker `pid` died and may have held the lock.
  virtual void holder_died(int pid) noexcept { (void)pid; }

 protected:
  ~LockEngine() = default;
};

}  // namespace trellis::sdk
