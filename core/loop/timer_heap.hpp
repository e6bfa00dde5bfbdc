// Timers in a binary min-heap keyed by due time. The loop waits until the
// earliest is due, so a timeout fires within one loop turn of its time
// instead of up to a second late (what a periodic sweep gave).
//
// Timers are intrusive: whoever owns a Timer keeps it alive while it is
// scheduled (a connection embeds its deadline). Each knows its index in
// the heap, so cancel and reschedule cost O(log n). Loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace trellis::core {

struct Timer {
  void (*fn)(void* arg) = nullptr;
  void* arg = nullptr;
  std::int64_t due_ms = 0;
  std::size_t index = kIdle;  // position in the heap; kIdle when not scheduled

  static constexpr std::size_t kIdle = static_cast<std::size_t>(-1);
  bool scheduled() const { return index != kIdle; }
};

class TimerHeap {
 public:
  // (Re)schedules `t` at `due_ms`.
  void schedule(Timer& t, std::int64_t due_ms);
  // Takes `t` out; harmless when it is not scheduled.
  void cancel(Timer& t);
  // The earliest due time, or -1 with no timer.
  std::int64_t next_due() const { return heap_.empty() ? -1 : heap_.front()->due_ms; }
  // Removes and returns the earliest timer due at `now_ms` or before, or
  // nullptr. Its callback is the caller's to run (it may reschedule).
  Timer* pop_due(std::int64_t now_ms);
  std::size_t size() const { return heap_.size(); }

 private:
  void sift_up(std::size_t i);
  void sift_down(std::size_t i);
  void place(std::size_t i, Timer* t) {
    heap_[i] = t;
    t->index = i;
  }
  std::vector<Timer*> heap_;
};

}  // namespace trellis::core
