// --stats ADDR: the master answers each connection with the stats document
// in uWSGI's layout and closes it; with --stats-http it speaks HTTP instead
// (GET / the same JSON, /metrics Prometheus text, /ready for load
// balancers). It runs inside the master's poll loop and never blocks it:
// sockets are non-blocking, output waits for POLLOUT, and a connection that
// neither sends its request nor reads its answer in time is dropped.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "net/address.hpp"
#include "net/listener.hpp"
#include "process/master.hpp"
#include "process/scoreboard.hpp"
#include "stats/snapshot.hpp"

namespace trellis::core {

struct StatsSettings {
  std::string address;  // as --stats gave it
  bool http = false;
  struct Socket {
    const net::ListenSocket* socket = nullptr;
    std::string proto;  // "http", "uwsgi"
  };
  std::vector<Socket> sockets;  // the serving sockets to report
  std::vector<int> runtime_modifiers;
};

class StatsServer final : public LoopService {
 public:
  // Binds the address (before privileges are dropped). Throws
  // std::runtime_error / std::invalid_argument.
  explicit StatsServer(StatsSettings settings);
  // The scoreboard comes later: it is allocated after the sockets are bound.
  void attach(Scoreboard& scoreboard) { scoreboard_ = &scoreboard; }
  ~StatsServer() override;

  const net::ListenSocket& socket() const { return *listener_; }
  // In a forked child: drop our descriptors without touching the peers.
  void close_in_child();

  void add_poll_fds(std::vector<pollfd>& fds) override;
  void on_poll(const pollfd* fds, std::size_t count, const MasterStatus& status) override;
  void worker_exited(int slot) override;

  // Exposed for tests and the response builders.
  Snapshot snapshot(const MasterStatus& status);

 private:
  struct Conn {
    int fd = -1;
    std::string in;
    std::string out;
    std::size_t sent = 0;
    bool writing = false;
    std::int64_t deadline_ms = 0;
  };

  void accept_new(const MasterStatus& status);
  void respond(Conn& c, const MasterStatus& status);
  void read_request(Conn& c, const MasterStatus& status);
  // Returns false when the connection is finished (all sent, or failed).
  bool flush(Conn& c);
  void sample_queues(std::int64_t now);

  StatsSettings settings_;
  Scoreboard* scoreboard_ = nullptr;
  std::unique_ptr<net::ListenSocket> listener_;
  std::vector<Conn> conns_;
  bool listener_polled_ = false;
  std::size_t conns_polled_ = 0;
  Counters retired_;  // workers gone since start
  std::map<int, std::pair<pid_t, std::uint64_t>> last_requests_;  // slot -> (pid, requests) at last report
  std::uint64_t listen_queue_errors_ = 0;
  std::int64_t next_sample_ms_ = 0;
};

}  // namespace trellis::core
