// A worker process's event loop (epoll). It accepts, reads and parses without
// blocking and hands only complete requests to the application, so a slow or
// idle client costs a buffer, never an application thread.
#pragma once

#include <trellis/lock_engine.hpp>
#include <trellis/runtime.hpp>

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <memory>
#include <thread>
#include <unordered_map>
#include <vector>

#include "process/scoreboard.hpp"
#include "worker/app_thread_pool.hpp"
#include "worker/connection.hpp"
#include "worker/listener_ref.hpp"
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
  std::string die_holding_lock_trigger;     // test hook, see worker_main.cpp
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

  // Runs until the worker has drained (TERM, max-requests, reload-on-rss).
  // Returns the process exit code.
  int run();

 private:
  struct Tag;  // what an epoll event refers to

  void arm_listeners();
  void disarm_listeners();
  // Puts the listening sockets in the epoll set or takes them out, as
  // draining, capacity (accepting_) and an accept pause call for.
  void sync_listeners();
  // Out of file descriptors: stop accepting for a moment (the queued
  // connections stay in the kernel) instead of waking again at once.
  void pause_accepting(const Listener& listener, int err);
  void accept_from(const Listener& listener);
  void accept_locked_loop();
  void adopt(int fd, const sockaddr* peer, const Listener& listener);
  void on_readable(Connection& c);
  void on_writable(Connection& c);
  void apply(Connection& c, sdk::Progress progress);
  void dispatch(Connection& c);
  sdk::Progress serve(Connection& c, int thread);
  void linger_close(Connection& c, std::string_view reply);
  void close_connection(Connection& c);
  // The epoll events the loop wants for this connection (0: none).
  void watch(Connection& c, std::uint32_t events);
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
  bool draining_ = false;
  bool accepting_ = true;                 // capacity left to accept (threads free)
  bool listening_ = false;                // listeners are in the epoll set
  std::int64_t accept_paused_until_ = 0;  // monotonic ms; 0: not paused
  std::atomic<int> in_flight_{0};         // requests handed to the pool
  std::atomic<int> handed_over_{0};       // accepted by the acceptor, not yet adopted
  std::uint64_t recycle_after_ = 0;

  // Accept-lock mode: a thread takes the lock, accepts one connection and
  // passes it to the loop through accepted_fd_.
  std::thread acceptor_;
  std::atomic<bool> acceptor_stop_{false};
  int accepted_event_fd_ = -1;
  std::mutex accepted_mutex_;
  std::vector<std::pair<int, const Listener*>> accepted_;
};

}  // namespace trellis::core
