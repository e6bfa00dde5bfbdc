#include "worker/locked_acceptor.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <mutex>

#include "process/exit_codes.hpp"  // kExitInternalError
#include "worker/accept_errors.hpp"

namespace trellis::core {

namespace {

// Where the thread is. The loop may only consider it finished when no
// connection can come out of it any more: `exited`, or `waiting_lock`
// turned into `abandoned` (it will give the lock up as soon as it gets it).
enum Phase : int { idle, waiting_lock, holding, abandoned, exited };

void signal_eventfd(int fd) {
  std::uint64_t one = 1;
  while (::write(fd, &one, sizeof one) < 0) {
    if (errno == EINTR) continue;
    // EAGAIN means the counter is full: the reader is woken anyway.
    if (errno != EAGAIN) spdlog::error("accept lock: cannot signal an eventfd: {}", std::strerror(errno));
    return;
  }
}

void drain_eventfd(int fd) {
  std::uint64_t count = 0;
  while (::read(fd, &count, sizeof count) < 0 && errno == EINTR) {
  }
}

}  // namespace

// Shared by the worker and the thread: an abandoned thread may outlive the
// LockedAcceptor (and the worker), so it owns nothing of theirs.
struct LockedAcceptor::Shared {
  Shared(LockEngineRef e, std::vector<Listener> l, int c) : engine(e), listeners(std::move(l)), capacity(c) {}
  ~Shared() {
    if (wake_fd >= 0) ::close(wake_fd);
    if (ready_fd >= 0) ::close(ready_fd);
  }

  const LockEngineRef engine;
  const std::vector<Listener> listeners;
  const int capacity;
  int wake_fd = -1;   // wakes the thread's poll(): stop, or the worker became full
  int ready_fd = -1;  // wakes the loop: connections to take, or the thread ended
  std::atomic<int> phase{idle};

  std::mutex mutex;
  std::condition_variable has_room;
  int in_app = 0;   // requests in the application
  int handed = 0;   // accepted, not yet adopted
  bool stopping = false;
  std::vector<Accepted> accepted;
  int failure = 0;  // errno of a failure the thread could not go on after
  std::size_t failed_on = 0;

  bool full() const { return in_app + handed >= capacity; }
};

LockedAcceptor::LockedAcceptor(LockEngineRef engine, std::vector<Listener> listeners, int capacity)
    : shared_(std::make_shared<Shared>(engine, std::move(listeners), capacity)) {}

LockedAcceptor::~LockedAcceptor() {
  if (!thread_.joinable()) return;
  stop();
  pollfd p{shared_->ready_fd, POLLIN, 0};
  while (!settled()) {
    // Holding the lock or between steps: stop() woke it, it ends shortly.
    if (::poll(&p, 1, 10) > 0) drain_eventfd(shared_->ready_fd);
  }
  if (shared_->phase.load() == abandoned)
    thread_.detach();
  else
    thread_.join();
}

bool LockedAcceptor::start() {
  shared_->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (shared_->wake_fd < 0) return false;
  shared_->ready_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (shared_->ready_fd < 0) return false;
  try {
    thread_ = std::thread([shared = shared_] { run(shared); });
  } catch (const std::system_error& e) {
    errno = e.code().value();
    return false;
  }
  return true;
}

int LockedAcceptor::ready_fd() const { return shared_->ready_fd; }

int LockedAcceptor::failure(std::size_t& listener) {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  listener = shared_->failed_on;
  return shared_->failure;
}

std::vector<LockedAcceptor::Accepted> LockedAcceptor::take() {
  drain_eventfd(shared_->ready_fd);
  std::vector<Accepted> batch;
  std::lock_guard<std::mutex> lock(shared_->mutex);
  batch.swap(shared_->accepted);
  return batch;
}

void LockedAcceptor::set_load(int in_app, std::size_t adopted) {
  Shared& s = *shared_;
  bool full;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    s.in_app = in_app;
    s.handed -= static_cast<int>(adopted);
    full = s.full();
  }
  if (!full) {
    s.has_room.notify_one();
  } else if (s.phase.load(std::memory_order_relaxed) == holding) {
    // Busy now: the lock goes back, so an idle worker accepts the next one.
    signal_eventfd(s.wake_fd);
  }
}

void LockedAcceptor::stop() {
  Shared& s = *shared_;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (s.stopping) return;
    s.stopping = true;
  }
  s.has_room.notify_all();
  if (s.wake_fd >= 0) signal_eventfd(s.wake_fd);
}

bool LockedAcceptor::settled() {
  if (!thread_.joinable()) return true;
  int phase = shared_->phase.load();
  if (phase == exited || phase == abandoned) return true;
  // Blocked in lock(): once it gets the lock it finds itself abandoned and
  // gives it back without accepting (see run()).
  if (phase == waiting_lock) return shared_->phase.compare_exchange_strong(phase, abandoned);
  return false;
}

void LockedAcceptor::run(const std::shared_ptr<Shared>& shared) {
  Shared& s = *shared;
  try {
    std::vector<pollfd> fds;
    for (auto& l : s.listeners) fds.push_back({l.socket->fd, POLLIN, 0});
    fds.push_back({s.wake_fd, POLLIN, 0});
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(s.mutex);
        s.has_room.wait(lock, [&] { return s.stopping || !s.full(); });
        if (s.stopping) break;
      }
      s.phase.store(waiting_lock);
      bool locked = s.engine.lock();
      int expected = waiting_lock;
      if (!s.phase.compare_exchange_strong(expected, holding)) {
        // Abandoned while waiting: the worker may already be gone.
        if (locked) s.engine.unlock();
        return;
      }
      if (!locked) {  // the engine said why
        s.phase.store(idle);
        usleep(10000);
        continue;
      }
      int accepted = -1;
      int error = 0;
      std::size_t from = 0;
      bool go = false;
      {
        std::lock_guard<std::mutex> lock(s.mutex);
        go = !s.stopping && !s.full();
      }
      // Holding the lock, wait for a connection as long as it takes: the
      // others wait for the lock meanwhile, and stop() or a busy worker
      // wakes this poll through wake_fd.
      if (go && ::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) error = errno;
      for (std::size_t i = 0; go && !error && i + 1 < fds.size() && accepted < 0; ++i) {
        if (!(fds[i].revents & POLLIN)) continue;
        accepted = accept4(fds[i].fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (accepted < 0) error = errno;
        from = i;
      }
      if (go && (fds.back().revents & POLLIN)) drain_eventfd(s.wake_fd);
      s.engine.unlock();
      s.phase.store(idle);
      if (accepted >= 0) {
        {
          std::lock_guard<std::mutex> lock(s.mutex);
          s.accepted.push_back({accepted, from});
          s.handed++;
        }
        signal_eventfd(s.ready_fd);
        continue;
      }
      if (!error) continue;
      switch (classify_accept_error(error)) {
        case AcceptOutcome::again:
        case AcceptOutcome::empty:
          break;
        case AcceptOutcome::pause:
          log_accept_pause(s.listeners[from], error);
          usleep(kAcceptPauseMs * 1000);
          break;
        case AcceptOutcome::fatal: {
          // The worker's loop fails the worker (failure() says why).
          std::lock_guard<std::mutex> lock(s.mutex);
          s.failure = error;
          s.failed_on = from;
        }
      }
      if (s.failure) break;
    }
  } catch (const std::exception& e) {
    spdlog::critical("accept lock thread stopped by an unexpected error: {}", e.what());
    _exit(kExitInternalError);
  }
  s.phase.store(exited);
  signal_eventfd(s.ready_fd);
}

}  // namespace trellis::core
