// One accepted client socket: the core's trellis_conn. It owns the socket
// and every byte written to it: a protocol session writes through it
// (queued, never blocking), and the loop sends what the socket takes.
//
// One state machine per connection, driven by the loop thread:
//
//   open ──conn_close(graceful)──▶ closing ──queue sent──▶ lingering ──EOF/2 s──▶ dead
//     │  ╲─conn_close(after_write)─▶ closing ──queue sent──────────────────────────▶ dead
//     └──conn_close(abort), peer reset, error, timeout──────────────────────────────▶ dead
//
// A dead connection has reset its streams; the worker frees it (and
// releases the session) at the end of the loop turn, so a session that
// closes its connection from inside one of its own callbacks is never
// freed under itself.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include <trellis/abi.h>

#include "loop/event_loop.hpp"
#include "loop/timer_heap.hpp"
#include "worker/stream_list.hpp"

namespace trellis::core {

struct Listener;
class Connection;
class Stream;

struct ConnectionLimits {
  int header_timeout_ms = 10000;
  int keepalive_timeout_ms = 5000;
  int socket_timeout_ms = 30000;
  std::size_t low_water = 1 << 19;  // the queue level that wakes writers and sessions again
};

// What a connection needs from its worker.
class ConnectionHost {
 public:
  virtual EventLoop& loop() = 0;
  virtual const ConnectionLimits& limits() const = 0;
  // Unsent bytes of every connection of the worker together.
  virtual std::atomic<std::size_t>& output_in_use() = 0;
  // Some connection's unsent bytes went down (loop thread).
  virtual void output_released() = 0;
  // A session opens a stream (abi.h: stream_open).
  virtual trellis_stream* open_stream(Connection& conn, const trellis_request_head* head,
                                      const trellis_stream_sink* sink, void* sink_self) = 0;
  // A session callback returned: streams it opened may go to their runtime.
  virtual void session_returned() = 0;
  // The connection is dead: free it at the end of the turn.
  virtual void connection_dead(Connection& conn) = 0;
  // A system call the loop depends on failed (errno says how): the worker
  // cannot be trusted any more and stops (Worker::fail).
  virtual void system_failure(const std::string& what) = 0;

 protected:
  ~ConnectionHost() = default;
};

class Connection final : public EventLoop::Handler {
 public:
  // `peer` is what accept4() reported (nullptr: ask the socket).
  Connection(ConnectionHost& host, int fd, const sockaddr* peer, const Listener& listener);
  ~Connection();  // releases the session, closes the socket
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  trellis_conn* handle() { return reinterpret_cast<trellis_conn*>(this); }
  static Connection* of(trellis_conn* c) { return reinterpret_cast<Connection*>(c); }

  // Asks the listener's protocol for a session. False: it could not (logged).
  bool open_session() noexcept;
  // Reads what arrived with the connection (TCP_DEFER_ACCEPT), then watches
  // it. `draining`: the session hears on_drain first.
  void start(bool draining) noexcept;
  // The worker drains.
  void drain() noexcept;

  // ---- abi.h "connections" (loop thread) ---------------------------------
  trellis_status write(const trellis_chunk* chunks, std::size_t count, bool last) noexcept;
  std::size_t queued() const noexcept { return queued_->load(std::memory_order_relaxed); }
  void pause_reading(bool paused) noexcept;
  void close(std::uint32_t how) noexcept;
  const trellis_conn_info& info() const noexcept { return info_; }

  // ---- streams ---------------------------------------------------------------
  void add_stream(Stream* s);
  void remove_stream(Stream* s) noexcept;
  bool has_streams() const { return !streams_.empty(); }
  // The gauge a stream reads from any thread to know the unsent bytes.
  std::shared_ptr<const std::atomic<std::size_t>> queued_gauge() const { return queued_; }
  const trellis_protocol_table* protocol() const { return protocol_; }
  void* protocol_self() const { return protocol_self_; }

  // ---- blocking runtimes on the loop thread (--threads 1) -----------------
  // Waits up to `timeout_ms` for bytes and hands them to the session.
  // False when nothing came (timeout) or the connection died.
  bool pump_read(int timeout_ms) noexcept;
  // Waits up to `timeout_ms` until the socket takes some of the queue.
  // False when nothing went out or the connection died.
  bool flush_blocking(int timeout_ms) noexcept;

  bool dead() const { return state_ == State::dead; }
  int fd() const { return fd_; }
  // Re-reads the session's phase and sets the deadline that follows.
  void refresh_deadline(bool activity) noexcept;

  // EventLoop::Handler
  void on_events(std::uint32_t events) override;

 private:
  enum class State { open, closing, lingering, dead };
  // Queued output: bytes (data from `sent` on) or a range of a duplicated
  // file descriptor (costs no memory).
  struct Piece {
    std::string data;
    std::size_t sent = 0;
    int file = -1;
    std::int64_t offset = 0;
    std::size_t left = 0;
  };

  void read_ready() noexcept;
  void linger_read() noexcept;
  // Sends what the socket takes. False when the peer is gone (the
  // connection died).
  bool flush() noexcept;
  // Sends `chunks` directly; what the socket does not take is queued.
  bool send_direct(const trellis_chunk* chunks, std::size_t count, bool last) noexcept;
  bool queue(const trellis_chunk* chunks, std::size_t count, std::size_t from, std::size_t offset) noexcept;
  void account(std::ptrdiff_t delta) noexcept;
  void output_progress(std::size_t before) noexcept;
  void after_flush() noexcept;
  void finish_close() noexcept;
  void update_interest() noexcept;
  // Peer gone, error or timeout: reset the streams, drop everything.
  void die(bool reset_peer) noexcept;
  void on_deadline() noexcept;
  void schedule_deadline(int ms) noexcept;

  ConnectionHost& host_;
  int fd_;
  const Listener& listener_;
  const trellis_protocol_table* protocol_ = nullptr;
  void* protocol_self_ = nullptr;
  const trellis_session_table* session_ = nullptr;
  void* session_self_ = nullptr;
  std::string remote_host_, remote_port_;
  trellis_conn_info info_{};

  State state_ = State::open;
  std::uint32_t close_how_ = TRELLIS_CLOSE_GRACEFUL;
  bool read_paused_ = false;
  bool input_masked_ = false;    // input arrived while paused: EPOLLIN left out until resumed
  bool peer_finished_ = false;   // EOF read
  bool end_pending_ = false;     // write_last: shut down once the queue is sent
  bool write_shut_ = false;      // SHUT_WR done
  bool waited_ = false;          // a write found the socket full
  std::uint64_t written_ = 0;
  std::list<Piece> out_;  // a list: a connection that never waits allocates nothing for it
  std::shared_ptr<std::atomic<std::size_t>> queued_ = std::make_shared<std::atomic<std::size_t>>(0);

  EventLoop::Token token_ = EventLoop::kNoToken;
  std::uint32_t interest_ = 0;

  Timer deadline_;
  std::uint32_t phase_ = TRELLIS_PHASE_IDLE;
  bool phase_known_ = false;

  StreamList streams_;
};

}  // namespace trellis::core
