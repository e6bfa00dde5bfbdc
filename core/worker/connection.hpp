// One accepted client socket: the core's sdk::Transport, plus the event
// loop's bookkeeping (state, deadline). The socket stays non-blocking; the
// blocking Transport calls wait with poll() up to the socket timeout, and
// only ever run on an application thread.
#pragma once

#include <sys/socket.h>

#include <trellis/protocol.hpp>

#include <cstdint>
#include <string>

namespace trellis::core {

struct Listener;

class Connection final : public sdk::Transport {
 public:
  enum class State { reading, in_app, lingering };

  // `peer` is what accept4() reported (nullptr: ask the socket).
  Connection(int fd, const sockaddr* peer, const Listener& listener, int io_timeout_ms);
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
  const Listener& listener() const { return listener_; }

  sdk::Session* session = nullptr;
  State state = State::reading;
  sdk::Phase phase = sdk::Phase::idle;
  std::int64_t deadline_ms = 0;
  bool rearm = false;  // a request was served: the next deadline starts afresh
  bool registered = false;  // in the worker's epoll set yet

 private:
  // Waits until the socket is ready for `events`; false on timeout/error.
  sdk::Status wait_for(short events) noexcept;
  // After a failed socket call: ok means try again (EINTR, or EAGAIN and the
  // socket became ready); anything else is the call's final status.
  sdk::Status retry_after_error(short events) noexcept;
  // Every byte of every part, sendmsg() `flags` added to each call.
  sdk::Status send_all(std::span<const struct iovec> parts, int flags) noexcept;

  int fd_;
  const Listener& listener_;
  int io_timeout_ms_;
  bool aborted_ = false;
  bool ended_ = false;  // write_last() shut the sending side
  std::string remote_host_, remote_port_;
  sdk::ConnectionInfo info_;
};

}  // namespace trellis::core
