#include "worker/connection.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstddef>
#include <cerrno>
#include <cstring>

#include "net/address.hpp"
#include "worker/listener_ref.hpp"
#include "worker/stream.hpp"

namespace trellis::core {

namespace {

constexpr int kLingerMs = 2000;
// Past this many bytes written (or a write that had to wait), a close is
// checked for unread input, which would turn it into a reset (see
// finish_close).
constexpr std::uint64_t kSmallOutput = 8192;
constexpr std::size_t kMaxIov = 64;

trellis_str view(const std::string& s) { return {s.data(), s.size()}; }

bool peer_gone(int err) { return err == EPIPE || err == ECONNRESET || err == ENOTCONN || err == ETIMEDOUT; }

}  // namespace

Connection::Connection(ConnectionHost& host, int fd, const sockaddr* peer, const Listener& listener)
    : host_(host), fd_(fd), listener_(listener) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (!peer && getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) peer = reinterpret_cast<sockaddr*>(&ss);
  if (peer) net::format_sockaddr(peer, remote_host_, remote_port_);
  info_.size = sizeof info_;
  info_.flags = listener.socket->address.is_unix() ? static_cast<std::uint32_t>(TRELLIS_CONN_UNIX) : 0u;
  info_.remote_addr = view(remote_host_);
  info_.remote_port = view(remote_port_);
  // Streams keep these views without a copy (Stream::copy_head_into): the
  // listening sockets outlive every connection and stream of the worker.
  info_.local_addr = view(listener.socket->local_host);
  info_.local_port = view(listener.socket->local_port);
  info_.socket_name = view(listener.socket->address.text);
  deadline_.fn = [](void* self) { static_cast<Connection*>(self)->on_deadline(); };
  deadline_.arg = this;
}

Connection::~Connection() {
  host_.loop().cancel(deadline_);
  if (session_) session_->release(session_self_);
  account(-static_cast<std::ptrdiff_t>(queued()));
  for (auto& p : out_)
    if (p.file >= 0) ::close(p.file);
  if (token_ != EventLoop::kNoToken) host_.loop().remove(token_);
  if (fd_ >= 0) ::close(fd_);
}

bool Connection::open_session() noexcept {
  protocol_ = listener_.protocol;
  protocol_self_ = listener_.protocol_self;
  session_ = protocol_->open_session(protocol_self_, handle(), &session_self_);
  if (!session_) {
    spdlog::error("protocol {} could not open a session for a connection on {}", protocol_->name,
                  listener_.socket->address.text);
    return false;
  }
  // A protocol hands out the same table for every session: checked once.
  static const trellis_session_table* checked = nullptr;
  if (session_ != checked) {
    if (session_->size < sizeof(trellis_session_table) || !session_->read_space || !session_->on_received ||
        !session_->on_eof || !session_->phase || !session_->release) {
      spdlog::error("protocol {} gave a session table that is too small or lacks a required function "
                    "(read_space, on_received, on_eof, phase, release); connection refused",
                    protocol_->name);
      if (session_->size >= offsetof(trellis_session_table, release) + sizeof session_->release &&
          session_->release)
        session_->release(session_self_);
      session_ = nullptr;
      return false;
    }
    checked = session_;
  }
  return true;
}

void Connection::start(bool draining) noexcept {
  if (draining && session_->on_drain) session_->on_drain(session_self_);
  refresh_deadline(true);
  // The request usually arrives with the connection (TCP_DEFER_ACCEPT):
  // read it before paying for epoll registration, which a one-request
  // connection may never need.
  read_ready();
  if (state_ != State::dead) update_interest();
}

void Connection::drain() noexcept {
  if (state_ == State::open && session_->on_drain) session_->on_drain(session_self_);
}

// ---- reading ----------------------------------------------------------------

void Connection::on_events(std::uint32_t events) {
  if (state_ == State::dead) return;
  if (events & EPOLLERR) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    die(false);
    return;
  }
  if (events & EPOLLOUT) {
    if (!flush()) return;
  }
  if (state_ == State::lingering) {
    linger_read();
    return;
  }
  if ((events & (EPOLLIN | EPOLLRDHUP)) && read_paused_) {
    // Bytes wait while the session pauses: stop being told until it
    // resumes (pausing itself costs no system call; see pause_reading).
    input_masked_ = true;
  } else if (events & (EPOLLIN | EPOLLRDHUP)) {
    read_ready();
  }
  if (state_ == State::dead) return;
  if ((events & EPOLLHUP) && !(events & EPOLLIN)) {
    // Both directions are gone (a reset, or our shutdown after the peer's):
    // nothing can be read or sent any more.
    die(false);
    return;
  }
  update_interest();
}

void Connection::read_ready() noexcept {
  if (state_ != State::open) return;
  bool progress = false;
  while (state_ == State::open && !read_paused_ && !peer_finished_) {
    trellis_str space = session_->read_space(session_self_);
    if (space.len == 0) {
      // The session can take nothing now: reading pauses, as if it had
      // asked, until it resumes (abi.h, read_space).
      read_paused_ = true;
      break;
    }
    ssize_t n = ::recv(fd_, const_cast<char*>(space.ptr), space.len, 0);
    if (n > 0) {
      progress = true;
      session_->on_received(session_self_, static_cast<std::size_t>(n));
      host_.session_returned();
      if (static_cast<std::size_t>(n) < space.len) break;  // the socket is empty now
      continue;
    }
    if (n == 0) {
      peer_finished_ = true;
      session_->on_eof(session_self_);
      host_.session_returned();
      break;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) die(false);
    break;
  }
  if (state_ != State::dead) refresh_deadline(progress);
}

void Connection::linger_read() noexcept {
  // Discard what the client still sends until it closes or time runs out.
  char sink[4096];
  for (;;) {
    ssize_t n = ::recv(fd_, sink, sizeof sink, 0);
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    die(false);
    return;
  }
}

bool Connection::pump_read(int timeout_ms) noexcept {
  if (state_ != State::open) return false;
  pollfd p{fd_, POLLIN, 0};
  int rc;
  do {
    rc = ::poll(&p, 1, timeout_ms);
  } while (rc < 0 && errno == EINTR);
  if (rc <= 0) return false;
  bool was_paused = read_paused_;
  read_paused_ = false;  // the runtime asked for these bytes
  read_ready();
  if (state_ == State::open && was_paused) read_paused_ = true;
  return state_ != State::dead;
}

void Connection::pause_reading(bool paused) noexcept {
  if (read_paused_ == paused || state_ != State::open) return;
  // Lazy both ways, so a session that pauses for each request and resumes
  // after its response costs no system call: the descriptor stays in the
  // epoll set; only input arriving while paused takes it out (on_events),
  // and resuming puts it back. Input already waiting is reported by the
  // level-triggered epoll on the next turn.
  read_paused_ = paused;
  if (!paused && input_masked_) {
    input_masked_ = false;
    update_interest();
  }
}

// ---- writing ----------------------------------------------------------------

void Connection::account(std::ptrdiff_t delta) noexcept {
  if (delta == 0) return;
  queued_->fetch_add(static_cast<std::size_t>(delta), std::memory_order_relaxed);
  host_.output_in_use().fetch_add(static_cast<std::size_t>(delta), std::memory_order_seq_cst);
  if (delta < 0) host_.output_released();
}

trellis_status Connection::write(const trellis_chunk* chunks, std::size_t count, bool last) noexcept {
  if (state_ != State::open || end_pending_ || write_shut_) return TRELLIS_CLOSED;
  bool ok = out_.empty() ? send_direct(chunks, count, last) : queue(chunks, count, 0, 0);
  if (!ok) return state_ == State::dead ? TRELLIS_CLOSED : TRELLIS_INTERNAL_ERROR;
  if (last) {
    end_pending_ = true;
    if (out_.empty()) after_flush();
  }
  if (!out_.empty()) {
    waited_ = true;
    update_interest();
    refresh_deadline(false);
  }
  return TRELLIS_OK;
}

bool Connection::send_direct(const trellis_chunk* chunks, std::size_t count, bool last) noexcept {
  std::size_t i = 0;
  while (i < count) {
    if (chunks[i].kind == TRELLIS_CHUNK_FILE) {
      off_t off = chunks[i].offset;
      std::size_t left = chunks[i].len;
      while (left > 0) {
        ssize_t n = ::sendfile(fd_, chunks[i].fd, &off, left);
        if (n > 0) {
          left -= static_cast<std::size_t>(n);
          written_ += static_cast<std::uint64_t>(n);
          continue;
        }
        if (n == 0) {  // the file is shorter than promised: the framing is broken
          spdlog::error("a file sent on a connection from {} ended early; connection reset", remote_host_);
          die(true);
          return false;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return queue(chunks, count, i, chunks[i].len - left);
        die(false);
        return false;
      }
      ++i;
      continue;
    }
    // A run of byte chunks in one sendmsg.
    iovec iov[kMaxIov];
    std::size_t first = i, n_iov = 0;
    std::size_t total = 0;
    while (i < count && chunks[i].kind == TRELLIS_CHUNK_BYTES && n_iov < kMaxIov) {
      if (chunks[i].len) {
        iov[n_iov].iov_base = const_cast<char*>(chunks[i].data);
        iov[n_iov].iov_len = chunks[i].len;
        total += chunks[i].len;
        ++n_iov;
      }
      ++i;
    }
    if (total == 0) continue;
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = n_iov;
    // The last bytes of a closing connection wait for the FIN that follows
    // at once, so they travel in one segment.
    int flags = MSG_NOSIGNAL | (last && i == count ? MSG_MORE : 0);
    ssize_t sent;
    do {
      sent = ::sendmsg(fd_, &msg, flags);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) {
      if (errno == EAGAIN) return queue(chunks, count, first, 0);
      if (!peer_gone(errno))
        spdlog::warn("sending to {} failed: {}", remote_host_.empty() ? info_.socket_name.ptr : remote_host_,
                     std::strerror(errno));
      die(false);
      return false;
    }
    written_ += static_cast<std::uint64_t>(sent);
    if (static_cast<std::size_t>(sent) < total) {
      // Find where the socket stopped and queue the rest.
      std::size_t skip = static_cast<std::size_t>(sent);
      std::size_t j = first;
      for (; j < i; ++j) {
        if (skip < chunks[j].len) break;
        skip -= chunks[j].len;
      }
      return queue(chunks, count, j, skip);
    }
  }
  return true;
}

bool Connection::queue(const trellis_chunk* chunks, std::size_t count, std::size_t from, std::size_t offset) noexcept {
  std::size_t added = 0;
  try {
    for (std::size_t i = from; i < count; ++i, offset = 0) {
      const trellis_chunk& c = chunks[i];
      if (c.len <= offset) continue;
      if (c.kind == TRELLIS_CHUNK_FILE) {
        Piece p;
        p.file = ::fcntl(c.fd, F_DUPFD_CLOEXEC, 0);
        if (p.file < 0) {
          spdlog::error("cannot keep a file to send to {}: {}", remote_host_, std::strerror(errno));
          die(true);
          return false;
        }
        p.offset = c.offset + static_cast<std::int64_t>(offset);
        p.left = c.len - offset;
        out_.push_back(std::move(p));
        continue;
      }
      if (out_.empty() || out_.back().file >= 0) out_.emplace_back();
      out_.back().data.append(c.data + offset, c.len - offset);
      added += c.len - offset;
    }
  } catch (const std::bad_alloc&) {
    account(static_cast<std::ptrdiff_t>(added));
    spdlog::error("out of memory keeping a response for {}; connection reset", remote_host_);
    die(true);
    return false;
  }
  account(static_cast<std::ptrdiff_t>(added));
  return true;
}

bool Connection::flush() noexcept {
  std::size_t before = queued();
  // Progress is what the socket took, file ranges included: queued() counts
  // only bytes kept in memory, so a slow but steady reader of a file range
  // (sendfile) would otherwise never restart the socket timeout and be cut
  // with a reset mid-download.
  std::uint64_t written_before = written_;
  while (!out_.empty()) {
    Piece& p = out_.front();
    ssize_t n;
    if (p.file >= 0) {
      off_t off = p.offset;
      n = ::sendfile(fd_, p.file, &off, p.left);
      if (n == 0) {
        spdlog::error("a file sent on a connection from {} ended early; connection reset", remote_host_);
        die(true);
        return false;
      }
    } else {
      bool final_piece = out_.size() == 1 && end_pending_;
      n = ::send(fd_, p.data.data() + p.sent, p.data.size() - p.sent, MSG_NOSIGNAL | (final_piece ? MSG_MORE : 0));
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      die(false);
      return false;
    }
    written_ += static_cast<std::uint64_t>(n);
    if (p.file >= 0) {
      p.offset += n;
      p.left -= static_cast<std::size_t>(n);
      if (p.left > 0) continue;
      ::close(p.file);
    } else {
      p.sent += static_cast<std::size_t>(n);
      account(-n);
      if (p.sent < p.data.size()) continue;
    }
    out_.pop_front();
  }
  output_progress(before);
  if (state_ == State::dead) return false;
  if (out_.empty()) after_flush();
  if (state_ == State::dead) return false;
  update_interest();
  if (written_ != written_before) refresh_deadline(true);
  return true;
}

void Connection::output_progress(std::size_t before) noexcept {
  std::size_t now = queued();
  std::size_t low = host_.limits().low_water;
  if (now >= before || now > low) return;
  // Below the low-water mark: writers waiting on this output may go on.
  for (std::size_t i = 0; i < streams_.size(); ++i) streams_[i]->output_drained();
  if (state_ == State::open && before > low && session_->on_writable) {
    session_->on_writable(session_self_);
    host_.session_returned();
  }
}

void Connection::after_flush() noexcept {
  if (end_pending_ && !write_shut_) {
    write_shut_ = true;
    // ENOTCONN: the peer reset meanwhile; the close that follows settles it.
    ::shutdown(fd_, SHUT_WR);
  }
  if (state_ == State::closing) finish_close();
}

bool Connection::flush_blocking(int timeout_ms) noexcept {
  if (state_ == State::dead) return false;
  if (out_.empty()) return true;
  pollfd p{fd_, POLLOUT, 0};
  int rc;
  do {
    rc = ::poll(&p, 1, timeout_ms);
  } while (rc < 0 && errno == EINTR);
  if (rc <= 0) return false;
  std::size_t before = queued();
  return flush() && queued() < before;
}

// ---- closing ------------------------------------------------------------------

void Connection::close(std::uint32_t how) noexcept {
  if (state_ == State::dead) return;
  if (state_ != State::open) {
    if (how == TRELLIS_CLOSE_ABORT) die(true);
    return;
  }
  if (how == TRELLIS_CLOSE_ABORT) {
    die(true);
    return;
  }
  // Streams the session left open learn that nothing more comes.
  while (!streams_.empty()) streams_.back()->reset(TRELLIS_CLOSED);
  close_how_ = how;
  state_ = State::closing;
  read_paused_ = true;
  if (out_.empty()) finish_close();
  if (state_ != State::dead) {
    update_interest();
    refresh_deadline(true);
  }
}

void Connection::finish_close() noexcept {
  if (close_how_ == TRELLIS_CLOSE_AFTER_WRITE) {
    // Closing with unread input makes the kernel send a reset, which
    // destroys response bytes still in flight. Checked (one recv) only when
    // much was written or a write had to wait: a small response leaves
    // within TCP's initial window, before the close.
    bool unread = false;
    if (!peer_finished_ && (written_ > kSmallOutput || waited_)) {
      char probe[512];
      unread = ::recv(fd_, probe, sizeof probe, MSG_DONTWAIT) > 0;
    }
    if (!unread) {
      die(false);
      return;
    }
  }
  // Graceful: half-close and read until the client closes, so unread
  // request bytes do not turn our close into a reset (RFC 9112 §9.6).
  if (!write_shut_) {
    write_shut_ = true;
    if (::shutdown(fd_, SHUT_WR) != 0) {
      die(false);
      return;
    }
  }
  if (peer_finished_) {
    die(false);
    return;
  }
  state_ = State::lingering;
  update_interest();
  schedule_deadline(kLingerMs);
}

void Connection::die(bool reset_peer) noexcept {
  if (state_ == State::dead) return;
  state_ = State::dead;
  if (reset_peer) {
    // Linger 0: the close sends RST instead of FIN, so a response cut short
    // never looks complete.
    linger lg{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  }
  host_.loop().cancel(deadline_);
  while (!streams_.empty()) {
    Stream* s = streams_.back();
    streams_.pop_back();
    s->connection_gone();
  }
  if (token_ != EventLoop::kNoToken) {
    host_.loop().remove(token_);
    token_ = EventLoop::kNoToken;
  }
  host_.connection_dead(*this);
}

// ---- watching -----------------------------------------------------------------

void Connection::update_interest() noexcept {
  if (state_ == State::dead) return;
  std::uint32_t want = 0;
  if (state_ == State::lingering) {
    want = EPOLLIN | EPOLLRDHUP;
  } else {
    if (state_ == State::open && !peer_finished_ && !(read_paused_ && input_masked_)) want |= EPOLLIN | EPOLLRDHUP;
    if (!out_.empty()) want |= EPOLLOUT;
  }
  // A connection whose request is with the runtime and that sends nothing
  // is still watched, for nothing: hang-ups and errors are reported anyway,
  // and a reset must reach the runtime.
  if (token_ == EventLoop::kNoToken) {
    if (!host_.loop().add(fd_, want, this, token_)) {
      // Unwatched, the connection would hang: it goes, and so does the
      // worker (the master starts another).
      host_.system_failure("epoll_ctl(ADD) for the connection from " + remote_host_);
      token_ = EventLoop::kNoToken;
      die(true);
      return;
    }
    interest_ = want;
    return;
  }
  if (want == interest_) return;
  if (!host_.loop().modify(token_, want)) {
    host_.system_failure("epoll_ctl(MOD) for the connection from " + remote_host_);
    die(true);
    return;
  }
  interest_ = want;
}

void Connection::add_stream(Stream* s) { streams_.push_back(s); }

void Connection::remove_stream(Stream* s) noexcept {
  streams_.remove(s);
  // The exchange ended: the idle and head timeouts start afresh once the
  // session is done with it (refresh_deadline after its callback).
  phase_known_ = false;
}

// ---- deadlines ------------------------------------------------------------------

void Connection::schedule_deadline(int ms) noexcept { host_.loop().schedule(deadline_, ms); }

void Connection::refresh_deadline(bool activity) noexcept {
  const ConnectionLimits& lim = host_.limits();
  if (state_ == State::dead || state_ == State::lingering) return;
  if (!out_.empty()) {
    // Output waits for a slow reader: it must take some within the socket
    // timeout (any progress starts it afresh).
    if (activity || !deadline_.scheduled()) schedule_deadline(lim.socket_timeout_ms);
    return;
  }
  if (state_ == State::closing) return;
  std::uint32_t phase = session_->phase(session_self_);
  // The head timeout runs from the request's first byte (a trickling client
  // cannot extend it); the body timeout from the last progress; the idle
  // (keep-alive) timeout from the end of the last exchange.
  bool changed = !phase_known_ || phase != phase_;
  phase_ = phase;
  phase_known_ = true;
  switch (phase) {
    case TRELLIS_PHASE_BUSY:
      host_.loop().cancel(deadline_);
      return;
    case TRELLIS_PHASE_IDLE:
      if (changed) schedule_deadline(lim.keepalive_timeout_ms);
      return;
    case TRELLIS_PHASE_HEAD:
      if (changed) schedule_deadline(lim.header_timeout_ms);
      return;
    default:
      if (changed || activity) schedule_deadline(lim.socket_timeout_ms);
      return;
  }
}

void Connection::on_deadline() noexcept {
  if (state_ == State::dead) return;
  if (state_ == State::lingering) {
    die(false);
    return;
  }
  if (!out_.empty()) {
    spdlog::info("closing connection from {}: the client did not read the response within the socket timeout",
                 remote_host_);
    die(true);
    return;
  }
  if (state_ == State::open && (phase_ == TRELLIS_PHASE_HEAD || phase_ == TRELLIS_PHASE_BODY))
    spdlog::info("closing connection from {}: request not received within the {} timeout", remote_host_,
                 phase_ == TRELLIS_PHASE_HEAD ? "header" : "body");
  die(false);
}

}  // namespace trellis::core
