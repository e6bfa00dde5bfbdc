// Accept-lock mode (--lock-engine, --thunder-lock): the workers take turns
// at the listening sockets instead of all waiting on them. A thread per
// worker takes the lock engine's lock, waits for one connection, accepts
// it, releases the lock and hands the connection to the worker's event loop.
//
// Two rules keep it fair and lossless:
// - A worker at capacity (as many requests in the application as it has
//   application threads) neither takes the lock nor keeps it, so the lock
//   goes to a worker that can serve at once instead of one that would make
//   the connection wait.
// - Every connection it accepted comes out of take(), also after stop():
//   the worker serves it, draining or not. settled() says when no further
//   one can come, so the worker knows when it may exit.
#pragma once

#include <trellis/abi.h>

#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

#include "worker/listener_ref.hpp"

namespace trellis::core {

// A lock engine as the core calls it (a plugin's C table and its self).
struct LockEngineRef {
  const trellis_lock_engine_table* table = nullptr;
  void* self = nullptr;
  explicit operator bool() const { return table != nullptr; }
  bool lock() const { return table->lock(self) == TRELLIS_OK; }
  void unlock() const { table->unlock(self); }
};

class LockedAcceptor {
 public:
  struct Accepted {
    int fd;
    std::size_t listener;  // index into `listeners`
  };

  // `listeners`: the sockets to accept from; `capacity`: how many requests
  // the worker serves at once.
  LockedAcceptor(LockEngineRef engine, std::vector<Listener> listeners, int capacity);
  // Stops the thread; one still waiting for the lock is left to give it up
  // when it gets it (it touches nothing of the worker's any more).
  ~LockedAcceptor();
  LockedAcceptor(const LockedAcceptor&) = delete;
  LockedAcceptor& operator=(const LockedAcceptor&) = delete;

  // Starts the thread. False (errno set) when that was impossible.
  bool start();
  // Readable when accepted connections wait in take(), or the thread ended.
  int ready_fd() const;
  // The connections accepted so far. They count towards the worker's load
  // until set_load() reports them adopted.
  std::vector<Accepted> take();
  // Loop thread: the worker has `in_app` requests in the application now,
  // and adopted `adopted` connections from take() since the last call.
  void set_load(int in_app, std::size_t adopted = 0);
  // Non-zero (an errno) when the thread stopped because accepting failed
  // in a way it cannot recover from; `listener` is the socket concerned.
  int failure(std::size_t& listener);
  // No more accepts (the worker drains). Wakes the thread.
  void stop();
  // After stop(): true once no further connection can be accepted; take()
  // then holds the last ones.
  bool settled();

 private:
  struct Shared;
  static void run(const std::shared_ptr<Shared>& shared);

  std::shared_ptr<Shared> shared_;
  std::thread thread_;
};

}  // namespace trellis::core
