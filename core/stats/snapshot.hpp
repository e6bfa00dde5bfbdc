// One consistent-enough reading of the scoreboard and the master's state,
// from which both the uWSGI JSON document and /metrics are written. Workers
// keep writing while it is taken (relaxed atomics): each number is exact,
// sums across numbers may be off by the requests in progress.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "process/master.hpp"
#include "process/scoreboard.hpp"

namespace trellis::core {

struct CoreStats {
  int id = 0;
  std::uint64_t requests = 0;
  bool in_request = false;
  std::int64_t busy_since_ms = 0;  // monotonic, 0 when idle
};

struct Counters {
  std::array<std::uint64_t, kStatusClasses> status_class{};
  std::array<std::uint64_t, kStatusClasses> refused_class{};
  std::array<std::uint64_t, kDurationBuckets> duration_bucket{};
  std::uint64_t requests = 0;
  std::uint64_t exceptions = 0;
  std::uint64_t tx_bytes = 0;
  std::uint64_t running_time_us = 0;

  void add(const Counters& o);
};

struct WorkerStats {
  int id = 0;
  int slot = 0;
  pid_t pid = 0;
  std::uint64_t generation = 0;
  bool accepting = false;
  bool busy = false;
  Counters counters;
  std::uint64_t delta_requests = 0;
  std::uint64_t harakiri_count = 0;
  std::uint64_t respawns = 0;
  std::uint64_t avg_rt_us = 0;
  std::int64_t rss = 0;
  std::int64_t vsz = 0;
  std::int64_t last_spawn_unix = 0;
  std::vector<CoreStats> cores;
};

struct SocketStats {
  std::string name;
  std::string proto;
  std::int64_t queue = 0;
  std::int64_t max_queue = 0;
};

struct RuntimeInfo {
  int modifier1 = 0;
};

struct Snapshot {
  MasterStatus master;
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string cwd;
  std::uint64_t listen_queue_errors = 0;
  std::vector<SocketStats> sockets;
  std::vector<WorkerStats> workers;  // live workers, by id then generation
  std::vector<RuntimeInfo> runtimes;
  Counters totals;                   // since start: live workers and those gone
  int in_flight = 0;                 // requests being served now
};

// Reads one live slot (pid != 0).
WorkerStats read_worker(Scoreboard& board, int slot, std::int64_t now_mono_ms, std::int64_t now_unix_ms);

// The counters of a slot, for folding a dead worker into the totals.
Counters read_counters(WorkerSlot& ws);

}  // namespace trellis::core
