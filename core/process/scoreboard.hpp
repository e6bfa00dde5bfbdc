// Per-worker state shared between the master and its workers (MAP_SHARED,
// allocated before the first fork). Workers write their own slot with relaxed
// atomics and never take a lock on the request path; the master only reads,
// except when it (re)assigns a slot to a new process.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace trellis::core {

// Upper bounds (microseconds) of the request duration histogram, Prometheus'
// default buckets; one more bucket counts everything slower (+Inf).
inline constexpr std::array<std::int64_t, 11> kDurationBoundsUs = {
    5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};
inline constexpr std::size_t kDurationBuckets = kDurationBoundsUs.size() + 1;
// Status classes: [0] none or out of range, [1..5] 1xx..5xx.
inline constexpr std::size_t kStatusClasses = 6;

struct CoreSlot {  // one application thread
  std::atomic<std::int64_t> busy_since_ms{0};  // 0 when idle
  std::atomic<std::uint64_t> requests{0};
  char request_line[200] = {0};  // "GET /path", for harakiri and stats
};

struct WorkerSlot {
  std::atomic<int> pid{0};
  std::atomic<std::uint64_t> generation{0};
  std::atomic<int> ready{0};       // loaded the app and accepts
  std::atomic<int> draining{0};    // stopped accepting (graceful exit)
  std::atomic<int> recycle_reason{0};  // RecycleReason, when it chose to exit
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> exceptions{0};
  std::atomic<std::uint64_t> tx_bytes{0};
  std::atomic<std::uint64_t> respawns{0};
  std::atomic<std::uint64_t> harakiri_count{0};
  std::atomic<std::int64_t> spawned_at_ms{0};
  std::atomic<int> id{0};  // logical worker number, set by the master
  // Observability (stats server, /metrics); written by the worker only.
  std::atomic<std::uint64_t> status_class[kStatusClasses]{};
  // Requests the protocol answered itself, before any application
  // (malformed, too large...), by status class.
  std::atomic<std::uint64_t> refused_class[kStatusClasses]{};
  std::atomic<std::uint64_t> duration_bucket[kDurationBuckets]{};  // not cumulative
  std::atomic<std::uint64_t> running_time_us{0};  // sum of request durations
  std::atomic<std::uint64_t> avg_rt_us{0};        // uWSGI's running average
};

enum class RecycleReason : int { none = 0, max_requests = 1, reload_on_rss = 2 };

class Scoreboard {
 public:
  // Allocates room for `workers` slots of `threads` cores each. Throws
  // std::runtime_error when the memory cannot be mapped.
  Scoreboard(int workers, int threads);

  int workers() const { return workers_; }
  int threads() const { return threads_; }
  WorkerSlot& worker(int id);          // id is 1-based
  CoreSlot& core(int id, int thread);  // thread is 0-based

 private:
  std::byte* memory_ = nullptr;
  std::size_t stride_ = 0;
  int workers_ = 0;
  int threads_ = 0;
};

std::int64_t monotonic_ms();
std::int64_t monotonic_us();

}  // namespace trellis::core
