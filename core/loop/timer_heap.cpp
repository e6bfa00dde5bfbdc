#include "loop/timer_heap.hpp"

namespace trellis::core {

void TimerHeap::schedule(Timer& t, std::int64_t due_ms) {
  if (t.scheduled()) {
    std::int64_t old = t.due_ms;
    t.due_ms = due_ms;
    if (due_ms < old)
      sift_up(t.index);
    else
      sift_down(t.index);
    return;
  }
  t.due_ms = due_ms;
  heap_.push_back(&t);
  t.index = heap_.size() - 1;
  sift_up(t.index);
}

void TimerHeap::cancel(Timer& t) {
  if (!t.scheduled()) return;
  std::size_t i = t.index;
  t.index = Timer::kIdle;
  Timer* last = heap_.back();
  heap_.pop_back();
  if (i == heap_.size()) return;  // it was the last one
  place(i, last);
  sift_up(i);
  sift_down(last->index);
}

Timer* TimerHeap::pop_due(std::int64_t now_ms) {
  if (heap_.empty() || heap_.front()->due_ms > now_ms) return nullptr;
  Timer* t = heap_.front();
  cancel(*t);
  return t;
}

void TimerHeap::sift_up(std::size_t i) {
  Timer* t = heap_[i];
  while (i > 0) {
    std::size_t parent = (i - 1) / 2;
    if (heap_[parent]->due_ms <= t->due_ms) break;
    place(i, heap_[parent]);
    i = parent;
  }
  place(i, t);
}

void TimerHeap::sift_down(std::size_t i) {
  Timer* t = heap_[i];
  std::size_t n = heap_.size();
  for (;;) {
    std::size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && heap_[child + 1]->due_ms < heap_[child]->due_ms) ++child;
    if (heap_[child]->due_ms >= t->due_ms) break;
    place(i, heap_[child]);
    i = child;
  }
  place(i, t);
}

}  // namespace trellis::core
