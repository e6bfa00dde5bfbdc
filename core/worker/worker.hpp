// A worker process's event loop (epoll). It accepts, reads and parses without
// blocking and hands only complete requests to the application, so a slow or
// idle client costs a buffer, never an application thread.
#pragma once

#include <trellis/lock_engine.hpp>
#include <trellis/runtime.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "process/scoreboard.hpp"
#include "worker/app_thread_pool.hpp"
#include "worker/connection.hpp"
#include "worker/listener_ref.hpp"
#include "worker/locked_acceptor.hpp"
#include "worker/static_files.hpp"

namespace trellis::core {

struct WorkerSettings {
  int id = 1;    // logical worker number, for messages
  int slot = 1;  // scoreboard slot
  int threads = 1;
  int processes = 1;
  int header_timeout_ms = 10000;
  int keepalive_timeout_ms = 5000;
  int socket_timeout_ms = 30000;
  std::size_t write_buffer = 1 << 20;  // response bytes kept per slow reader (--write-buffer)
  std::uint64_t max_requests = 0;       // 0: never recycle
  std::uint64_t max_requests_jitter = 0;
  std::int64_t reload_on_rss_bytes = 0;  // 0: never recycle
  bool log_requests = true;
  sdk::LockEngine* lock_engine = nullptr;  // nullptr: EPOLLEXCLUSIVE
  std::vector<StaticMap> static_maps;       // --static-map, checked before the app
};

// Which runtime serves a request, by uwsgi modifier1.
struct RuntimeTable {
  std::map<std::uint8_t, sdk::Runtime*> by_modifier;
  sdk::Runtime* pick(std::uint8_t modifier1) const;
};

class Worker {
 public:
  Worker(WorkerSettings settings, std::vector<Listener> listeners, RuntimeTable runtimes, Scoreboard& scoreboard);
  ~Worker();

  // Runs until the worker has drained (TERM, max-requests, reload-on-rss, or
  // a failed system call). Returns the process exit code: 0, or
  // kExitSystemError after a failure it logged.
  int run();

 private:
  // Creates the epoll set, the signalfd, the thread pool and the acceptor.
  bool start();
  // A system call failed (errno says how): log it with `what`, stop
  // accepting, close what no application thread holds, and exit with
  // kExitSystemError once the requests in the application are done, so
  // the master replaces this worker instead of it running half-broken.
  void fail(const std::string& what);
  // Draining is over: nothing left to serve, and nothing more can arrive.
  bool drained();
  // The epoll events of a connection whose request is in an application
  // thread (it is watched for none, but hang-ups are reported regardless).
  void on_parked_event(Connection& c, std::uint32_t events);
  // The number of requests in the application changed.
  void load_changed();
  void arm_listeners();
  void disarm_listeners();
  // Puts the listening sockets in the epoll set or takes them out, as
  // draining, capacity (accepting_) and an accept pause call for.
  void sync_listeners();
  // Out of file descriptors: stop accepting for a moment (the queued
  // connections stay in the kernel) instead of waking again at once.
  void pause_accepting(const Listener& listener, int err);
  void accept_from(const Listener& listener);
  void adopt(int fd, const sockaddr* peer, const Listener& listener);
  void on_readable(Connection& c);
  void on_writable(Connection& c);
  void apply(Connection& c, sdk::Progress progress);
  void dispatch(Connection& c);
  // Runs one request through the application (static files first). Never
  // throws: an unexpected error is logged and the connection aborted.
  sdk::Progress serve(Connection& c, int thread) noexcept;
  sdk::Progress serve_request(Connection& c, int thread);
  void linger_close(Connection& c, std::string_view reply);
  void close_connection(Connection& c);
  // The epoll events the loop wants for this connection (0: none). False
  // after a failure (the worker is failing: see fail()).
  bool watch(Connection& c, std::uint32_t events);
  void refresh_deadline(Connection& c, bool activity);
  void sweep(std::int64_t now);
  void begin_drain(RecycleReason reason);
  void update_accepting();
  void check_recycle();
  void handle_signals();
  void take_accepted();
  void thread_hook(int thread, bool starting);

  WorkerSettings settings_;
  std::vector<Listener> listeners_;
  RuntimeTable runtimes_;
  Scoreboard& scoreboard_;
  WorkerSlot& slot_;

  int epoll_fd_ = -1;
  int signal_fd_ = -1;
  WriteBudget write_budget_;  // before connections_: they refer to it
  std::unordered_map<int, std::unique_ptr<Connection>> connections_;
  std::unique_ptr<AppThreadPool> pool_;
  std::unique_ptr<LockedAcceptor> acceptor_;  // accept-lock mode only
  bool draining_ = false;
  bool failed_ = false;                   // a system call failed: see fail()
  bool loop_serves_ = false;              // --threads 1: the loop thread runs the application
  bool accepting_ = true;                 // capacity left to accept (threads free)
  bool listening_ = false;                // listeners are in the epoll set
  std::int64_t accept_paused_until_ = 0;  // monotonic ms; 0: not paused
  int in_app_ = 0;                        // requests in the application now
  std::uint32_t connection_serial_ = 0;   // the last Connection::serial given
  std::uint64_t recycle_after_ = 0;
};

}  // namespace trellis::core
