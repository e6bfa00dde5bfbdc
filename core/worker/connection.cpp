#include "worker/connection.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "net/address.hpp"
#include "worker/listener_ref.hpp"

namespace trellis::core {

Connection::Connection(int fd, const sockaddr* peer, const Listener& listener, int io_timeout_ms,
                       WriteBudget& budget)
    : fd_(fd), listener_(listener), io_timeout_ms_(io_timeout_ms), budget_(budget) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (!peer && getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) peer = reinterpret_cast<sockaddr*>(&ss);
  if (peer) net::format_sockaddr(peer, remote_host_, remote_port_);
  info_.remote_addr = remote_host_;
  info_.remote_port = remote_port_;
  info_.local_addr = listener.socket->local_host;
  info_.local_port = listener.socket->local_port;
  info_.socket_name = listener.socket->address.text;
  info_.unix_socket = listener.socket->address.is_unix();
}

Connection::~Connection() {
  drop_pending();
  if (session) session->release();
  ::close(fd_);
}

sdk::Status Connection::wait_for(short events) noexcept {
  pollfd p{fd_, events, 0};
  for (;;) {
    int rc = ::poll(&p, 1, io_timeout_ms_);
    if (rc > 0) return sdk::Status::ok;
    if (rc == 0) return sdk::Status::timed_out;
    if (errno != EINTR) return sdk::Status::io_error;
  }
}

sdk::Status Connection::retry_after_error(short events) noexcept {
  int err = errno;
  if (err == EINTR) return sdk::Status::ok;
  if (err == EAGAIN) return wait_for(events);
  return (err == EPIPE || err == ECONNRESET || err == ENOTCONN) ? sdk::Status::closed : sdk::Status::io_error;
}

bool Connection::gone() const noexcept { return aborted_ || peer_gone_.load(std::memory_order_relaxed); }

sdk::Status Connection::write(std::span<const struct iovec> parts) noexcept {
  if (gone() || ended_) return sdk::Status::closed;
  return send_all(parts, 0);
}

sdk::Status Connection::write_last(std::span<const struct iovec> parts) noexcept {
  if (gone() || ended_) return sdk::Status::closed;
  // MSG_MORE keeps the tail of the data queued for the moment until the
  // shutdown below, which sends it with the FIN attached: one segment fewer
  // per connection, and the peer reads the response and its end at once.
  sdk::Status st = send_all(parts, MSG_MORE);
  if (st != sdk::Status::ok) return st;
  ended_ = true;
  if (has_pending()) {
    shutdown_pending_ = true;  // the loop shuts down after the kept bytes
    return sdk::Status::ok;
  }
  if (::shutdown(fd_, SHUT_WR) != 0) return errno == ENOTCONN ? sdk::Status::closed : sdk::Status::io_error;
  return sdk::Status::ok;
}

bool Connection::keep(const struct iovec* iov, std::size_t count, std::size_t bytes) noexcept {
  if (pending_bytes_ + bytes > budget_.per_connection) return false;
  // Reserve worker-wide room first; another thread may be keeping too.
  std::size_t used = budget_.in_use.load(std::memory_order_relaxed);
  do {
    if (used + bytes > budget_.per_worker) return false;
  } while (!budget_.in_use.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
  try {
    if (pending_.empty() || pending_.back().file >= 0) pending_.emplace_back();
    std::string& data = pending_.back().data;
    for (std::size_t i = 0; i < count; ++i) data.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
  } catch (...) {
    budget_.in_use.fetch_sub(bytes, std::memory_order_relaxed);
    return false;
  }
  pending_bytes_ += bytes;
  return true;
}

bool Connection::keep_file(int file_fd, std::int64_t offset, std::int64_t count) noexcept {
  if (budget_.per_connection == 0) return false;  // --write-buffer 0: the thread waits
  int copy = ::fcntl(file_fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return false;
  try {
    Kept k;
    k.file = copy;
    k.offset = offset;
    k.left = count;
    pending_.push_back(std::move(k));
  } catch (...) {
    ::close(copy);
    return false;
  }
  return true;
}

void Connection::drop_pending() noexcept {
  budget_.in_use.fetch_sub(pending_bytes_, std::memory_order_relaxed);
  for (auto& k : pending_)
    if (k.file >= 0) ::close(k.file);
  pending_.clear();
  pending_bytes_ = 0;
}

sdk::Status Connection::send_all(std::span<const struct iovec> parts, int flags) noexcept {
  std::size_t total = 0;
  for (const auto& p : parts) total += p.iov_len;
  if (has_pending()) {
    // Bytes are already waiting: these go after them, kept too if they fit.
    if (keep(parts.data(), parts.size(), total)) return sdk::Status::ok;
    if (auto st = drain_pending(); st != sdk::Status::ok) return st;
  }
  // Copy the vector so partial writes can advance it.
  iovec local[16];
  std::vector<iovec> heap;
  iovec* iov = local;
  if (parts.size() > 16) {
    try {
      heap.assign(parts.begin(), parts.end());
    } catch (...) {
      return sdk::Status::internal_error;
    }
    iov = heap.data();
  } else {
    for (size_t i = 0; i < parts.size(); ++i) local[i] = parts[i];
  }
  size_t count = parts.size();
  size_t first = 0;
  std::size_t left_total = total;
  while (first < count) {
    if (iov[first].iov_len == 0) {
      ++first;
      continue;
    }
    msghdr msg{};
    msg.msg_iov = iov + first;
    msg.msg_iovlen = count - first;
    ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL | flags);
    if (n < 0) {
      // A slow reader: keep a tail that fits and let the thread go.
      if (errno == EAGAIN) waited_ = true;
      if (errno == EAGAIN && keep(iov + first, count - first, left_total)) return sdk::Status::ok;
      if (auto st = retry_after_error(POLLOUT); st != sdk::Status::ok) return st;
      continue;
    }
    auto left = static_cast<size_t>(n);
    left_total -= left;
    written_ += left;
    while (first < count && left >= iov[first].iov_len) {
      left -= iov[first].iov_len;
      ++first;
    }
    if (first < count) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return sdk::Status::ok;
}

sdk::Status Connection::drain_pending() noexcept {
  for (;;) {
    switch (flush_pending()) {
      case Flush::done: return sdk::Status::ok;
      case Flush::failed: return sdk::Status::closed;
      case Flush::again:
        if (auto st = wait_for(POLLOUT); st != sdk::Status::ok) return st;
    }
  }
}

bool Connection::close_would_reset_output() noexcept {
  constexpr std::uint64_t kSmallOutput = 8192;
  if (aborted_ || (written_ <= kSmallOutput && !waited_ && !has_pending())) return false;
  char probe[512];
  ssize_t n = ::recv(fd_, probe, sizeof probe, MSG_DONTWAIT);
  return n > 0;  // the lingering close reads and drops the rest
}

Connection::Flush Connection::flush_pending() noexcept {
  while (!pending_.empty()) {
    Kept& k = pending_.front();
    ssize_t n;
    if (k.file >= 0) {
      off_t off = k.offset;
      n = ::sendfile(fd_, k.file, &off, static_cast<std::size_t>(k.left));
      if (n == 0) return Flush::failed;  // the file is shorter than promised
    } else {
      n = ::send(fd_, k.data.data() + k.sent, k.data.size() - k.sent, MSG_NOSIGNAL);
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN ? Flush::again : Flush::failed;
    }
    written_ += static_cast<std::uint64_t>(n);
    if (k.file >= 0) {
      k.offset += n;
      k.left -= n;
      if (k.left > 0) continue;
      ::close(k.file);
    } else {
      k.sent += static_cast<std::size_t>(n);
      pending_bytes_ -= static_cast<std::size_t>(n);
      budget_.in_use.fetch_sub(static_cast<std::size_t>(n), std::memory_order_relaxed);
      if (k.sent < k.data.size()) continue;
    }
    pending_.pop_front();
  }
  if (shutdown_pending_) {
    shutdown_pending_ = false;
    ::shutdown(fd_, SHUT_WR);
  }
  return Flush::done;
}

sdk::Status Connection::send_file(int file_fd, std::int64_t offset, std::int64_t count) noexcept {
  if (gone() || ended_) return sdk::Status::closed;
  if (count < 0) {
    struct stat st{};
    if (fstat(file_fd, &st) != 0) return sdk::Status::io_error;
    count = st.st_size > offset ? st.st_size - offset : 0;
  }
  // After anything kept, the file is kept too (in order); failing that,
  // what is kept goes out first, waiting.
  if (has_pending()) {
    if (count == 0 || keep_file(file_fd, offset, count)) return sdk::Status::ok;
    if (auto st = drain_pending(); st != sdk::Status::ok) return st;
  }
  off_t off = offset;
  while (count > 0) {
    ssize_t n = ::sendfile(fd_, file_fd, &off, static_cast<size_t>(count));
    if (n < 0) {
      // A slow reader: the loop sends the rest of the file.
      if (errno == EAGAIN) waited_ = true;
      if (errno == EAGAIN && keep_file(file_fd, off, count)) return sdk::Status::ok;
      if (auto st = retry_after_error(POLLOUT); st != sdk::Status::ok) return st;
      continue;
    }
    if (n == 0) return sdk::Status::io_error;  // file shorter than promised
    count -= n;
    written_ += static_cast<std::uint64_t>(n);
  }
  return sdk::Status::ok;
}

void Connection::abort() noexcept {
  // Linger 0: the close that follows sends RST instead of FIN. Shutting down
  // the write side now also stops anything still queued from looking final.
  linger lg{1, 0};
  setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  aborted_ = true;
  // Nothing kept goes out either: the reset is all the peer gets from now.
  drop_pending();
  shutdown_pending_ = false;
}

sdk::Status Connection::read(char* buf, std::size_t size, std::size_t& got) noexcept {
  got = 0;
  if (peer_gone_.load(std::memory_order_relaxed)) return sdk::Status::closed;
  for (;;) {
    ssize_t n = ::recv(fd_, buf, size, 0);
    if (n >= 0) {
      got = static_cast<size_t>(n);
      return sdk::Status::ok;
    }
    if (auto st = retry_after_error(POLLIN); st != sdk::Status::ok) return st;
  }
}

}  // namespace trellis::core
