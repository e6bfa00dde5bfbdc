// One accepted client socket: the core's sdk::Transport, plus the event
// loop's bookkeeping (state, deadline). The socket stays non-blocking; the
// blocking Transport calls wait with poll() up to the socket timeout, and
// only ever run on an application thread.
//
// A slow reader must not hold an application thread: when the socket cannot
// take a response's last bytes and they fit in the write buffer
// (--write-buffer), write() keeps them and returns; the event loop sends
// them once the runtime has returned (state `flushing`). Only a response
// whose unsent tail is larger than the buffer makes the thread wait. The
// rest of a file (send_file) is kept as a range of a duplicated descriptor,
// which costs no memory, so a slow download never holds a thread.
#pragma once

#include <sys/socket.h>

#include <trellis/protocol.hpp>

#include <atomic>
#include <cstdint>
#include <deque>
#include <string>

namespace trellis::core {

struct Listener;

// How many response bytes a worker keeps for slow readers: per connection,
// and in all (so many slow readers cannot exhaust memory: past the total,
// application threads wait as they would without a buffer).
struct WriteBudget {
  std::size_t per_connection = 0;
  std::size_t per_worker = 0;
  std::atomic<std::size_t> in_use{0};
};

class Connection final : public sdk::Transport {
 public:
  enum class State { reading, in_app, flushing, lingering };

  // `peer` is what accept4() reported (nullptr: ask the socket).
  // `budget`: how many bytes may be kept for a slow reader (see above).
  Connection(int fd, const sockaddr* peer, const Listener& listener, int io_timeout_ms, WriteBudget& budget);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sdk::Status write(std::span<const struct iovec> parts) noexcept override;
  sdk::Status send_file(int fd, std::int64_t offset, std::int64_t count) noexcept override;
  sdk::Status read(char* buf, std::size_t size, std::size_t& got) noexcept override;
  const sdk::ConnectionInfo& info() const noexcept override { return info_; }
  void abort() noexcept override;
  sdk::Status write_last(std::span<const struct iovec> parts) noexcept override;

  int fd() const { return fd_; }

  // Event loop: the peer reset the connection (or it failed) while the
  // request is in the application. Every later Transport call fails at
  // once with Status::closed instead of reaching the socket.
  void mark_peer_gone() noexcept { peer_gone_.store(true, std::memory_order_relaxed); }

  // Closing now could destroy response bytes still in flight: the client
  // sent bytes we never read (a close() with unread input makes the kernel
  // send a reset, which discards our unsent data). Only checked (one
  // recv) when much was written or a write had to wait: a small response
  // leaves within TCP's initial window, before the close.
  bool close_would_reset_output() noexcept;

  // Response bytes or file ranges kept for a slow reader, not yet sent.
  bool has_pending() const { return !pending_.empty(); }
  // Event loop: sends what the socket takes now. done: nothing left (and a
  // deferred end of stream was sent); again: wait until writable; failed:
  // the peer is gone (or a kept file was shorter than promised).
  enum class Flush { done, again, failed };
  Flush flush_pending() noexcept;
  const Listener& listener() const { return listener_; }

  sdk::Session* session = nullptr;
  State state = State::reading;
  sdk::Phase phase = sdk::Phase::idle;
  sdk::Progress after_flush = sdk::Progress::close;  // what to do once flushed
  std::int64_t deadline_ms = 0;
  bool rearm = false;  // a request was served: the next deadline starts afresh
  bool registered = false;  // in the worker's epoll set yet
  std::uint32_t serial = 0;  // tells this connection's events from those of an earlier one on the same fd

 private:
  // Waits until the socket is ready for `events`; false on timeout/error.
  sdk::Status wait_for(short events) noexcept;
  // After a failed socket call: ok means try again (EINTR, or EAGAIN and the
  // socket became ready); anything else is the call's final status.
  sdk::Status retry_after_error(short events) noexcept;
  // Every byte of every part, sendmsg() `flags` added to each call; keeps
  // the tail for the event loop when it fits in the write buffer.
  sdk::Status send_all(std::span<const struct iovec> parts, int flags) noexcept;
  // Sends the pending bytes, waiting as long as the socket timeout allows.
  sdk::Status drain_pending() noexcept;
  // Keeps all of `iov[0..count)` (`bytes` in all) for the loop to send;
  // false when the budget has no room for them.
  bool keep(const struct iovec* iov, std::size_t count, std::size_t bytes) noexcept;
  // Keeps `count` bytes of `file_fd` from `offset` (a duplicate of the
  // descriptor: the runtime may close its own); false if that fails.
  bool keep_file(int file_fd, std::int64_t offset, std::int64_t count) noexcept;
  void drop_pending() noexcept;
  // Aborted by the runtime, or the peer is gone: nothing more is sent.
  bool gone() const noexcept;

  // What is kept, in order: bytes (`data` from `sent` on) or a file range.
  struct Kept {
    std::string data;
    std::size_t sent = 0;
    int file = -1;
    std::int64_t offset = 0, left = 0;
  };

  int fd_;
  const Listener& listener_;
  int io_timeout_ms_;
  WriteBudget& budget_;
  std::deque<Kept> pending_;
  std::size_t pending_bytes_ = 0;  // unsent bytes in pending_ (files not counted)
  std::uint64_t written_ = 0;    // bytes handed to the socket, all requests
  bool waited_ = false;          // a write found the socket full
  bool aborted_ = false;
  std::atomic<bool> peer_gone_{false};  // set by the loop thread, read by the application's
  bool ended_ = false;           // write_last() was called
  bool shutdown_pending_ = false;  // ... and its shutdown waits for pending_
  std::string remote_host_, remote_port_;
  sdk::ConnectionInfo info_;
};

}  // namespace trellis::core
