// The timer heap: order, cancel from anywhere in the heap, reschedule, and
// a random workload checked against a sorted reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "loop/timer_heap.hpp"

namespace {

using trellis::core::Timer;
using trellis::core::TimerHeap;

std::vector<std::int64_t> drain(TimerHeap& heap, std::int64_t now) {
  std::vector<std::int64_t> out;
  while (Timer* t = heap.pop_due(now)) out.push_back(t->due_ms);
  return out;
}

TEST(TimerHeap, PopsDueTimersInOrderAndLeavesTheRest) {
  TimerHeap heap;
  Timer t[5];
  std::int64_t due[] = {50, 10, 40, 20, 30};
  for (int i = 0; i < 5; ++i) heap.schedule(t[i], due[i]);
  EXPECT_EQ(heap.next_due(), 10);
  EXPECT_EQ(drain(heap, 30), (std::vector<std::int64_t>{10, 20, 30}));
  EXPECT_EQ(heap.next_due(), 40);
  EXPECT_EQ(heap.size(), 2u);
  EXPECT_FALSE(t[1].scheduled());
  EXPECT_TRUE(t[0].scheduled());
}

TEST(TimerHeap, CancelAnywhereAndTwice) {
  TimerHeap heap;
  Timer t[6];
  for (int i = 0; i < 6; ++i) heap.schedule(t[i], (i + 1) * 10);
  heap.cancel(t[3]);  // middle
  heap.cancel(t[0]);  // root
  heap.cancel(t[5]);  // last
  heap.cancel(t[5]);  // not scheduled: harmless
  EXPECT_EQ(drain(heap, 1000), (std::vector<std::int64_t>{20, 30, 50}));
  EXPECT_EQ(heap.next_due(), -1);
}

TEST(TimerHeap, RescheduleEarlierAndLater) {
  TimerHeap heap;
  Timer a, b, c;
  heap.schedule(a, 10);
  heap.schedule(b, 20);
  heap.schedule(c, 30);
  heap.schedule(c, 5);   // earlier
  heap.schedule(a, 25);  // later
  std::vector<Timer*> order;
  while (Timer* t = heap.pop_due(100)) order.push_back(t);
  EXPECT_EQ(order, (std::vector<Timer*>{&c, &b, &a}));
}

TEST(TimerHeap, RandomWorkloadMatchesASortedReference) {
  std::mt19937 rng(7);
  TimerHeap heap;
  std::vector<Timer> timers(500);
  std::vector<bool> live(timers.size(), false);
  for (int step = 0; step < 20000; ++step) {
    std::size_t i = rng() % timers.size();
    switch (rng() % 3) {
      case 0:
      case 1:
        heap.schedule(timers[i], static_cast<std::int64_t>(rng() % 100000));
        live[i] = true;
        break;
      case 2:
        heap.cancel(timers[i]);
        live[i] = false;
        break;
    }
  }
  std::vector<std::int64_t> expected;
  for (std::size_t i = 0; i < timers.size(); ++i)
    if (live[i]) expected.push_back(timers[i].due_ms);
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(drain(heap, 1 << 30), expected);
}

}  // namespace
