// The accept locks across real processes: the plugin is loaded from its
// built .so exactly as the core loads it, then children are forked.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/dll/shared_library.hpp>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "trellis/plugin.hpp"

namespace {

using namespace trellis;

// shared_memory() is the only service that matters here: MAP_SHARED and
// anonymous, as the core gives it, so forked children really share it.
class FakeHost final : public sdk::Host {
 public:
  void log(sdk::LogLevel level, std::string_view message) noexcept override {
    std::lock_guard<std::mutex> g(mu_);
    logs_.push_back(std::to_string(static_cast<int>(level)) + " " + std::string(message));
  }
  std::span<const std::string> option_values(std::string_view) const noexcept override { return {}; }
  void* shared_memory(std::size_t bytes) noexcept override {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : p;
  }
  sdk::WorkerIdentity worker() const noexcept override { return {}; }
  bool runtime_available(std::uint8_t) const noexcept override { return false; }

  std::vector<std::string> logs() {
    std::lock_guard<std::mutex> g(mu_);
    return logs_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> logs_;
};

FakeHost& host() {
  static FakeHost h;
  return h;
}

// Loaded once: plugins are never unloaded.
const trellis_plugin_descriptor* descriptor() {
  static boost::dll::shared_library lib(LOCK_ENGINES_PLUGIN_PATH);
  static const trellis_plugin_descriptor* d =
      lib.get_alias<const trellis_plugin_descriptor*()>(TRELLIS_ENTRY_SYMBOL)();
  return d;
}

sdk::Plugin& plugin() {
  static sdk::Plugin* p = static_cast<sdk::Plugin*>(descriptor()->create(&host()));
  return *p;
}

sdk::LockEngine& engine(const std::string& name) {
  sdk::LockEngine* e = plugin().lock_engine(name);
  if (e == nullptr) throw std::runtime_error("no engine " + name);
  return *e;
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
  return static_cast<Shared*>(host().shared_memory(sizeof(Shared)));
}

TEST(LockEnginesPlugin, DescriptorIsALockEnginePlugin) {
  const auto* d = descriptor();
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->magic, TRELLIS_DESCRIPTOR_MAGIC);
  EXPECT_EQ(d->abi_major, TRELLIS_ABI_MAJOR);
  EXPECT_EQ(d->kind, TRELLIS_KIND_LOCK_ENGINE);
  EXPECT_STREQ(d->name, "lock_engines");
  EXPECT_STREQ(d->toolchain, TRELLIS_TOOLCHAIN_FINGERPRINT);
  EXPECT_EQ(d->option_count, 0u);
}

TEST(LockEnginesPlugin, KnowsItsEnginesByName) {
  for (std::string name : {"pthread", "flock", "sem", "none"}) {
    sdk::LockEngine* e = plugin().lock_engine(name);
    ASSERT_NE(e, nullptr) << name;
    EXPECT_EQ(e->name(), name);
  }
  EXPECT_EQ(plugin().lock_engine("futex"), nullptr);
  EXPECT_EQ(plugin().lock_engine(""), nullptr);
  EXPECT_EQ(plugin().protocol(), nullptr);
  EXPECT_EQ(plugin().runtime(), nullptr);
}

TEST(LockEnginesPlugin, NoneNeverBlocks) {
  auto& e = engine("none");
  ASSERT_EQ(e.init_master(host()), sdk::Status::ok);
  ASSERT_EQ(e.init_child(), sdk::Status::ok);
  EXPECT_EQ(e.lock(), sdk::Status::ok);
  EXPECT_EQ(e.lock(), sdk::Status::ok);  // no exclusion, not even with itself
  e.unlock();
  e.unlock();
}

class LockEngineTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { ASSERT_EQ(engine(GetParam()).init_master(host()), sdk::Status::ok); }
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
      auto& e = engine(GetParam());
      if (e.init_child() != sdk::Status::ok) return 2;
      for (int r = 0; r < kRounds; ++r) {
        if (e.lock() != sdk::Status::ok) return 3;
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
    auto& e = engine(GetParam());
    if (e.init_child() != sdk::Status::ok) return 2;
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        for (int r = 0; r < 5000; ++r) {
          if (e.lock() != sdk::Status::ok) {
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
  auto& e = engine(GetParam());
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t holder = spawn([&] {
    if (e.init_child() != sdk::Status::ok || e.lock() != sdk::Status::ok) return 2;
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
    if (e.init_child() != sdk::Status::ok || e.lock() != sdk::Status::ok) return 2;
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
    if (e.init_child() != sdk::Status::ok || e.lock() != sdk::Status::ok) return 2;
    e.unlock();
    return 0;
  });
  EXPECT_EQ(wait_exit(after), 0);
  for (int fd : {ready[0], ready[1], probe_pipe[0], probe_pipe[1]}) close(fd);
}

// The dead pid was not the holder: holder_died must not release anything.
TEST_P(LockEngineTest, HolderDiedForAnotherPidKeepsTheLock) {
  auto& e = engine(GetParam());
  int ready[2], done[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(done), 0);
  pid_t holder = spawn([&] {
    if (e.init_child() != sdk::Status::ok || e.lock() != sdk::Status::ok) return 2;
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
    if (e.init_child() != sdk::Status::ok || e.lock() != sdk::Status::ok) return 2;
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
