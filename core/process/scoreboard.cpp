#include "process/scoreboard.hpp"

#include <time.h>

#include <new>
#include <stdexcept>

#include "plugins/core_host.hpp"

namespace trellis::core {

Scoreboard::Scoreboard(int workers, int threads) : workers_(workers), threads_(threads) {
  // Slots are cache-line aligned so two workers never share a line.
  std::size_t raw = sizeof(WorkerSlot) + sizeof(CoreSlot) * static_cast<std::size_t>(threads);
  stride_ = (raw + 63) / 64 * 64;
  memory_ = static_cast<std::byte*>(allocate_shared(stride_ * static_cast<std::size_t>(workers)));
  if (!memory_) throw std::runtime_error("cannot map the shared scoreboard");
  for (int w = 1; w <= workers; ++w) {
    new (&worker(w)) WorkerSlot();
    for (int t = 0; t < threads; ++t) new (&core(w, t)) CoreSlot();
  }
}

WorkerSlot& Scoreboard::worker(int id) {
  return *reinterpret_cast<WorkerSlot*>(memory_ + stride_ * static_cast<std::size_t>(id - 1));
}

CoreSlot& Scoreboard::core(int id, int thread) {
  auto* base = memory_ + stride_ * static_cast<std::size_t>(id - 1) + sizeof(WorkerSlot);
  return reinterpret_cast<CoreSlot*>(base)[thread];
}

std::int64_t monotonic_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

std::int64_t monotonic_us() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

}  // namespace trellis::core
