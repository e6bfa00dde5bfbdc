// "sem": a POSIX unnamed semaphore (pshared) in shared memory, with the
// holder's pid next to it. A semaphore has no owner the kernel could
// release, so the master does it: holder_died(pid) posts it when that pid
// held it.
#pragma once

#include <semaphore.h>
#include <sys/types.h>

#include <atomic>

#include "trellis/host.hpp"
#include "trellis/lock_engine.hpp"

namespace trellis::locks {

class SemLock final : public sdk::LockEngine {
 public:
  const char* name() const noexcept override { return "sem"; }
  explicit SemLock(sdk::Host host) : host_(host) {}
  sdk::Status init_master() noexcept override;
  sdk::Status lock() noexcept override;
  void unlock() noexcept override;
  void holder_died(int pid) noexcept override;

 private:
  struct Shared {
    sem_t sem;
    std::atomic<pid_t> holder;  // 0 when free
  };
  static_assert(std::atomic<pid_t>::is_always_lock_free, "the holder pid is shared between processes");

  sdk::Host host_;
  Shared* shared_ = nullptr;  // in host.shared_memory()
};

}  // namespace trellis::locks
