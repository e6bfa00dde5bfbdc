// "pthread": a process-shared robust mutex in shared memory. Robust, so a
// worker killed while holding it (harakiri, OOM killer) does not wedge the
// others: the next locker gets EOWNERDEAD and takes the lock over.
#pragma once

#include <pthread.h>

#include "trellis/host.hpp"
#include "trellis/lock_engine.hpp"

namespace trellis::locks {

class PthreadLock final : public sdk::LockEngine {
 public:
  const char* name() const noexcept override { return "pthread"; }
  explicit PthreadLock(sdk::Host host) : host_(host) {}
  sdk::Status init_master() noexcept override;
  sdk::Status lock() noexcept override;
  void unlock() noexcept override;

 private:
  sdk::Host host_;
  pthread_mutex_t* mutex_ = nullptr;  // in host.shared_memory()
};

}  // namespace trellis::locks
