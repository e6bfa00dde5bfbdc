#include "worker/connection.hpp"

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

Connection::Connection(int fd, const sockaddr* peer, const Listener& listener, int io_timeout_ms)
    : fd_(fd), listener_(listener), io_timeout_ms_(io_timeout_ms) {
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

sdk::Status Connection::write(std::span<const struct iovec> parts) noexcept {
  if (aborted_ || ended_) return sdk::Status::closed;
  return send_all(parts, 0);
}

sdk::Status Connection::write_last(std::span<const struct iovec> parts) noexcept {
  if (aborted_ || ended_) return sdk::Status::closed;
  // MSG_MORE keeps the tail of the data queued for the moment until the
  // shutdown below, which sends it with the FIN attached: one segment fewer
  // per connection, and the peer reads the response and its end at once.
  sdk::Status st = send_all(parts, MSG_MORE);
  if (st != sdk::Status::ok) return st;
  ended_ = true;
  if (::shutdown(fd_, SHUT_WR) != 0) return errno == ENOTCONN ? sdk::Status::closed : sdk::Status::io_error;
  return sdk::Status::ok;
}

sdk::Status Connection::send_all(std::span<const struct iovec> parts, int flags) noexcept {
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
      if (auto st = retry_after_error(POLLOUT); st != sdk::Status::ok) return st;
      continue;
    }
    auto left = static_cast<size_t>(n);
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

sdk::Status Connection::send_file(int file_fd, std::int64_t offset, std::int64_t count) noexcept {
  if (aborted_ || ended_) return sdk::Status::closed;
  if (count < 0) {
    struct stat st{};
    if (fstat(file_fd, &st) != 0) return sdk::Status::io_error;
    count = st.st_size > offset ? st.st_size - offset : 0;
  }
  off_t off = offset;
  while (count > 0) {
    ssize_t n = ::sendfile(fd_, file_fd, &off, static_cast<size_t>(count));
    if (n < 0) {
      if (auto st = retry_after_error(POLLOUT); st != sdk::Status::ok) return st;
      continue;
    }
    if (n == 0) return sdk::Status::io_error;  // file shorter than promised
    count -= n;
  }
  return sdk::Status::ok;
}

void Connection::abort() noexcept {
  // Linger 0: the close that follows sends RST instead of FIN. Shutting down
  // the write side now also stops anything still queued from looking final.
  linger lg{1, 0};
  setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  aborted_ = true;
}

sdk::Status Connection::read(char* buf, std::size_t size, std::size_t& got) noexcept {
  got = 0;
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
