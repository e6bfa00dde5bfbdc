// A worker process: its event loop, its connections and streams, and the
// runtimes that answer them. It accepts, reads and parses without blocking;
// a blocking runtime gets a request once its body is in (on an application
// thread, or on the loop thread with --threads 1), an asynchronous one gets
// it at once on the loop thread. A slow or idle client costs a buffer,
// never an application thread.
#pragma once

#include <trellis/abi.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "loop/event_loop.hpp"
#include "process/scoreboard.hpp"
#include "worker/app_thread_pool.hpp"
#include "worker/body_store.hpp"
#include "worker/connection.hpp"
#include "worker/listener_ref.hpp"
#include "worker/locked_acceptor.hpp"
#include "worker/static_files.hpp"
#include "worker/stream.hpp"

namespace trellis::core {

struct WorkerSettings {
  int id = 1;    // logical worker number, for messages
  int slot = 1;  // scoreboard slot
  int threads = 1;
  int processes = 1;
  ConnectionLimits limits;
  std::size_t write_buffer = 1 << 20;    // unsent response bytes per stream before writers wait
  std::size_t post_buffering = 1 << 20;  // request body bytes kept in memory per request
  std::uint64_t max_requests = 0;        // 0: never recycle
  std::uint64_t max_requests_jitter = 0;
  std::int64_t reload_on_rss_bytes = 0;  // 0: never recycle
  bool log_requests = true;
  LockEngineRef lock_engine;              // empty: EPOLLEXCLUSIVE
  std::vector<StaticMap> static_maps;     // --static-map, checked before the runtime
};

// The runtimes of this server, by plugin name; the first is the default.
struct RuntimeTable {
  std::vector<RuntimeRef> runtimes;
  const RuntimeRef* pick(std::string_view name) const;
};

class Worker final : private StreamHost, private ConnectionHost {
 public:
  Worker(WorkerSettings settings, std::vector<Listener> listeners, RuntimeTable runtimes, Scoreboard& scoreboard);
  ~Worker();

  // Runs until the worker has drained (TERM, max-requests, reload-on-rss, or
  // a failed system call). Returns the process exit code: 0, or
  // kExitSystemError after a failure it logged.
  int run();
  // For a runtime that drives the loop (run_loop): one turn that does not
  // wait; ms until the next is wanted regardless of the loop's fd (0, -1:
  // nothing due), or TRELLIS_LOOP_DONE once the worker has drained.
  std::int64_t embedded_turn();

  // The worker of this process while run() runs (the host API's loop
  // services find it here), else nullptr.
  static Worker* current();
  EventLoop& event_loop() { return loop_; }

  // abi.h stream_open, for the host API.
  trellis_stream* open_stream(Connection& conn, const trellis_request_head* head, const trellis_stream_sink* sink,
                              void* sink_self) override;
  // A protocol answered a request itself (abi.h conn_refused).
  void count_refusal(int status);

 private:
  struct Handler : EventLoop::Handler {
    Worker* worker = nullptr;
    void (Worker::*fn)(std::uint32_t) = nullptr;
    void on_events(std::uint32_t events) override { (worker->*fn)(events); }
  };
  struct ListenerHandler : EventLoop::Handler {
    Worker* worker = nullptr;
    std::size_t index = 0;
    void on_events(std::uint32_t) override;
  };
  // An event that must not reach its runtime inside a session callback
  // (abi.h: no re-entry).
  struct PendingEvent {
    Stream* stream;
    QueuedEvent event;
  };

  // ---- StreamHost -----------------------------------------------------------
  bool on_loop_thread() const override { return loop_.on_loop_thread(); }
  bool post_apply(Stream& stream) override;
  void queue_event(Stream& stream, QueuedEvent&& event) override;
  void queue_dispatch(Stream& stream) override;
  void stream_ended(Stream& stream) override;
  BodyBudget& body_budget() override { return body_budget_; }
  std::size_t high_water() const override { return settings_.write_buffer; }
  std::size_t low_water() const override { return settings_.write_buffer / 2; }
  bool output_over_budget() const override {
    return output_in_use_.load(std::memory_order_seq_cst) > settings_.write_buffer * 32;
  }
  void output_budget_blocked() override { budget_blocked_.store(true, std::memory_order_seq_cst); }
  int socket_timeout_ms() const override { return settings_.limits.socket_timeout_ms; }

  // ---- ConnectionHost ---------------------------------------------------------
  EventLoop& loop() override { return loop_; }
  const ConnectionLimits& limits() const override { return settings_.limits; }
  std::atomic<std::size_t>& output_in_use() override { return output_in_use_; }
  void output_released() override;
  void session_returned() override { run_pending(); }
  void connection_dead(Connection& conn) override;
  void system_failure(const std::string& what) override { fail(what); }

  bool start();
  void fail(const std::string& what);
  bool drained();
  void run_pending();
  // One pass of the worker's loop: waits at most max_wait_ms (-1: until
  // something happens), dispatches, collects closed connections.
  void turn(int max_wait_ms);
  // Work queued outside a turn while a runtime drives the loop: make the
  // loop's fd poll readable so that the driver calls loop_turn soon.
  void request_turn();
  void start_request(Stream& s);
  void deliver_event(Stream& s, QueuedEvent& e);
  void dispatch_blocking(Stream& s);
  void serve_blocking(Stream& s, int thread) noexcept;
  void on_pool(std::uint32_t events);
  void on_signal(std::uint32_t events);
  void on_accepted(std::uint32_t events);
  void load_changed();
  void arm_listeners();
  void disarm_listeners();
  void sync_listeners();
  void pause_accepting(const Listener& listener, int err);
  void accept_from(const Listener& listener);
  void take_accepted();
  void adopt(int fd, const sockaddr* peer, const Listener& listener);
  void begin_drain(RecycleReason reason);
  void update_accepting();
  void check_recycle();
  void thread_hook(int thread, bool starting);
  void collect_dead();
  void note_oldest_async();
  void on_housekeeping();

  WorkerSettings settings_;
  std::vector<Listener> listeners_;
  std::vector<ListenerHandler> listener_handlers_;
  std::vector<EventLoop::Token> listener_tokens_;
  RuntimeTable runtimes_;
  Scoreboard& scoreboard_;
  WorkerSlot& slot_;

  EventLoop loop_;
  int signal_fd_ = -1;
  Handler signal_handler_, pool_handler_, accepted_handler_;
  EventLoop::Token signal_token_ = EventLoop::kNoToken;
  BodyBudget body_budget_;
  std::atomic<std::size_t> output_in_use_{0};
  // A writer waits for the budget (output_budget_blocked): its own
  // connection may have nothing to drain, so any progress must wake it.
  std::atomic<bool> budget_blocked_{false};
  std::unordered_map<Connection*, std::unique_ptr<Connection>> connections_;
  std::vector<Connection*> dead_;
  std::vector<Connection*> collecting_;  // collect_dead's, kept for its capacity
  // Work for after the current session callback: streams for their
  // runtime first, then events (a stream's events never come before it).
  std::vector<Stream*> pending_dispatch_;
  std::deque<PendingEvent> pending_events_;
  bool dispatching_ = false;
  // A runtime runs the loop (run_loop); between its turns runtime code on
  // the loop thread may queue work nobody would otherwise wake up for.
  const RuntimeRef* loop_driver_ = nullptr;
  bool in_turn_ = false;
  bool turn_requested_ = false;
  std::unique_ptr<AppThreadPool> pool_;
  std::unique_ptr<LockedAcceptor> acceptor_;
  bool draining_ = false;
  bool async_busy_ = false;  // core 0 shows an asynchronous request (note_oldest_async)
  bool app_failed_ = false;  // a runtime's loop_start said APP_ERROR
  bool failed_ = false;
  bool loop_serves_ = false;   // --threads 1: the loop thread runs blocking runtimes
  bool accepting_ = true;      // capacity left to accept (threads free)
  bool listening_ = false;     // listeners are in the epoll set
  bool accept_paused_ = false;
  Timer accept_resume_;
  Timer housekeeping_;
  int in_app_ = 0;             // blocking requests in the application now
  Stream* live_streams_ = nullptr;  // opened, not yet ended (Stream::live_next)
  std::uint64_t recycle_after_ = 0;
};

}  // namespace trellis::core
