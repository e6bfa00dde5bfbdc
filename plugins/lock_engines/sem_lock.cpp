#include "sem_lock.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

namespace trellis::locks {

using sdk::LogLevel;
using sdk::Status;

Status SemLock::init_master() noexcept {
  sdk::Host& host = host_;
  void* mem = host.shared_memory(sizeof(Shared));
  if (mem == nullptr) {
    host.log(LogLevel::error, "lock engine sem: no shared memory for the semaphore");
    return Status::internal_error;
  }
  auto* s = static_cast<Shared*>(mem);
  new (&s->holder) std::atomic<pid_t>(0);
  if (sem_init(&s->sem, /*pshared=*/1, 1) != 0) {
    host.logf(LogLevel::error, "lock engine sem: cannot create a process-shared semaphore: %s", std::strerror(errno));
    return Status::io_error;
  }
  shared_ = s;
  return Status::ok;
}

Status SemLock::lock() noexcept {
  if (shared_ == nullptr) return Status::unsupported;
  while (sem_wait(&shared_->sem) != 0) {
    if (errno == EINTR) continue;
    host_.logf(LogLevel::error, "lock engine sem: cannot take the lock: %s", std::strerror(errno));
    return Status::io_error;
  }
  // A holder killed between sem_wait and this store is not recoverable;
  // the window is a few instructions, the price of an ownerless primitive.
  shared_->holder.store(getpid(), std::memory_order_release);
  return Status::ok;
}

void SemLock::unlock() noexcept {
  if (shared_ == nullptr) return;
  // Clear before posting: a holder killed in between leaves the lock free of
  // a recorded owner (lost), never posted twice (two holders at once).
  pid_t self = getpid();
  shared_->holder.compare_exchange_strong(self, 0, std::memory_order_acq_rel);
  sem_post(&shared_->sem);
}

void SemLock::holder_died(int pid) noexcept {
  if (shared_ == nullptr || pid <= 0) return;
  pid_t expected = pid;
  if (!shared_->holder.compare_exchange_strong(expected, 0, std::memory_order_acq_rel)) return;
  // A held semaphore has value 0; anything else means someone already gave
  // it back and posting again would admit two holders.
  int value = 0;
  if (sem_getvalue(&shared_->sem, &value) == 0 && value > 0) return;
  sem_post(&shared_->sem);
  host_.logf(LogLevel::warn, "lock engine sem: worker %d died holding the lock; released it", pid);
}

}  // namespace trellis::locks
