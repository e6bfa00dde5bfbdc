// One request and its response: the core's trellis_stream, standing between
// the protocol session that parsed the request (and frames the response
// through its sink) and the runtime that answers it. Neither side knows the
// other; both only ever talk to this object.
//
// Threads. The protocol's side and the sink run on the loop thread. The
// runtime's side may be called from any thread: a call from the loop thread
// reaches the sink at once (the fast path of --threads 1 and asynchronous
// runtimes), a call from another thread is copied into a queue that the
// loop applies in order. Every byte reaches the socket from the loop thread.
//
// Life. A stream is freed once the protocol closed (or reset) it, the
// runtime is done with it, and no queued call or event refers to it; the
// StreamHost (the worker) then logs the request.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <trellis/abi.h>

#include "worker/body_store.hpp"

namespace trellis::core {

class Connection;
class Stream;

// A runtime as the core calls it.
struct RuntimeRef {
  const trellis_runtime_table* table = nullptr;
  void* self = nullptr;
  std::string name;
  bool blocking() const { return (table->flags & TRELLIS_RUNTIME_BLOCKING) != 0; }
};

// An event waiting for its runtime. The worker points `event.data` at
// `owned` when `data_owned`, and `event.trailers` at `fields`, when it
// delivers it (after the moves of queueing).
struct QueuedEvent {
  trellis_event event{sizeof(trellis_event), 0, nullptr, 0, nullptr, 0, 0, TRELLIS_OK};
  bool data_owned = false;
  std::string owned;
  std::vector<char> field_text;  // a vector: `fields` point into it, and it keeps its buffer when moved
  std::vector<trellis_field> fields;
};

// What a stream needs from its worker.
class StreamHost {
 public:
  virtual bool on_loop_thread() const = 0;
  // Runs Stream::apply_queued(stream) on the loop thread soon (any thread).
  virtual bool post_apply(Stream& stream) = 0;
  // Loop thread: deliver an event to the stream's asynchronous runtime after
  // the current session callback (never inside one).
  virtual void queue_event(Stream& stream, QueuedEvent&& event) = 0;
  // Loop thread: the blocking runtime may have the stream now (its body
  // complete, or the client waits for a go-ahead).
  virtual void queue_dispatch(Stream& stream) = 0;
  // Loop thread: nothing refers to the stream any more: log it, free it.
  virtual void stream_ended(Stream& stream) = 0;
  virtual BodyBudget& body_budget() = 0;
  // Unsent output a stream may have before writes answer "again", and the
  // level it must fall to before a waiting writer goes on.
  virtual std::size_t high_water() const = 0;
  virtual std::size_t low_water() const = 0;
  // Output queued by every connection of the worker together is over its
  // budget: writers wait as if their own output were.
  virtual bool output_over_budget() const = 0;
  // A write of `stream` answered "again" for the worker's budget, not its
  // own connection's queue: when the budget has room again the host calls
  // output_drained() of every live stream (Worker::output_released), since
  // the stream's own connection may have nothing left to drain.
  virtual void output_budget_blocked() = 0;
  virtual int socket_timeout_ms() const = 0;

 protected:
  ~StreamHost() = default;
};

class Stream {
 public:
  // Asynchronous runtimes: unconsumed body bytes a stream may hold before
  // the protocol is told to stop reading.
  static constexpr std::size_t kBodyWindow = 64 * 1024;

  Stream(StreamHost& host, Connection& conn, const RuntimeRef& runtime, const trellis_protocol_table* protocol,
         void* protocol_self, const trellis_stream_sink* sink, void* sink_self);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // Streams come and go with every request: their memory is recycled
  // (loop thread only, where streams are made and freed).
  static void* operator new(std::size_t size);
  static void operator delete(void* p) noexcept;

  // Copies the head and the connection's description. False: out of memory.
  bool copy_head(const trellis_request_head& head, const trellis_conn_info& info) noexcept;
  // copy_head into `block`: false when it does not fit in `size` bytes.
  bool copy_head_into(char* block, std::size_t size, const trellis_request_head& head,
                      const trellis_conn_info& info) noexcept;

  trellis_stream* handle() { return reinterpret_cast<trellis_stream*>(this); }
  static Stream* of(trellis_stream* s) { return reinterpret_cast<Stream*>(s); }

  // ---- the protocol's side (loop thread) ---------------------------------
  trellis_status body(const char* data, std::size_t len) noexcept;
  trellis_status body_end(const trellis_field* trailers, std::size_t count) noexcept;
  trellis_status message(std::uint32_t flags, const char* data, std::size_t len) noexcept;
  void reset(trellis_status why) noexcept;
  void close(const trellis_response_summary* summary) noexcept;

  // ---- the runtime's side (abi.h says which thread) ----------------------
  const trellis_request_head* head() const noexcept { return &head_; }
  const trellis_conn_info* conn_info() const noexcept { return &info_; }
  trellis_status read(char* buf, std::size_t size, std::size_t* got) noexcept;
  void consume(std::size_t bytes) noexcept;
  void want_body() noexcept;
  trellis_status start(const trellis_response_head* head) noexcept;
  trellis_status write(const trellis_chunk* chunks, std::size_t count, bool last) noexcept;
  trellis_status wait_writable() noexcept;
  trellis_status finish(const trellis_field* trailers, std::size_t count) noexcept;
  void abort() noexcept;
  bool head_sent() const noexcept { return head_sent_.load(std::memory_order_acquire); }
  trellis_status upgrade() noexcept;
  trellis_status send_message(std::uint32_t flags, const trellis_chunk* chunks, std::size_t count) noexcept;
  void done() noexcept;
  bool gone() const noexcept { return gone_.load(std::memory_order_acquire); }
  // The runtime called done(): it hears nothing more about this stream.
  bool runtime_finished() const noexcept { return runtime_done_.load(std::memory_order_acquire); }

  // ---- the core (loop thread) ---------------------------------------------
  const RuntimeRef& runtime() const { return runtime_; }  // the worker's table entry, which outlives it
  bool body_complete() const { return body_ended_; }
  bool expects_go_ahead() const { return (head_.flags & TRELLIS_REQUEST_EXPECTS_GO_AHEAD) != 0; }
  // The queue of calls from other threads (StreamHost::post_apply).
  static void apply_queued(Stream& s) noexcept;
  // A blocking runtime's on_request returned `status` (implicit done).
  void runtime_returned() noexcept;
  // The connection is gone (its session released): reset if still open.
  void connection_gone() noexcept;
  // The connection's queue fell below the low-water mark.
  void output_drained() noexcept;
  // The worker drains: an asynchronous runtime hears of it.
  void drain() noexcept;
  // Reference counting for queued dispatches and events (loop thread).
  void hold() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept;

  // What the request log and the stats need once it ended.
  const trellis_response_summary& summary() const { return summary_; }
  bool dispatched = false;           // handed to its runtime
  bool waiting_for_body = false;     // a blocking dispatch waits for body_end
  std::int64_t started_us = 0;       // monotonic, when handed to the runtime
  std::int64_t started_wall_us = 0;  // wall clock, for the log line
  std::int64_t runtime_us = 0;       // how long until the runtime returned / was done
  trellis_status runtime_status = TRELLIS_OK;

 private:
  enum class OpKind : std::uint8_t { start, write, finish, abort, upgrade, message, want_body, done };
  struct Op {
    OpKind kind;
    bool last = false;
    std::uint32_t flags = 0;
    // Status line + field text (start, finish), or data. A vector, not a
    // string: its buffer keeps its address when the Op moves into the
    // queue (a short string's would not), and chunks and fields point into it.
    std::vector<char> bytes;
    std::vector<trellis_field> fields;
    std::vector<trellis_chunk> chunks;  // file fds are owned (duplicated) here
    std::size_t counted = 0;            // bytes counted in pending_out_
  };

  bool loop_thread() const { return host_.on_loop_thread(); }
  // Queues `op` for the loop (any thread but the loop's, or the loop when
  // calls are already queued). False: out of memory.
  bool enqueue(Op&& op) noexcept;
  // Body or message bytes from a thread not the loop's: copied into `op`,
  // counted as pending output, queued for the loop to send.
  trellis_status enqueue_output(Op&& op, const trellis_chunk* chunks, std::size_t count) noexcept;
  // After output was taken: OK, or AGAIN over the high-water mark (the
  // runtime is woken once it drained).
  trellis_status output_accepted() noexcept;
  void apply(Op& op) noexcept;
  void apply_all() noexcept;
  // The same calls on the loop thread, at once.
  trellis_status do_start(const trellis_response_head* head) noexcept;
  trellis_status do_write(const trellis_chunk* chunks, std::size_t count, bool last) noexcept;
  trellis_status do_finish(const trellis_field* trailers, std::size_t count) noexcept;
  void do_abort() noexcept;
  trellis_status do_upgrade() noexcept;
  trellis_status do_message(std::uint32_t flags, const trellis_chunk* chunks, std::size_t count) noexcept;
  void do_want_body() noexcept;
  void do_done() noexcept;
  std::size_t unsent() const noexcept;
  bool over_high_water() const noexcept;
  void wake_waiters() noexcept;
  void end_protocol_side() noexcept;

  StreamHost& host_;
  Connection* conn_;  // loop thread only; null once the connection is gone
  std::shared_ptr<const std::atomic<std::size_t>> conn_queued_;  // the connection's unsent bytes
  const RuntimeRef& runtime_;
  const trellis_protocol_table* protocol_;
  void* protocol_self_;
  const trellis_stream_sink* sink_;  // null once the protocol closed or reset it
  void* sink_self_;

  // The copied head and connection description (stable for the stream's
  // life): the fields, then every string, in one block; inline for the
  // usual head, so a request costs no allocation for it.
  static constexpr std::size_t kInlineHead = 1536;
  alignas(trellis_field) char inline_head_[kInlineHead];
  std::unique_ptr<char[]> heap_head_;
  trellis_request_head head_{};
  trellis_conn_info info_{};

  std::mutex mutex_;  // guards what the runtime's threads share with the loop
  std::condition_variable changed_;  // body arrived, output drained, gone
  std::vector<Op> queued_;           // calls from other threads, in order
  bool apply_posted_ = false;
  std::atomic<bool> has_queued_{false};  // queued_ is not empty: lets the loop skip the lock
  BodyStore body_;                   // blocking runtimes
  bool body_ended_ = false;
  // Asynchronous runtimes: delivered, not consumed. A list: its elements
  // never move (events point into them), and an empty one allocates nothing.
  std::list<std::string> unconsumed_;
  std::size_t unconsumed_bytes_ = 0;
  std::size_t consumed_front_ = 0;      // bytes of unconsumed_.front() already consumed
  bool reading_paused_ = false;         // body() answered again
  bool writable_wanted_ = false;        // a write answered again: send WRITABLE
  bool waiting_writer_ = false;

  std::atomic<bool> gone_{false};
  std::atomic<bool> head_recorded_{false};
  std::atomic<bool> head_sent_{false};
  std::atomic<bool> finished_{false};
  std::atomic<bool> aborted_{false};
  std::atomic<bool> upgraded_{false};
  std::atomic<bool> runtime_done_{false};
  std::atomic<bool> body_wanted_{false};
  std::atomic<std::size_t> pending_out_{0};  // bytes queued by other threads, not yet applied
  std::atomic<bool> protocol_open_{true};
  bool disconnect_sent_ = false;
  std::atomic<int> refs_{2};  // the protocol's side and the runtime's side

 public:
  // The worker's list of live streams (intrusive: no allocation).
  Stream* live_prev = nullptr;
  Stream* live_next = nullptr;

 private:
  trellis_response_summary summary_{sizeof(trellis_response_summary), 0, 0, 0};
  // What went to the protocol (loop thread): the summary's fallback.
  int handed_status_ = 0;
  std::uint64_t handed_body_bytes_ = 0;
};

}  // namespace trellis::core
