#include "pthread_lock.hpp"

#include <cerrno>
#include <cstring>

namespace trellis::locks {

using sdk::LogLevel;
using sdk::Status;

Status PthreadLock::init_master() noexcept {
  sdk::Host& host = host_;
  void* mem = host.shared_memory(sizeof(pthread_mutex_t));
  if (mem == nullptr) {
    host.log(LogLevel::error, "lock engine pthread: no shared memory for the mutex");
    return Status::internal_error;
  }
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  int rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  if (rc == 0) rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  if (rc == 0) rc = pthread_mutex_init(static_cast<pthread_mutex_t*>(mem), &attr);
  pthread_mutexattr_destroy(&attr);
  if (rc != 0) {
    host.logf(LogLevel::error, "lock engine pthread: cannot create a robust process-shared mutex: %s", std::strerror(rc));
    return Status::io_error;
  }
  mutex_ = static_cast<pthread_mutex_t*>(mem);
  return Status::ok;
}

Status PthreadLock::lock() noexcept {
  if (mutex_ == nullptr) return Status::unsupported;
  int rc = pthread_mutex_lock(mutex_);
  if (rc == EOWNERDEAD) {
    // The previous holder died inside its critical section. accept() leaves
    // no shared state half-updated, so the mutex can simply be declared
    // consistent; we now hold it.
    rc = pthread_mutex_consistent(mutex_);
    host_.log(LogLevel::warn, "lock engine pthread: the lock holder died; lock recovered");
  }
  if (rc != 0) {
    host_.logf(LogLevel::error, "lock engine pthread: cannot take the lock: %s", std::strerror(rc));
    return Status::internal_error;
  }
  return Status::ok;
}

void PthreadLock::unlock() noexcept {
  if (mutex_) pthread_mutex_unlock(mutex_);
}

}  // namespace trellis::locks
