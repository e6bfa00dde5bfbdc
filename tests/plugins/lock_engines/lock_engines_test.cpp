// The accept locks across real processes: the plugin is loaded from its
// built .so exactly as the core loads it, then children are forked.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "loaded_plugin.hpp"

namespace {

using namespace trellis;

test::LoadedPlugin& plugin() {
  // Loaded and created once: plugins are never unloaded.
  static test::LoadedPlugin* p = [] {
    auto* lp = new test::LoadedPlugin(LOCK_ENGINES_PLUGIN_PATH);
    if (!lp->create()) throw std::runtime_error("the lock_engines plugin refused to start");
    return lp;
  }();
  return *p;
}

test::LoadedPlugin::Engine engine(const std::string& name) {
  auto e = plugin().lock_engine(name.c_str());
  if (!e) throw std::runtime_error("no engine " + name);
  return e;
}

// A forked child: runs `body`, exits with its result; never returns.
template <typename F>
pid_t spawn(F body) {
  pid_t pid = fork();
  if (pid == 0) {
    int rc = 1;
    try {
      rc = body();
    } catch (...) {
    }
    _exit(rc);
  }
  return pid;
}

int wait_exit(pid_t pid) {
  int st = 0;
  if (waitpid(pid, &st, 0) != pid) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

struct Shared {
  volatile long counter;
};

Shared* shared_block() {
  return static_cast<Shared*>(plugin().shared_memory(sizeof(Shared)));
}

TEST(LockEnginesPlugin, DescriptorIsALockEnginePlugin) {
  const auto* d = plugin().descriptor;
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->magic, TRELLIS_DESCRIPTOR_MAGIC);
  EXPECT_EQ(d->abi_major, TRELLIS_ABI_MAJOR);
  EXPECT_EQ(d->kind, TRELLIS_KIND_LOCK_ENGINE);
  EXPECT_STREQ(d->name, "lock_engines");
  EXPECT_STREQ(d->toolchain, TRELLIS_TOOLCHAIN_FINGERPRINT);  // informative only
  EXPECT_EQ(d->option_count, 0u);
}

TEST(LockEnginesPlugin, KnowsItsEnginesByName) {
  for (std::string name : {"pthread", "flock", "sem", "none"}) {
    auto e = plugin().lock_engine(name.c_str());
    ASSERT_TRUE(e) << name;
    EXPECT_EQ(std::string(e.table->name), name);
    // Asked again, the same engine (its state lives in it).
    EXPECT_EQ(plugin().lock_engine(name.c_str()).self, e.self);
  }
  EXPECT_FALSE(plugin().lock_engine("futex"));
  EXPECT_FALSE(plugin().lock_engine(""));
  EXPECT_FALSE(plugin().has_protocol());
  EXPECT_FALSE(plugin().has_runtime());
}

TEST(LockEnginesPlugin, NoneNeverBlocks) {
  auto e = engine("none");
  ASSERT_EQ(e.init_master(), TRELLIS_OK);
  ASSERT_EQ(e.init_child(), TRELLIS_OK);
  EXPECT_EQ(e.lock(), TRELLIS_OK);
  EXPECT_EQ(e.lock(), TRELLIS_OK);  // no exclusion, not even with itself
  e.unlock();
  e.unlock();
}

class LockEngineTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { ASSERT_EQ(engine(GetParam()).init_master(), TRELLIS_OK); }
};

// Children do a read-modify-write on a shared counter under the lock, with a
// yield in the middle to invite interleaving: any lapse loses increments.
TEST_P(LockEngineTest, ExcludesAcrossProcesses) {
  constexpr int kChildren = 4;
  constexpr int kRounds = 5000;
  Shared* s = shared_block();
  ASSERT_NE(s, nullptr);
  s->counter = 0;
  std::vector<pid_t> kids;
  for (int i = 0; i < kChildren; ++i) {
    kids.push_back(spawn([&] {
      auto e = engine(GetParam());
      if (e.init_child() != TRELLIS_OK) return 2;
      for (int r = 0; r < kRounds; ++r) {
        if (e.lock() != TRELLIS_OK) return 3;
        long v = s->counter;
        if (r % 64 == 0) sched_yield();
        s->counter = v + 1;
        e.unlock();
      }
      return 0;
    }));
  }
  for (pid_t k : kids) EXPECT_EQ(wait_exit(k), 0);
  EXPECT_EQ(s->counter, long{kChildren} * kRounds);
}

// Several threads of one worker (the core may accept from more than one):
// the same counter test inside one forked process.
TEST_P(LockEngineTest, ExcludesThreadsOfOneWorker) {
  Shared* s = shared_block();
  ASSERT_NE(s, nullptr);
  s->counter = 0;
  pid_t worker = spawn([&] {
    auto e = engine(GetParam());
    if (e.init_child() != TRELLIS_OK) return 2;
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        for (int r = 0; r < 5000; ++r) {
          if (e.lock() != TRELLIS_OK) {
            ++failures;
            return;
          }
          long v = s->counter;
          if (r % 64 == 0) std::this_thread::yield();
          s->counter = v + 1;
          e.unlock();
        }
      });
    }
    for (auto& t : threads) t.join();
    return failures.load() == 0 ? 0 : 3;
  });
  EXPECT_EQ(wait_exit(worker), 0);
  EXPECT_EQ(s->counter, 4L * 5000);
}

// A worker SIGKILLed while holding the lock must not wedge the others.
TEST_P(LockEngineTest, RecoversWhenTheHolderIsKilled) {
  auto e = engine(GetParam());
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t holder = spawn([&] {
    if (e.init_child() != TRELLIS_OK || e.lock() != TRELLIS_OK) return 2;
    char c = 'L';
    if (write(ready[1], &c, 1) != 1) return 3;
    pause();  // hold the lock until killed
    return 0;
  });
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, 'L');

  // While it is held, another process must not get it.
  int probe_pipe[2];
  ASSERT_EQ(pipe(probe_pipe), 0);
  pid_t waiter = spawn([&] {
    if (e.init_child() != TRELLIS_OK || e.lock() != TRELLIS_OK) return 2;
    char got = 'G';
    if (write(probe_pipe[1], &got, 1) != 1) return 3;
    e.unlock();
    return 0;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  pollfd pfd{probe_pipe[0], POLLIN, 0};
  EXPECT_EQ(poll(&pfd, 1, 0), 0) << "a second process took a held lock";

  ASSERT_EQ(kill(holder, SIGKILL), 0);
  EXPECT_EQ(wait_exit(holder), 128 + SIGKILL);
  e.holder_died(holder);  // what the master does for every dead worker

  // The waiter, already blocked in lock(), gets it within a second.
  pfd = {probe_pipe[0], POLLIN, 0};
  ASSERT_EQ(poll(&pfd, 1, 1000), 1) << "lock not recovered after its holder was killed";
  EXPECT_EQ(read(probe_pipe[0], &c, 1), 1);
  EXPECT_EQ(wait_exit(waiter), 0);

  // And a fresh process can still take and release it.
  pid_t after = spawn([&] {
    if (e.init_child() != TRELLIS_OK || e.lock() != TRELLIS_OK) return 2;
    e.unlock();
    return 0;
  });
  EXPECT_EQ(wait_exit(after), 0);
  for (int fd : {ready[0], ready[1], probe_pipe[0], probe_pipe[1]}) close(fd);
}

// The dead pid was not the holder: holder_died must not release anything.
TEST_P(LockEngineTest, HolderDiedForAnotherPidKeepsTheLock) {
  auto e = engine(GetParam());
  int ready[2], done[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(done), 0);
  pid_t holder = spawn([&] {
    if (e.init_child() != TRELLIS_OK || e.lock() != TRELLIS_OK) return 2;
    char c = 'L';
    if (write(ready[1], &c, 1) != 1) return 3;
    if (read(done[0], &c, 1) != 1) return 4;
    e.unlock();
    return 0;
  });
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  pid_t bystander = spawn([] { return 0; });
  ASSERT_EQ(wait_exit(bystander), 0);
  e.holder_died(bystander);

  int probe_pipe[2];
  ASSERT_EQ(pipe(probe_pipe), 0);
  pid_t waiter = spawn([&] {
    if (e.init_child() != TRELLIS_OK || e.lock() != TRELLIS_OK) return 2;
    char got = 'G';
    if (write(probe_pipe[1], &got, 1) != 1) return 3;
    e.unlock();
    return 0;
  });
  pollfd pfd{probe_pipe[0], POLLIN, 0};
  EXPECT_EQ(poll(&pfd, 1, 150), 0) << "the lock was released for a pid that did not hold it";
  ASSERT_EQ(write(done[1], "x", 1), 1);
  EXPECT_EQ(wait_exit(holder), 0);
  EXPECT_EQ(wait_exit(waiter), 0);
  for (int fd : {ready[0], ready[1], done[0], done[1], probe_pipe[0], probe_pipe[1]}) close(fd);
}

INSTANTIATE_TEST_SUITE_P(Engines, LockEngineTest, ::testing::Values("pthread", "flock", "sem"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
