// "pthread": a process-shared robust mutex in shared memory. Robust, so a
// worker killed while holding it (harakiri, OOM killer) does not wedge the
// others: the next locker gets EOWNERDEAD and takes the lock over.
#pragma once

#include <pthread.h>

#include "trellis/lock_engine.hpp"

namespace trellis::locks {

class PthreadLock final : public sdk::LockEngine {
 public:
  std::string_view name() const noexcept override { return "pthread"; }
  sdk::Status init_master(sdk::Host& host) noexcept override;
  sdk::Status lock() noexcept override;
  void unlock() noexcept override;

 private:
  sdk::Host* host_ = nullptr;
  pthread_mutex_t* mutex_ = nullptr;  // in host.shared_memory()
};

}  // namespace trellis::locks
