#include "worker/worker.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>

#include "logging/log.hpp"
#include "process/exit_codes.hpp"
#include "worker/accept_errors.hpp"
#include "worker/request_log.hpp"
#include "worker/static_files.hpp"

namespace trellis::core {

namespace {

// epoll_event.data.u64: kind in the top byte, index or fd below.
enum Kind : std::uint64_t {
  kConnection = 0,
  kListener = 1ull << 56,
  kSignal = 2ull << 56,
  kPool = 3ull << 56,
  kAccepted = 4ull << 56,
};
constexpr std::uint64_t kKindMask = 0xffull << 56;
// A connection's events carry its descriptor (low 24 bits) and a serial
// number (the 32 bits above): an event read in the same epoll_wait batch
// in which its connection was closed and the descriptor reused by a new
// one must not be taken for the new connection's.
constexpr std::uint64_t kFdMask = (1ull << 24) - 1;
constexpr int kSerialShift = 24;

std::uint64_t connection_tag(const Connection& c) {
  return kConnection | (static_cast<std::uint64_t>(c.serial) << kSerialShift) | static_cast<std::uint64_t>(c.fd());
}

constexpr int kLingerMs = 2000;
constexpr std::uint32_t kReadEvents = EPOLLIN | EPOLLRDHUP;

const char* epoll_op_name(int op) {
  return op == EPOLL_CTL_ADD ? "ADD" : op == EPOLL_CTL_MOD ? "MOD" : "DEL";
}

std::int64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  long pages_total = 0, pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return static_cast<std::int64_t>(pages_resident) * sysconf(_SC_PAGESIZE);
}

}  // namespace

sdk::Runtime* RuntimeTable::pick(std::uint8_t modifier1) const {
  auto it = by_modifier.find(modifier1);
  if (it != by_modifier.end()) return it->second;
  return by_modifier.empty() ? nullptr : by_modifier.begin()->second;
}

Worker::Worker(WorkerSettings settings, std::vector<Listener> listeners, RuntimeTable runtimes,
               Scoreboard& scoreboard)
    : settings_(settings),
      listeners_(std::move(listeners)),
      runtimes_(std::move(runtimes)),
      scoreboard_(scoreboard),
      slot_(scoreboard.worker(settings.slot)) {
  // Slow readers may hold at most 32 connections' worth of kept bytes in all.
  write_budget_.per_connection = settings_.write_buffer;
  write_budget_.per_worker = settings_.write_buffer * 32;
  if (settings_.max_requests > 0) {
    // Jitter keeps workers started together from recycling together.
    std::uint64_t jitter = 0;
    if (settings_.max_requests_jitter > 0) {
      std::mt19937_64 rng(static_cast<std::uint64_t>(getpid()) ^ static_cast<std::uint64_t>(monotonic_ms()));
      jitter = rng() % (settings_.max_requests_jitter + 1);
    }
    recycle_after_ = settings_.max_requests + jitter;
  }
}

Worker::~Worker() {
  acceptor_.reset();
  pool_.reset();
  connections_.clear();
  if (epoll_fd_ >= 0) close(epoll_fd_);
  if (signal_fd_ >= 0) close(signal_fd_);
}

void Worker::thread_hook(int thread, bool starting) {
  (void)thread;
  for (auto& [modifier, runtime] : runtimes_.by_modifier) {
    if (starting)
      runtime->thread_start();
    else
      runtime->thread_stop();
  }
}

bool Worker::start() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) {
    spdlog::critical("worker {}: epoll_create1 failed: {}", settings_.id, std::strerror(errno));
    return false;
  }
  // TERM drains gracefully; it is read from the loop, never in a handler.
  // Without the signalfd it would stay blocked for good: no worker at all
  // is better than one that cannot be stopped.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGHUP);
  int rc = pthread_sigmask(SIG_BLOCK, &set, nullptr);
  if (rc != 0) {
    spdlog::critical("worker {}: pthread_sigmask failed: {}", settings_.id, std::strerror(rc));
    return false;
  }
  signal_fd_ = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd_ < 0) {
    spdlog::critical("worker {}: signalfd failed: {}", settings_.id, std::strerror(errno));
    return false;
  }
  auto add = [this](int fd, std::uint64_t tag, const char* what) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0) return true;
    spdlog::critical("worker {}: epoll_ctl(ADD) for {} failed: {}", settings_.id, what, std::strerror(errno));
    return false;
  };
  if (!add(signal_fd_, kSignal, "the signalfd")) return false;
  try {
    if (settings_.threads > 1) {
      pool_ = std::make_unique<AppThreadPool>(
          settings_.threads, [this](Connection& c, int t) { return serve(c, t); },
          [this](int t, bool starting) { thread_hook(t, starting); });
    }
  } catch (const std::system_error& e) {
    spdlog::critical("worker {}: cannot start {} application threads: {}", settings_.id, settings_.threads,
                     e.what());
    return false;
  }
  if (pool_ && !add(pool_->completion_fd(), kPool, "the thread pool's eventfd")) return false;
  if (!pool_) {
    thread_hook(0, true);
    loop_serves_ = true;
  }

  if (settings_.lock_engine) {
    acceptor_ = std::make_unique<LockedAcceptor>(*settings_.lock_engine, listeners_, settings_.threads);
    if (!acceptor_->start()) {
      spdlog::critical("worker {}: cannot start the accept-lock thread: {}", settings_.id, std::strerror(errno));
      return false;
    }
    if (!add(acceptor_->ready_fd(), kAccepted, "the accept-lock eventfd")) return false;
  } else {
    sync_listeners();
  }
  return !failed_;
}

int Worker::run() {
  if (!start()) {
    if (loop_serves_) thread_hook(0, false);
    return kExitSystemError;
  }
  slot_.ready.store(1, std::memory_order_release);

  epoll_event events[64];
  std::int64_t next_sweep = monotonic_ms() + 1000;
  while (!drained()) {
    int timeout = 1000;
    if (accept_paused_until_) timeout = static_cast<int>(std::clamp<std::int64_t>(accept_paused_until_ - monotonic_ms(), 0, 1000));
    int n = epoll_wait(epoll_fd_, events, 64, timeout);
    if (n < 0) {
      if (errno != EINTR) fail("epoll_wait");
      n = 0;
    }
    for (int i = 0; i < n; ++i) {
      std::uint64_t data = events[i].data.u64;
      switch (data & kKindMask) {
        case kListener:
          if (!draining_) accept_from(listeners_[data & ~kKindMask]);
          break;
        case kSignal:
          handle_signals();
          break;
        case kPool:
          for (auto& [c, progress] : pool_->take_completions()) {
            in_app_--;
            check_recycle();
            apply(*c, progress);
          }
          load_changed();
          break;
        case kAccepted:
          take_accepted();
          break;
        default: {
          auto it = connections_.find(static_cast<int>(data & kFdMask));
          if (it == connections_.end() || connection_tag(*it->second) != data) break;  // closed since
          Connection& c = *it->second;
          if (c.state == Connection::State::in_app)
            on_parked_event(c, events[i].events);
          else if (c.state == Connection::State::flushing)
            on_writable(c);
          else
            on_readable(c);
        }
      }
    }
    std::int64_t now = monotonic_ms();
    if (accept_paused_until_ && now >= accept_paused_until_) {
      accept_paused_until_ = 0;
      sync_listeners();
    }
    if (now >= next_sweep) {
      sweep(now);
      next_sweep = now + 1000;
    }
    if (failed_) {
      // What no application thread holds goes now; the rest when it returns.
      std::vector<Connection*> idle;
      for (auto& [fd, c] : connections_)
        if (c->state != Connection::State::in_app) idle.push_back(c.get());
      for (auto* c : idle) close_connection(*c);
    }
  }
  if (loop_serves_) thread_hook(0, false);
  pool_.reset();
  return failed_ ? kExitSystemError : 0;
}

void Worker::fail(const std::string& what) {
  int err = errno;
  if (failed_) return;  // the first failure says it; the rest follow from it
  failed_ = true;
  spdlog::critical("worker {}: {} failed: {}; this worker stops and the master starts another", settings_.id, what,
                   std::strerror(err));
  begin_drain(RecycleReason::none);
}

bool Worker::drained() {
  if (!draining_) return false;
  if (acceptor_) {
    // Connections it accepted before it stopped are served like any other.
    if (!acceptor_->settled()) return false;
    take_accepted();
  }
  return connections_.empty();
}

void Worker::on_parked_event(Connection& c, std::uint32_t events) {
  // Watched for no event, but epoll reports a hang-up or an error anyway,
  // and again at every wait while it lasts: take the socket out of the set
  // until the runtime returns (apply() watches it again), and let the
  // runtime's next write fail at once.
  if (!(events & (EPOLLHUP | EPOLLERR))) return;
  c.mark_peer_gone();
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd(), nullptr) != 0)
    fail(fmt::format("epoll_ctl(DEL) for the connection from {}", c.info().remote_addr));
  c.registered = false;
}

void Worker::load_changed() {
  if (acceptor_) acceptor_->set_load(in_app_);
  update_accepting();
}

void Worker::arm_listeners() {
  for (size_t i = 0; i < listeners_.size(); ++i) {
    epoll_event ev{};
    // EPOLLEXCLUSIVE: the kernel wakes one waiting worker per connection
    // instead of all of them (no thundering herd).
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.u64 = kListener | i;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listeners_[i].socket->fd, &ev) != 0)
      fail("epoll_ctl(ADD) for the listening socket " + listeners_[i].socket->address.text);
  }
}

void Worker::disarm_listeners() {
  if (acceptor_) {
    acceptor_->stop();
    return;
  }
  sync_listeners();  // draining_ is set: they go
}

void Worker::sync_listeners() {
  if (settings_.lock_engine) return;  // the acceptor thread polls them itself
  bool want = !draining_ && accepting_ && accept_paused_until_ == 0;
  if (want == listening_) return;
  listening_ = want;
  if (want) {
    arm_listeners();
    return;
  }
  for (auto& l : listeners_)
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, l.socket->fd, nullptr) != 0)
      fail("epoll_ctl(DEL) for the listening socket " + l.socket->address.text);
}

void Worker::pause_accepting(const Listener& listener, int err) {
  log_accept_pause(listener, err);
  accept_paused_until_ = monotonic_ms() + kAcceptPauseMs;
  sync_listeners();
}

void Worker::accept_from(const Listener& listener) {
  // One connection per wake-up when several workers share the socket keeps
  // the load even; a lone worker drains the queue.
  int budget = settings_.processes > 1 ? 1 : 64;
  while (budget > 0 && !draining_) {
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    int fd = accept4(listener.socket->fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      budget--;
      adopt(fd, reinterpret_cast<sockaddr*>(&peer), listener);
      continue;
    }
    switch (classify_accept_error(errno)) {
      case AcceptOutcome::again:
        continue;
      case AcceptOutcome::empty:
        return;
      case AcceptOutcome::pause:
        pause_accepting(listener, errno);
        return;
      case AcceptOutcome::fatal:
        fail("accept4 on " + listener.socket->address.text);
        return;
    }
  }
}

void Worker::take_accepted() {
  std::size_t failed_on = 0;
  if (int err = acceptor_->failure(failed_on); err && !failed_) {
    errno = err;
    fail("accepting on " + listeners_[failed_on].socket->address.text + " under the accept lock");
  }
  auto batch = acceptor_->take();
  // Served even while draining: the client was accepted, so it is owed an
  // answer (with "Connection: close").
  for (auto& a : batch) adopt(a.fd, nullptr, listeners_[a.listener]);
  acceptor_->set_load(in_app_, batch.size());
}

void Worker::adopt(int fd, const sockaddr* peer, const Listener& listener) {
  if (fd > static_cast<int>(kFdMask)) {
    // Beyond what an event tag can name (16M descriptors): never reached
    // with any sane open files limit, but refused rather than mistaken.
    spdlog::error("worker {}: descriptor {} is too high to watch; connection closed", settings_.id, fd);
    ::close(fd);
    return;
  }
  auto c = std::make_unique<Connection>(fd, peer, listener, settings_.socket_timeout_ms, write_budget_);
  c->serial = ++connection_serial_;
  c->session = listener.protocol->open_session(*c);
  if (!c->session) {
    spdlog::error("protocol could not open a session for a connection on {}", listener.socket->address.text);
    return;
  }
  Connection& ref = *c;
  connections_.emplace(fd, std::move(c));
  if (draining_) ref.session->close_after_response();
  ref.phase = sdk::Phase::idle;
  refresh_deadline(ref, true);
  // The request usually arrives with the connection (TCP_DEFER_ACCEPT): read
  // it before paying for epoll registration, which a one-request connection
  // may never need.
  on_readable(ref);
  auto it = connections_.find(fd);
  if (it != connections_.end() && !it->second->registered)
    watch(*it->second, it->second->state == Connection::State::in_app ? 0 : kReadEvents);
}

bool Worker::watch(Connection& c, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = connection_tag(c);
  int op = c.registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  if (epoll_ctl(epoll_fd_, op, c.fd(), &ev) != 0) {
    // Unwatched, the connection would hang: the worker stops and its end of
    // iteration closes it (see run()).
    fail(fmt::format("epoll_ctl({}) for the connection from {}", epoll_op_name(op), c.info().remote_addr));
    return false;
  }
  c.registered = true;
  return true;
}

void Worker::on_readable(Connection& c) {
  if (c.state == Connection::State::lingering) {
    // Discard what the client still sends until it closes or time runs out.
    char sink[4096];
    for (;;) {
      ssize_t n = recv(c.fd(), sink, sizeof sink, 0);
      if (n > 0) continue;
      if (n < 0 && errno == EAGAIN) return;
      close_connection(c);
      return;
    }
  }
  if (c.state != Connection::State::reading) return;
  for (;;) {
    auto space = c.session->read_space();
    if (space.empty()) {
      spdlog::error("protocol session on {} has no buffer space; closing", c.info().socket_name);
      close_connection(c);
      return;
    }
    ssize_t n = recv(c.fd(), space.data(), space.size(), 0);
    if (n > 0) {
      auto progress = c.session->on_received(static_cast<size_t>(n));
      if (progress != sdk::Progress::need_more || static_cast<size_t>(n) < space.size()) {
        apply(c, progress);
        return;
      }
      continue;  // the buffer filled up: there may be more right now
    }
    if (n == 0) {
      apply(c, c.session->on_eof());
      return;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) {
      close_connection(c);
      return;
    }
    refresh_deadline(c, false);
    return;
  }
}

void Worker::on_writable(Connection& c) {
  switch (c.flush_pending()) {
    case Connection::Flush::again:
      c.deadline_ms = monotonic_ms() + settings_.socket_timeout_ms;  // it moved: the timeout starts afresh
      return;
    case Connection::Flush::failed:
      close_connection(c);
      return;
    case Connection::Flush::done:
      c.state = Connection::State::in_app;  // apply() takes it from there, as after the runtime
      watch(c, kReadEvents);
      apply(c, c.after_flush);
      return;
  }
}

void Worker::apply(Connection& c, sdk::Progress progress) {
  // Iterative: a pipelined request served inline leads straight to the next.
  for (;;) {
    if (c.has_pending()) {
      // The runtime returned with response bytes a slow reader has not
      // taken yet: the loop sends them first, then carries on.
      c.state = Connection::State::flushing;
      c.after_flush = progress;
      c.deadline_ms = monotonic_ms() + settings_.socket_timeout_ms;
      watch(c, EPOLLOUT);
      return;
    }
    switch (progress) {
      case sdk::Progress::need_more:
        if (c.state == Connection::State::in_app) {
          c.state = Connection::State::reading;
          if (pool_) watch(c, kReadEvents);
        }
        // Even while draining, a connection whose last response promised
        // keep-alive stays open: the client may be sending its next request
        // right now. That one is answered with "Connection: close"; a client
        // that sends nothing meets the keep-alive timeout as usual.
        refresh_deadline(c, true);
        return;
      case sdk::Progress::request_ready:
        c.rearm = true;
        if (pool_) {
          dispatch(c);
          return;
        }
        c.state = Connection::State::in_app;
        in_app_++;
        if (acceptor_) acceptor_->set_load(in_app_);
        progress = serve(c, 0);
        in_app_--;
        if (acceptor_) acceptor_->set_load(in_app_);
        check_recycle();
        continue;
      case sdk::Progress::respond_and_close: {
        std::string_view reply = c.session->pending_output();
        if (!reply.empty()) {
          // The protocol refused the request itself (an error reply).
          int status = c.session->summary().status;
          slot_.refused_class[status >= 100 && status < 600 ? status / 100 : 0].fetch_add(1, std::memory_order_relaxed);
        }
        linger_close(c, reply);
        return;
      }
      case sdk::Progress::close:
        if (c.state == Connection::State::in_app && c.close_would_reset_output()) {
          linger_close(c, {});
          return;
        }
        close_connection(c);
        return;
    }
  }
}

void Worker::dispatch(Connection& c) {
  c.state = Connection::State::in_app;
  watch(c, 0);
  pool_->submit(&c);
  in_app_++;
  load_changed();
}

void Worker::update_accepting() {
  // With every application thread busy, a new connection would only wait
  // here while another worker may be idle: leave it in the kernel's queue
  // for them. (With --threads 1 the loop itself is busy, so it never looks.)
  if (!pool_ || draining_) return;
  bool full = in_app_ >= settings_.threads;
  if (full == !accepting_) return;
  accepting_ = !full;
  sync_listeners();  // (the accept-lock thread is told by load_changed())
}

sdk::Progress Worker::serve(Connection& c, int thread) noexcept {
  try {
    return serve_request(c, thread);
  } catch (const std::exception& e) {
    spdlog::error("worker {}: unexpected error while serving a request from {}: {}; connection closed", settings_.id,
                  c.info().remote_addr, e.what());
  } catch (...) {
    spdlog::error("worker {}: unexpected error while serving a request from {}; connection closed", settings_.id,
                  c.info().remote_addr);
  }
  scoreboard_.core(settings_.slot, thread).busy_since_ms.store(0, std::memory_order_relaxed);
  c.abort();
  return sdk::Progress::close;
}

sdk::Progress Worker::serve_request(Connection& c, int thread) {
  sdk::Request& request = c.session->request();
  CoreSlot& core = scoreboard_.core(settings_.slot, thread);
  RequestTimer timer;
  note_request_line(core, request);
  core.busy_since_ms.store(monotonic_ms(), std::memory_order_relaxed);

  sdk::Status status = sdk::Status::ok;
  if (settings_.static_maps.empty() || !serve_static(settings_.static_maps, request, c.session->response())) {
    sdk::Runtime* runtime = runtimes_.pick(request.modifier1);
    status = runtime ? runtime->handle(request, c.session->response()) : sdk::Status::unsupported;
  }
  if (status == sdk::Status::app_error) slot_.exceptions.fetch_add(1, std::memory_order_relaxed);

  // Counters first: the client may already have the response and ask the
  // stats server about it.
  sdk::ResponseSummary summary = c.session->summary();
  std::int64_t micros = timer.micros();
  auto us = static_cast<std::uint64_t>(micros);
  std::size_t status_class = summary.status >= 100 && summary.status < 600 ? summary.status / 100 : 0;
  std::size_t bucket = 0;
  while (bucket < kDurationBoundsUs.size() && micros > kDurationBoundsUs[bucket]) ++bucket;
  slot_.status_class[status_class].fetch_add(1, std::memory_order_relaxed);
  slot_.duration_bucket[bucket].fetch_add(1, std::memory_order_relaxed);
  slot_.running_time_us.fetch_add(us, std::memory_order_relaxed);
  // uWSGI's running average: half the last average, half this request.
  slot_.avg_rt_us.store((slot_.avg_rt_us.load(std::memory_order_relaxed) + us) / 2, std::memory_order_relaxed);
  slot_.tx_bytes.fetch_add(summary.wire_bytes, std::memory_order_relaxed);
  core.requests.fetch_add(1, std::memory_order_relaxed);
  std::uint64_t served = slot_.requests.fetch_add(1, std::memory_order_relaxed) + 1;

  if (settings_.log_requests) {
    RequestRecord record;
    record.request = &request;
    record.summary = summary;
    record.pid = getpid();
    record.worker_id = settings_.id;
    record.worker_requests = served;
    record.micros = micros;
    record.start_unix_us =
        std::chrono::duration_cast<std::chrono::microseconds>(timer.wall.time_since_epoch()).count();
    log_request(record);
  }
  sdk::Progress next = c.session->finish_request();

  core.busy_since_ms.store(0, std::memory_order_relaxed);
  return next;
}

void Worker::linger_close(Connection& c, std::string_view reply) {
  // Best effort, without blocking the loop: an error reply is small, and a
  // client that cannot take it is gone or hostile.
  if (!reply.empty()) (void)!send(c.fd(), reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  // Half-close and read until the client closes, so unread request bytes do
  // not turn our close into a reset that destroys the reply in flight.
  if (shutdown(c.fd(), SHUT_WR) != 0) {
    close_connection(c);  // not connected any more: nothing to linger for
    return;
  }
  c.state = Connection::State::lingering;
  if (pool_) watch(c, kReadEvents);
  c.deadline_ms = monotonic_ms() + kLingerMs;
}

void Worker::close_connection(Connection& c) {
  // close() takes the socket out of the epoll set: no EPOLL_CTL_DEL needed.
  connections_.erase(c.fd());
}

void Worker::check_recycle() {
  if (draining_ || !recycle_after_ || slot_.requests.load(std::memory_order_relaxed) < recycle_after_) return;
  spdlog::info("worker {} served {} requests (--max-requests): recycling", settings_.id,
               slot_.requests.load(std::memory_order_relaxed));
  begin_drain(RecycleReason::max_requests);
}

void Worker::refresh_deadline(Connection& c, bool activity) {
  if (c.state != Connection::State::reading) return;
  sdk::Phase phase = c.session->phase();
  std::int64_t now = monotonic_ms();
  // The head timeout runs from the request's first byte (a trickling client
  // cannot extend it); the body timeout from the last progress.
  // After a response every phase starts afresh: keep-alive idle time counts
  // from the last response, a pipelined request's head from now.
  if (phase != c.phase || c.rearm || (phase == sdk::Phase::body && activity)) {
    int ms = phase == sdk::Phase::idle   ? settings_.keepalive_timeout_ms
             : phase == sdk::Phase::head ? settings_.header_timeout_ms
                                         : settings_.socket_timeout_ms;
    c.deadline_ms = now + ms;
  } else if (c.deadline_ms == 0) {
    c.deadline_ms = now + settings_.keepalive_timeout_ms;
  }
  c.phase = phase;
  c.rearm = false;
}

void Worker::sweep(std::int64_t now) {
  std::vector<Connection*> expired;
  for (auto& [fd, c] : connections_)
    if (c->state != Connection::State::in_app && c->deadline_ms && now >= c->deadline_ms) expired.push_back(c.get());
  for (auto* c : expired) {
    if (c->state == Connection::State::flushing)
      spdlog::info("closing connection from {}: the client did not read the response within the socket timeout",
                   c->info().remote_addr);
    if (c->state == Connection::State::reading && c->phase != sdk::Phase::idle)
      spdlog::info("closing connection from {}: request not received within the {} timeout", c->info().remote_addr,
                   c->phase == sdk::Phase::head ? "header" : "body");
    close_connection(*c);
  }
  if (!draining_ && settings_.reload_on_rss_bytes > 0 && resident_bytes() > settings_.reload_on_rss_bytes) {
    spdlog::info("worker {} uses more than --reload-on-rss ({} MB): recycling", settings_.id,
                 settings_.reload_on_rss_bytes >> 20);
    begin_drain(RecycleReason::reload_on_rss);
  }
}

void Worker::begin_drain(RecycleReason reason) {
  if (draining_) return;
  draining_ = true;
  slot_.draining.store(1, std::memory_order_relaxed);
  slot_.recycle_reason.store(static_cast<int>(reason), std::memory_order_relaxed);
  disarm_listeners();
  // Idle keep-alive connections are not cut at once: a request may already
  // be on its way. Each gets one more response (with "Connection: close")
  // or ends at its keep-alive timeout, as clients expect.
  for (auto& [fd, c] : connections_) c->session->close_after_response();
}

void Worker::handle_signals() {
  for (;;) {
    signalfd_siginfo info{};
    ssize_t n = ::read(signal_fd_, &info, sizeof info);
    if (n < 0 && errno == EINTR) continue;
    if (n != static_cast<ssize_t>(sizeof info)) {
      if (n < 0 && errno != EAGAIN) fail("reading the signalfd");
      return;
    }
    switch (info.ssi_signo) {
      case SIGTERM:
      case SIGHUP:
        begin_drain(RecycleReason::none);
        break;
      case SIGUSR1:
        log::reopen();
        break;
    }
  }
}

}  // namespace trellis::core
