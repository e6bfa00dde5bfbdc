// A worker's event loop: epoll for descriptors, a timer heap for deadlines,
// and one eventfd through which any thread posts calls to the loop thread.
//
// Registrations are slots, and every event carries its slot's index and
// generation: an event read in the same epoll_wait batch in which its
// registration was removed (and the descriptor perhaps reused by a new
// connection) is dropped instead of reaching the new owner.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "loop/timer_heap.hpp"

namespace trellis::core {

class EventLoop {
 public:
  class Handler {
   public:
    // `events`: what epoll reported (EPOLLIN, EPOLLOUT, EPOLLHUP ...).
    virtual void on_events(std::uint32_t events) = 0;

   protected:
    ~Handler() = default;
  };
  using Token = std::uint32_t;
  static constexpr Token kNoToken = static_cast<Token>(-1);

  EventLoop() = default;
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Creates the epoll set and the wake-up eventfd; the calling thread is
  // the loop thread from now on. False with errno set on failure.
  bool open();

  // Loop thread. False with errno set when epoll_ctl failed.
  bool add(int fd, std::uint32_t events, Handler* handler, Token& token);
  bool modify(Token token, std::uint32_t events);
  // Takes the descriptor out of the set (EPOLL_CTL_DEL) and retires the
  // slot. `fd_closed`: the caller closed it already (close() removed it).
  bool remove(Token token, bool fd_closed = false);

  // Loop thread. Timers run from run_once(), at most one turn late.
  void schedule(Timer& timer, std::int64_t delay_ms);
  void cancel(Timer& timer) { timers_.cancel(timer); }

  // Any thread: fn(arg) runs on the loop thread during a later turn, in the
  // order posted. Posts from other threads cost one eventfd write per batch.
  // False when the loop is closed.
  bool post(void (*fn)(void*), void* arg) noexcept;

  bool on_loop_thread() const { return std::this_thread::get_id() == loop_thread_; }

  // One turn: waits at most `max_wait_ms` (less when a timer is due sooner;
  // -1: until something happens), then dispatches descriptor events, due
  // timers and posted calls. False with errno set when epoll_wait failed.
  bool run_once(int max_wait_ms);

  // For an outer loop that embeds this one: its epoll descriptor (polls
  // readable when a turn has descriptor events or posted calls), and how
  // long it may wait before the next turn (0: posted work; the next timer;
  // -1: no timer).
  int fd() const { return epoll_fd_; }
  std::int64_t next_wait_ms() const;

 private:
  struct Slot {
    Handler* handler = nullptr;
    int fd = -1;
    std::uint32_t generation = 0;
  };
  void run_posted(bool woken);
  void run_timers();

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::thread::id loop_thread_;
  std::vector<Slot> slots_;
  std::vector<Token> free_slots_;
  TimerHeap timers_;

  std::mutex post_mutex_;
  std::vector<std::pair<void (*)(void*), void*>> posted_;
  std::vector<std::pair<void (*)(void*), void*>> running_;
  bool wake_pending_ = false;
  // posted_ is not empty: lets a turn with nothing posted skip the lock.
  std::atomic<bool> has_posted_{false};
  bool closed_ = false;
};

}  // namespace trellis::core
