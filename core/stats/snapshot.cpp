#include "stats/snapshot.hpp"

#include <unistd.h>

#include <fstream>

namespace trellis::core {

void Counters::add(const Counters& o) {
  for (std::size_t i = 0; i < status_class.size(); ++i) status_class[i] += o.status_class[i];
  for (std::size_t i = 0; i < refused_class.size(); ++i) refused_class[i] += o.refused_class[i];
  for (std::size_t i = 0; i < duration_bucket.size(); ++i) duration_bucket[i] += o.duration_bucket[i];
  requests += o.requests;
  exceptions += o.exceptions;
  tx_bytes += o.tx_bytes;
  running_time_us += o.running_time_us;
}

Counters read_counters(WorkerSlot& ws) {
  constexpr auto r = std::memory_order_relaxed;
  Counters c;
  for (std::size_t i = 0; i < kStatusClasses; ++i) c.status_class[i] = ws.status_class[i].load(r);
  for (std::size_t i = 0; i < kStatusClasses; ++i) c.refused_class[i] = ws.refused_class[i].load(r);
  for (std::size_t i = 0; i < kDurationBuckets; ++i) c.duration_bucket[i] = ws.duration_bucket[i].load(r);
  c.requests = ws.requests.load(r);
  c.exceptions = ws.exceptions.load(r);
  c.tx_bytes = ws.tx_bytes.load(r);
  c.running_time_us = ws.running_time_us.load(r);
  return c;
}

WorkerStats read_worker(Scoreboard& board, int slot, std::int64_t now_mono_ms, std::int64_t now_unix_ms) {
  constexpr auto r = std::memory_order_relaxed;
  WorkerSlot& ws = board.worker(slot);
  WorkerStats w;
  w.slot = slot;
  w.id = ws.id.load(r);
  w.pid = ws.pid.load(r);
  w.generation = ws.generation.load(r);
  w.accepting = ws.ready.load(r) != 0 && ws.draining.load(r) == 0;
  w.counters = read_counters(ws);
  w.harakiri_count = ws.harakiri_count.load(r);
  w.respawns = ws.respawns.load(r);
  w.avg_rt_us = ws.avg_rt_us.load(r);
  w.last_spawn_unix = (now_unix_ms - (now_mono_ms - ws.spawned_at_ms.load(r))) / 1000;
  for (int t = 0; t < board.threads(); ++t) {
    CoreSlot& c = board.core(slot, t);
    CoreStats cs;
    cs.id = t;
    cs.requests = c.requests.load(r);
    cs.busy_since_ms = c.busy_since_ms.load(r);
    cs.in_request = cs.busy_since_ms != 0;
    w.busy = w.busy || cs.in_request;
    w.cores.push_back(cs);
  }
  // /proc/PID/statm: total and resident size in pages.
  std::ifstream statm("/proc/" + std::to_string(w.pid) + "/statm");
  long long pages_total = 0, pages_resident = 0;
  if (statm >> pages_total >> pages_resident) {
    long page = sysconf(_SC_PAGESIZE);
    w.vsz = pages_total * page;
    w.rss = pages_resident * page;
  }
  return w;
}

}  // namespace trellis::core
