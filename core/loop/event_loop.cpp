#include "loop/event_loop.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "process/scoreboard.hpp"  // monotonic_ms

namespace trellis::core {

namespace {
constexpr std::uint64_t kWakeTag = ~0ull;
constexpr int kMaxEvents = 128;

std::uint64_t tag(EventLoop::Token token, std::uint32_t generation) {
  return (static_cast<std::uint64_t>(generation) << 32) | token;
}
}  // namespace

EventLoop::~EventLoop() {
  {
    std::lock_guard<std::mutex> lock(post_mutex_);
    closed_ = true;
  }
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

bool EventLoop::open() {
  loop_thread_ = std::this_thread::get_id();
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return false;
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) return false;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeTag;
  return epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) == 0;
}

bool EventLoop::add(int fd, std::uint32_t events, Handler* handler, Token& token) {
  Token t;
  if (!free_slots_.empty()) {
    t = free_slots_.back();
    free_slots_.pop_back();
  } else {
    t = static_cast<Token>(slots_.size());
    slots_.emplace_back();
  }
  Slot& s = slots_[t];
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag(t, s.generation);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    free_slots_.push_back(t);
    return false;
  }
  s.handler = handler;
  s.fd = fd;
  token = t;
  return true;
}

bool EventLoop::modify(Token token, std::uint32_t events) {
  Slot& s = slots_[token];
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag(token, s.generation);
  return epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, s.fd, &ev) == 0;
}

bool EventLoop::remove(Token token, bool fd_closed) {
  if (token == kNoToken || token >= slots_.size()) return true;
  Slot& s = slots_[token];
  bool ok = true;
  if (!fd_closed && s.fd >= 0) ok = epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, s.fd, nullptr) == 0;
  s.handler = nullptr;
  s.fd = -1;
  s.generation++;  // events still in flight for it no longer match
  free_slots_.push_back(token);
  return ok;
}

void EventLoop::schedule(Timer& timer, std::int64_t delay_ms) { timers_.schedule(timer, monotonic_ms() + delay_ms); }

bool EventLoop::post(void (*fn)(void*), void* arg) noexcept {
  bool wake = false;
  try {
    std::lock_guard<std::mutex> lock(post_mutex_);
    if (closed_) return false;
    posted_.emplace_back(fn, arg);
    has_posted_.store(true, std::memory_order_release);
    if (!wake_pending_) {
      wake_pending_ = true;
      wake = true;
    }
  } catch (...) {
    return false;  // out of memory
  }
  if (wake) {
    std::uint64_t one = 1;
    // EAGAIN only when the counter is full, and then the loop wakes anyway.
    while (::write(wake_fd_, &one, sizeof one) < 0 && errno == EINTR) {
    }
  }
  return true;
}

void EventLoop::run_posted(bool woken) {
  // Drain the wake-up first: a post after the swap below writes it again.
  // (Not woken: nothing to drain, and no system call on a busy turn.)
  if (woken) {
    std::uint64_t count = 0;
    while (::read(wake_fd_, &count, sizeof count) < 0 && errno == EINTR) {
    }
  }
  // Most turns nothing was posted: no lock then. A post racing with this
  // check wakes the loop (wake_pending_), so it runs next turn.
  if (!has_posted_.load(std::memory_order_acquire)) return;
  {
    std::lock_guard<std::mutex> lock(post_mutex_);
    if (posted_.empty()) return;
    running_.swap(posted_);
    has_posted_.store(false, std::memory_order_relaxed);
    wake_pending_ = false;
  }
  // Calls posted while these run wait for the next turn.
  for (auto& [fn, arg] : running_) fn(arg);
  running_.clear();
}

void EventLoop::run_timers() {
  std::int64_t now = monotonic_ms();
  while (Timer* t = timers_.pop_due(now)) t->fn(t->arg);
}

std::int64_t EventLoop::next_wait_ms() const {
  if (has_posted_.load(std::memory_order_acquire)) return 0;
  std::int64_t due = timers_.next_due();
  if (due < 0) return -1;
  return std::max<std::int64_t>(0, due - monotonic_ms());
}

bool EventLoop::run_once(int max_wait_ms) {
  int timeout = max_wait_ms;
  if (has_posted_.load(std::memory_order_acquire)) timeout = 0;
  std::int64_t due = timers_.next_due();
  if (due >= 0 && timeout != 0) {
    std::int64_t wait = std::max<std::int64_t>(0, due - monotonic_ms());
    if (timeout < 0 || wait < timeout) timeout = static_cast<int>(std::min<std::int64_t>(wait, 1 << 30));
  }
  epoll_event events[kMaxEvents];
  int n = epoll_wait(epoll_fd_, events, kMaxEvents, timeout);
  if (n < 0) {
    if (errno != EINTR) return false;
    n = 0;
  }
  bool woken = false;
  for (int i = 0; i < n; ++i) {
    std::uint64_t data = events[i].data.u64;
    if (data == kWakeTag) {
      woken = true;  // run_posted() below drains it
      continue;
    }
    Token t = static_cast<Token>(data & 0xffffffffu);
    std::uint32_t generation = static_cast<std::uint32_t>(data >> 32);
    if (t >= slots_.size()) continue;
    Slot& s = slots_[t];
    if (s.generation != generation || !s.handler) continue;  // removed since
    s.handler->on_events(events[i].events);
  }
  run_timers();
  run_posted(woken);
  return true;
}

}  // namespace trellis::core
