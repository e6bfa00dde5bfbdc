#include "stats/uwsgi_json.hpp"

#include "stats/json.hpp"

namespace trellis::core {

std::string uwsgi_stats_json(const Snapshot& s, const std::string& version) {
  std::string out;
  out.reserve(1024 + 1024 * s.workers.size());
  std::int64_t listen_queue = 0;
  for (auto& sock : s.sockets) listen_queue += sock.queue;

  json::Writer w(out);
  w.begin_object();
  w.field("version", version);
  w.field("listen_queue", listen_queue);
  w.field("listen_queue_errors", s.listen_queue_errors);
  w.field("signal_queue", 0);
  w.field("load", s.in_flight);
  w.field("pid", static_cast<std::int64_t>(s.pid));
  w.field("uid", static_cast<std::int64_t>(s.uid));
  w.field("gid", static_cast<std::int64_t>(s.gid));
  w.field("cwd", s.cwd);
  // trellis additions; readers of uWSGI's layout ignore unknown keys.
  w.field("generation", s.master.generation);
  w.field("ready", s.master.ready);
  w.key("locks").begin_array().end_array();

  w.key("sockets").begin_array();
  for (auto& sock : s.sockets) {
    w.begin_object();
    w.field("name", sock.name);
    w.field("proto", sock.proto);
    w.field("queue", sock.queue);
    w.field("max_queue", sock.max_queue);
    w.field("shared", 0);
    w.field("can_offload", 0);
    w.end_object();
  }
  w.end_array();

  w.key("workers").begin_array();
  for (auto& wk : s.workers) {
    const Counters& c = wk.counters;
    w.begin_object();
    w.field("id", wk.id);
    w.field("pid", static_cast<std::int64_t>(wk.pid));
    w.field("accepting", wk.accepting ? 1 : 0);
    w.field("requests", c.requests);
    w.field("delta_requests", wk.delta_requests);
    w.field("exceptions", c.exceptions);
    w.field("harakiri_count", wk.harakiri_count);
    w.field("signals", 0);
    w.field("signal_queue", 0);
    w.field("status", wk.busy ? "busy" : "idle");
    w.field("rss", wk.rss);
    w.field("vsz", wk.vsz);
    w.field("running_time", c.running_time_us);
    w.field("last_spawn", wk.last_spawn_unix);
    w.field("respawn_count", wk.respawns + 1);  // uWSGI counts the first spawn
    w.field("tx", c.tx_bytes);
    w.field("avg_rt", wk.avg_rt_us);
    w.field("generation", wk.generation);

    w.key("apps").begin_array();
    for (std::size_t i = 0; i < s.runtimes.size(); ++i) {
      w.begin_object();
      w.field("id", static_cast<std::int64_t>(i));
      w.field("modifier1", s.runtimes[i].modifier1);
      w.field("mountpoint", "");
      w.field("startup_time", 0);
      // Requests are counted per worker, not per runtime.
      w.field("requests", s.runtimes.size() == 1 ? c.requests : 0);
      w.field("exceptions", s.runtimes.size() == 1 ? c.exceptions : 0);
      w.field("chdir", "");
      w.end_object();
    }
    w.end_array();

    w.key("cores").begin_array();
    for (auto& core : wk.cores) {
      w.begin_object();
      w.field("id", core.id);
      w.field("requests", core.requests);
      w.field("static_requests", 0);
      w.field("routed_requests", 0);
      w.field("offloaded_requests", 0);
      w.field("write_errors", 0);
      w.field("read_errors", 0);
      w.field("in_request", core.in_request ? 1 : 0);
      w.key("vars").begin_array().end_array();
      w.key("req_info").begin_object().end_object();
      w.end_object();
    }
    w.end_array();
    w.end_object();
  }
  w.end_array();
  w.end_object();
  out += '\n';
  return out;
}

}  // namespace trellis::core
