// The event loop: descriptor events, timers on time, posts from other
// threads batched, and events of a removed registration never delivered.
#include <gtest/gtest.h>

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "loop/event_loop.hpp"
#include "process/scoreboard.hpp"

namespace {

using trellis::core::EventLoop;
using trellis::core::monotonic_ms;
using trellis::core::Timer;

struct Recorder : EventLoop::Handler {
  std::vector<std::uint32_t> seen;
  void on_events(std::uint32_t events) override { seen.push_back(events); }
};

TEST(EventLoop, DeliversReadinessToTheHandler) {
  EventLoop loop;
  ASSERT_TRUE(loop.open());
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  Recorder r;
  EventLoop::Token token;
  ASSERT_TRUE(loop.add(sv[0], EPOLLIN, &r, token));
  ASSERT_EQ(write(sv[1], "x", 1), 1);
  ASSERT_TRUE(loop.run_once(1000));
  ASSERT_EQ(r.seen.size(), 1u);
  EXPECT_TRUE(r.seen[0] & EPOLLIN);
  close(sv[0]);
  close(sv[1]);
}

TEST(EventLoop, AnEventOfARemovedRegistrationIsDropped) {
  // Two sockets ready in one turn; the first handler removes the second's
  // registration (its connection closed): the second must not be called.
  EventLoop loop;
  ASSERT_TRUE(loop.open());
  int a[2], b[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a), 0);
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b), 0);
  struct Remover : EventLoop::Handler {
    EventLoop* loop;
    EventLoop::Token* victim;
    int calls = 0;
    void on_events(std::uint32_t) override {
      ++calls;
      loop->remove(*victim);
    }
  };
  EventLoop::Token ta, tb;
  Remover ra, rb;
  ra.loop = rb.loop = &loop;
  ra.victim = &tb;
  rb.victim = &ta;
  ASSERT_TRUE(loop.add(a[0], EPOLLIN, &ra, ta));
  ASSERT_TRUE(loop.add(b[0], EPOLLIN, &rb, tb));
  ASSERT_EQ(write(a[1], "x", 1), 1);
  ASSERT_EQ(write(b[1], "x", 1), 1);
  ASSERT_TRUE(loop.run_once(1000));
  EXPECT_EQ(ra.calls + rb.calls, 1);  // whichever came first removed the other
  for (int fd : {a[0], a[1], b[0], b[1]}) close(fd);
}

TEST(EventLoop, EachTurnSleepsExactlyUntilTheNextTimer) {
  // Nothing but three timers: if the loop waited until anything else (a
  // periodic sweep), some turn would end without a timer due. Three turns
  // that wait forever must fire the three timers, in order, none early.
  EventLoop loop;
  ASSERT_TRUE(loop.open());
  struct Fired {
    std::vector<int> order;
    std::vector<std::int64_t> late;
  } fired;
  struct Entry {
    Timer t;
    int id;
    std::int64_t due;
    Fired* f;
  };
  Entry e[3] = {{{}, 1, 0, &fired}, {{}, 2, 0, &fired}, {{}, 3, 0, &fired}};
  std::int64_t delays[] = {60, 20, 40};
  std::int64_t start = monotonic_ms();
  for (int i = 0; i < 3; ++i) {
    e[i].due = start + delays[i];
    e[i].t.arg = &e[i];
    e[i].t.fn = [](void* p) {
      auto* en = static_cast<Entry*>(p);
      en->f->order.push_back(en->id);
      en->f->late.push_back(monotonic_ms() - en->due);
    };
    loop.schedule(e[i].t, delays[i]);
  }
  for (int turn = 0; turn < 3; ++turn) {
    ASSERT_TRUE(loop.run_once(-1));
    EXPECT_EQ(fired.order.size(), static_cast<std::size_t>(turn + 1)) << "turn " << turn << " fired no timer";
  }
  EXPECT_EQ(fired.order, (std::vector<int>{2, 3, 1}));
  for (auto late : fired.late) EXPECT_GE(late, 0) << "a timer fired before its time";
}

TEST(EventLoop, PostsFromOtherThreadsRunOnTheLoopThreadInOrder) {
  EventLoop loop;
  ASSERT_TRUE(loop.open());
  struct State {
    std::vector<int> seen;
    std::thread::id loop_thread = std::this_thread::get_id();
    std::atomic<int> wrong_thread{0};
  } st;
  struct Item {
    State* st;
    int n;
  };
  constexpr int kPosts = 1000;
  std::vector<Item> items(kPosts);
  std::thread poster([&] {
    for (int i = 0; i < kPosts; ++i) {
      items[i] = {&st, i};
      ASSERT_TRUE(loop.post(
          [](void* p) {
            auto* it = static_cast<Item*>(p);
            if (std::this_thread::get_id() != it->st->loop_thread) it->st->wrong_thread++;
            it->st->seen.push_back(it->n);
          },
          &items[i]));
    }
  });
  std::int64_t start = monotonic_ms();
  while (st.seen.size() < kPosts && monotonic_ms() - start < 5000) ASSERT_TRUE(loop.run_once(100));
  poster.join();
  ASSERT_EQ(st.seen.size(), static_cast<std::size_t>(kPosts));
  for (int i = 0; i < kPosts; ++i) EXPECT_EQ(st.seen[i], i);
  EXPECT_EQ(st.wrong_thread.load(), 0);
  EXPECT_TRUE(loop.on_loop_thread());
}

TEST(EventLoop, APostWakesALoopThatWaitsForever) {
  EventLoop loop;
  ASSERT_TRUE(loop.open());
  std::atomic<bool> ran{false};
  std::thread poster([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the loop is asleep by then
    loop.post([](void* p) { static_cast<std::atomic<bool>*>(p)->store(true); }, &ran);
  });
  ASSERT_TRUE(loop.run_once(-1));  // returns because of the post, not a timeout
  poster.join();
  EXPECT_TRUE(ran.load());
}

}  // namespace
