#include "worker/worker.hpp"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <trellis/request.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <random>

#include "logging/log.hpp"
#include "process/exit_codes.hpp"
#include "worker/accept_errors.hpp"
#include "worker/request_log.hpp"

namespace trellis::core {

namespace {

Worker* g_current = nullptr;

constexpr int kHousekeepingMs = 1000;

std::int64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  long pages_total = 0, pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return static_cast<std::int64_t>(pages_resident) * sysconf(_SC_PAGESIZE);
}

std::int64_t wall_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

const RuntimeRef* RuntimeTable::pick(std::string_view name) const {
  if (runtimes.empty()) return nullptr;
  if (name.empty()) return &runtimes.front();
  for (auto& r : runtimes)
    if (r.name == name) return &r;
  return nullptr;
}

Worker* Worker::current() { return g_current; }

Worker::Worker(WorkerSettings settings, std::vector<Listener> listeners, RuntimeTable runtimes, Scoreboard& scoreboard)
    : settings_(std::move(settings)),
      listeners_(std::move(listeners)),
      runtimes_(std::move(runtimes)),
      scoreboard_(scoreboard),
      slot_(scoreboard.worker(settings_.slot)) {
  body_budget_.per_body = settings_.post_buffering;
  body_budget_.per_worker = settings_.post_buffering * 64;
  settings_.limits.low_water = settings_.write_buffer / 2;
  if (settings_.max_requests > 0) {
    // Jitter keeps workers started together from recycling together.
    std::uint64_t jitter = 0;
    if (settings_.max_requests_jitter > 0) {
      std::mt19937_64 rng(static_cast<std::uint64_t>(getpid()) ^ static_cast<std::uint64_t>(monotonic_ms()));
      jitter = rng() % (settings_.max_requests_jitter + 1);
    }
    recycle_after_ = settings_.max_requests + jitter;
  }
  signal_handler_.worker = pool_handler_.worker = accepted_handler_.worker = this;
  signal_handler_.fn = &Worker::on_signal;
  pool_handler_.fn = &Worker::on_pool;
  accepted_handler_.fn = &Worker::on_accepted;
  accept_resume_.fn = [](void* w) {
    auto* self = static_cast<Worker*>(w);
    self->accept_paused_ = false;
    self->sync_listeners();
  };
  accept_resume_.arg = this;
  housekeeping_.fn = [](void* w) { static_cast<Worker*>(w)->on_housekeeping(); };
  housekeeping_.arg = this;
}

Worker::~Worker() {
  acceptor_.reset();
  pool_.reset();
  connections_.clear();
  if (signal_fd_ >= 0) close(signal_fd_);
  if (g_current == this) g_current = nullptr;
}

void Worker::thread_hook(int thread, bool starting) {
  for (auto& r : runtimes_.runtimes) {
    if (!r.blocking()) continue;
    if (starting) {
      if (r.table->thread_start) r.table->thread_start(r.self, thread);
    } else if (r.table->thread_stop) {
      r.table->thread_stop(r.self, thread);
    }
  }
}

// ---- start and the loop ---------------------------------------------------------

bool Worker::start() {
  if (!loop_.open()) {
    spdlog::critical("worker {}: cannot create its event loop: {}", settings_.id, std::strerror(errno));
    return false;
  }
  g_current = this;
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
  auto add = [this](int fd, Handler& h, const char* what) {
    EventLoop::Token token;
    if (loop_.add(fd, EPOLLIN, &h, token)) return true;
    spdlog::critical("worker {}: epoll_ctl(ADD) for {} failed: {}", settings_.id, what, std::strerror(errno));
    return false;
  };
  if (!add(signal_fd_, signal_handler_, "the signalfd")) return false;
  try {
    if (settings_.threads > 1) {
      pool_ = std::make_unique<AppThreadPool>(
          settings_.threads, [this](Stream& s, int t) { serve_blocking(s, t); },
          [this](int t, bool starting) { thread_hook(t, starting); });
    }
  } catch (const std::system_error& e) {
    spdlog::critical("worker {}: cannot start {} application threads: {}", settings_.id, settings_.threads,
                     e.what());
    return false;
  }
  if (pool_ && !add(pool_->completion_fd(), pool_handler_, "the thread pool's eventfd")) return false;
  if (!pool_) {
    thread_hook(0, true);
    loop_serves_ = true;
  }
  for (auto& r : runtimes_.runtimes) {
    if (trellis_status st = r.table->loop_start ? r.table->loop_start(r.self) : TRELLIS_OK; st != TRELLIS_OK) {
      // APP_ERROR: the application refused to start (an ASGI lifespan
      // startup that failed): like an application that cannot be loaded,
      // the master stops instead of respawning it in a loop.
      app_failed_ = st == TRELLIS_APP_ERROR;
      spdlog::critical("worker {}: runtime {} could not start on the loop (see above)", settings_.id, r.name);
      return false;
    }
    if (TRELLIS_HAS_FIELD(trellis_runtime_table, r.table, run_loop) && r.table->run_loop) {
      if (loop_driver_) {
        spdlog::critical("worker {}: runtimes {} and {} both want to run the worker's loop; load only one of them",
                         settings_.id, loop_driver_->name, r.name);
        return false;
      }
      loop_driver_ = &r;
    }
  }
  listener_handlers_.resize(listeners_.size());
  listener_tokens_.assign(listeners_.size(), EventLoop::kNoToken);
  for (std::size_t i = 0; i < listeners_.size(); ++i) {
    listener_handlers_[i].worker = this;
    listener_handlers_[i].index = i;
  }
  if (settings_.lock_engine) {
    acceptor_ = std::make_unique<LockedAcceptor>(settings_.lock_engine, listeners_, settings_.threads);
    if (!acceptor_->start()) {
      spdlog::critical("worker {}: cannot start the accept-lock thread: {}", settings_.id, std::strerror(errno));
      return false;
    }
    if (!add(acceptor_->ready_fd(), accepted_handler_, "the accept-lock eventfd")) return false;
  } else {
    sync_listeners();
  }
  loop_.schedule(housekeeping_, kHousekeepingMs);
  // A writer that blocked on the budget just as the last output drained
  // (output_released ran before its flag was set) is woken here at worst.
  output_released();
  return !failed_;
}

int Worker::run() {
  if (!start()) {
    if (loop_serves_) thread_hook(0, false);
    return app_failed_ ? kExitAppLoadFailed : kExitSystemError;
  }
  slot_.ready.store(1, std::memory_order_release);
  if (loop_driver_) {
    trellis_status st = loop_driver_->table->run_loop(loop_driver_->self);
    if (st != TRELLIS_OK) {
      spdlog::critical("worker {}: runtime {} stopped running the loop ({}); this worker stops and the master "
                       "starts another",
                       settings_.id, loop_driver_->name, sdk::to_string(static_cast<sdk::Status>(st)));
      failed_ = true;
    } else if (!drained()) {
      spdlog::critical("worker {}: runtime {} stopped running the loop before the worker drained; this worker "
                       "stops and the master starts another",
                       settings_.id, loop_driver_->name);
      failed_ = true;
    }
    loop_driver_ = nullptr;
  } else {
    while (!drained()) turn(-1);
  }
  if (loop_serves_) thread_hook(0, false);
  pool_.reset();
  return failed_ ? kExitSystemError : 0;
}

void Worker::turn(int max_wait_ms) {
  in_turn_ = true;
  turn_requested_ = false;
  run_pending();  // queued by runtime code between turns (a driven loop)
  if (!loop_.run_once(max_wait_ms)) fail("epoll_wait");
  run_pending();
  if (failed_) {
    // What no runtime holds goes now; the rest once its stream is over.
    std::vector<Connection*> idle;
    for (auto& [c, owned] : connections_)
      if (!c->has_streams()) idle.push_back(c);
    for (auto* c : idle) c->close(TRELLIS_CLOSE_ABORT);
  }
  collect_dead();
  in_turn_ = false;
}

std::int64_t Worker::embedded_turn() {
  if (!in_turn_) {
    if (drained()) return TRELLIS_LOOP_DONE;
    turn(0);
    if (drained()) return TRELLIS_LOOP_DONE;
  }
  if (!pending_dispatch_.empty() || !pending_events_.empty() || !dead_.empty()) return 0;
  return loop_.next_wait_ms();
}

void Worker::request_turn() {
  if (!loop_driver_ || in_turn_ || turn_requested_) return;
  // A posted no-op writes the loop's eventfd, which is in its epoll set.
  if (loop_.post([](void*) {}, nullptr)) turn_requested_ = true;
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
  return connections_.empty() && !live_streams_ && in_app_ == 0 && pending_dispatch_.empty() &&
         pending_events_.empty();
}

void Worker::collect_dead() {
  if (dead_.empty()) return;
  // Swapped with a kept vector (connections dying meanwhile go to dead_):
  // both keep their capacity, so a connection's end allocates nothing.
  collecting_.swap(dead_);
  for (Connection* c : collecting_) connections_.erase(c);  // releases the session, closes the socket
  collecting_.clear();
}

void Worker::connection_dead(Connection& conn) { dead_.push_back(&conn); }

void Worker::output_released() {
  if (!budget_blocked_.load(std::memory_order_seq_cst)) return;
  // Woken with room to spare (three quarters of the budget), so that
  // writers do not wake for every packet at the limit.
  if (output_in_use_.load(std::memory_order_seq_cst) > settings_.write_buffer * 24) return;
  budget_blocked_.store(false, std::memory_order_seq_cst);
  for (Stream* s = live_streams_; s; s = s->live_next) s->output_drained();
}

void Worker::on_housekeeping() {
  loop_.schedule(housekeeping_, kHousekeepingMs);
  note_oldest_async();
  if (!draining_ && settings_.reload_on_rss_bytes > 0 && resident_bytes() > settings_.reload_on_rss_bytes) {
    spdlog::info("worker {} uses more than --reload-on-rss ({} MB): recycling", settings_.id,
                 settings_.reload_on_rss_bytes >> 20);
    begin_drain(RecycleReason::reload_on_rss);
  }
}

// ---- streams ----------------------------------------------------------------------

trellis_stream* Worker::open_stream(Connection& conn, const trellis_request_head* head,
                                    const trellis_stream_sink* sink, void* sink_self) {
  std::string_view wanted = head->runtime.len ? std::string_view(head->runtime.ptr, head->runtime.len) : "";
  const RuntimeRef* runtime = runtimes_.pick(wanted);
  if (!runtime) {
    spdlog::error("no runtime named '{}' is loaded for a request from {}", wanted,
                  std::string_view(conn.info().remote_addr.ptr, conn.info().remote_addr.len));
    return nullptr;
  }
  Stream* s = nullptr;
  try {
    s = new Stream(*this, conn, *runtime, conn.protocol(), conn.protocol_self(), sink, sink_self);
  } catch (...) {
    spdlog::error("out of memory opening a stream");
    return nullptr;
  }
  if (!s->copy_head(*head, conn.info())) {
    spdlog::error("out of memory copying a request head");
    delete s;
    return nullptr;
  }
  try {
    conn.add_stream(s);
  } catch (...) {
    delete s;
    return nullptr;
  }
  s->live_next = live_streams_;
  if (live_streams_) live_streams_->live_prev = s;
  live_streams_ = s;
  // A blocking runtime gets the request once its body is in (body_end), so
  // a slow upload never holds a thread, unless the client waits for a
  // go-ahead that only the runtime's first read sends.
  if (runtime->blocking() && !s->expects_go_ahead())
    s->waiting_for_body = true;
  else
    queue_dispatch(*s);
  return s->handle();
}

void Worker::queue_dispatch(Stream& s) {
  s.hold();
  try {
    pending_dispatch_.push_back(&s);
    request_turn();
  } catch (...) {
    s.release();
    s.abort();
    s.done();
  }
}

void Worker::queue_event(Stream& s, QueuedEvent&& event) {
  s.hold();
  try {
    pending_events_.push_back({&s, std::move(event)});
    request_turn();
  } catch (...) {
    s.release();
    throw;  // the stream's caller handles it
  }
}

bool Worker::post_apply(Stream& s) {
  return loop_.post(
      [](void* arg) {
        auto* stream = static_cast<Stream*>(arg);
        Stream::apply_queued(*stream);
        if (Worker* w = Worker::current()) w->run_pending();
      },
      &s);
}

void Worker::run_pending() {
  // Nested calls (a runtime on the loop thread that reads its body makes
  // the session run again) leave the work to the outermost one.
  if (dispatching_) return;
  dispatching_ = true;
  while (!pending_dispatch_.empty() || !pending_events_.empty()) {
    // Taken one at a time: a dispatch may queue more (a pipelined request).
    if (!pending_dispatch_.empty()) {
      Stream* s = pending_dispatch_.front();
      pending_dispatch_.erase(pending_dispatch_.begin());
      start_request(*s);
      s->release();
      continue;
    }
    PendingEvent item = std::move(pending_events_.front());
    pending_events_.pop_front();
    deliver_event(*item.stream, item.event);
    item.stream->release();
  }
  dispatching_ = false;
}

void Worker::start_request(Stream& s) {
  if (s.dispatched) return;
  s.dispatched = true;
  s.started_us = monotonic_us();
  s.started_wall_us = wall_us();
  if (!settings_.static_maps.empty() && serve_static(settings_.static_maps, s)) return;
  const RuntimeRef& r = s.runtime();
  if (r.blocking()) {
    dispatch_blocking(s);
    return;
  }
  trellis_status st = r.table->on_request(r.self, s.handle(), 0);
  if (st != TRELLIS_OK) {
    // The runtime did not take it: a 500 if nothing went out yet.
    if (!s.head_sent()) {
      trellis_response_head h{sizeof h, 0, {"500 Internal Server Error", 25}, nullptr, 0};
      if (s.start(&h) == TRELLIS_OK) s.finish(nullptr, 0);
    } else {
      s.abort();
    }
    s.runtime_status = st;
    s.done();
  }
}

void Worker::deliver_event(Stream& s, QueuedEvent& q) {
  const RuntimeRef& r = s.runtime();
  // Nothing after done(): the runtime may have freed what it kept for it.
  if (!s.dispatched || !r.table->on_event || s.runtime_finished()) return;
  if (q.data_owned) {
    q.event.data = q.owned.data();
    q.event.len = q.owned.size();
  }
  if (!q.fields.empty()) {
    q.event.trailers = q.fields.data();
    q.event.trailer_count = q.fields.size();
  }
  r.table->on_event(r.self, s.handle(), &q.event);
}

void Worker::dispatch_blocking(Stream& s) {
  in_app_++;
  if (pool_) {
    s.hold();  // until the pool hands it back
    pool_->submit(&s);
    load_changed();
    return;
  }
  if (acceptor_) acceptor_->set_load(in_app_);
  serve_blocking(s, 0);
  in_app_--;
  if (acceptor_) acceptor_->set_load(in_app_);
  s.runtime_returned();
  check_recycle();
}

void Worker::serve_blocking(Stream& s, int thread) noexcept {
  CoreSlot& core = scoreboard_.core(settings_.slot, thread);
  const trellis_request_head* h = s.head();
  note_request_line(core, std::string_view(h->method.ptr, h->method.len), std::string_view(h->uri.ptr, h->uri.len));
  core.busy_since_ms.store(monotonic_ms(), std::memory_order_relaxed);
  const RuntimeRef& r = s.runtime();
  s.runtime_status = r.table->on_request(r.self, s.handle(), thread);
  s.runtime_us = monotonic_us() - s.started_us;
  core.requests.fetch_add(1, std::memory_order_relaxed);
  core.busy_since_ms.store(0, std::memory_order_relaxed);
}

// An asynchronous runtime holds many requests on the loop thread, none of
// them on an application thread the scoreboard would show busy: core 0 shows
// the oldest one in flight instead (once per housekeeping turn), so the
// stats say the worker is busy and with what, and --harakiri, which reads
// core slots, recycles the worker when that request runs too long.
void Worker::note_oldest_async() {
  const Stream* oldest = nullptr;
  for (const Stream* s = live_streams_; s; s = s->live_next)
    if (s->dispatched && !s->runtime().blocking() && (!oldest || s->started_us < oldest->started_us)) oldest = s;
  CoreSlot& core = scoreboard_.core(settings_.slot, 0);
  if (!oldest) {
    if (async_busy_) core.busy_since_ms.store(0, std::memory_order_relaxed);
    async_busy_ = false;
    return;
  }
  const trellis_request_head* h = oldest->head();
  note_request_line(core, std::string_view(h->method.ptr, h->method.len), std::string_view(h->uri.ptr, h->uri.len));
  std::int64_t age_ms = (monotonic_us() - oldest->started_us) / 1000;
  core.busy_since_ms.store(monotonic_ms() - (age_ms > 0 ? age_ms : 0), std::memory_order_relaxed);
  async_busy_ = true;
}

void Worker::on_pool(std::uint32_t) {
  for (Stream* s : pool_->take_completions()) {
    in_app_--;
    s->runtime_returned();
    s->release();
  }
  load_changed();
  check_recycle();
}

void Worker::stream_ended(Stream& s) {
  if (s.live_prev) s.live_prev->live_next = s.live_next;
  if (s.live_next) s.live_next->live_prev = s.live_prev;
  if (live_streams_ == &s) live_streams_ = s.live_next;
  if (s.dispatched) {
    const trellis_response_summary& summary = s.summary();
    std::int64_t micros = s.runtime_us ? s.runtime_us : monotonic_us() - s.started_us;
    auto us = static_cast<std::uint64_t>(micros < 0 ? 0 : micros);
    std::size_t status_class = summary.status >= 100 && summary.status < 600 ? summary.status / 100 : 0;
    std::size_t bucket = 0;
    while (bucket < kDurationBoundsUs.size() && micros > kDurationBoundsUs[bucket]) ++bucket;
    if (s.runtime_status == TRELLIS_APP_ERROR) slot_.exceptions.fetch_add(1, std::memory_order_relaxed);
    slot_.status_class[status_class].fetch_add(1, std::memory_order_relaxed);
    slot_.duration_bucket[bucket].fetch_add(1, std::memory_order_relaxed);
    slot_.running_time_us.fetch_add(us, std::memory_order_relaxed);
    // uWSGI's running average: half the last average, half this request.
    slot_.avg_rt_us.store((slot_.avg_rt_us.load(std::memory_order_relaxed) + us) / 2, std::memory_order_relaxed);
    slot_.tx_bytes.fetch_add(summary.wire_bytes, std::memory_order_relaxed);
    std::uint64_t served = slot_.requests.fetch_add(1, std::memory_order_relaxed) + 1;
    if (settings_.log_requests) {
      try {
        sdk::Request request = sdk::Request::from(s.head(), s.conn_info());
        RequestRecord record;
        record.request = &request;
        record.summary = {summary.status, summary.body_bytes, summary.wire_bytes};
        record.pid = getpid();
        record.worker_id = settings_.id;
        record.worker_requests = served;
        record.micros = micros;
        record.start_unix_us = s.started_wall_us;
        log_request(record);
      } catch (...) {
        // A log line that cannot be built is not worth the request.
      }
    }
  }
  delete &s;
  check_recycle();
}

void Worker::count_refusal(int status) {
  std::size_t c = status >= 100 && status < 600 ? static_cast<std::size_t>(status / 100) : 0;
  slot_.refused_class[c].fetch_add(1, std::memory_order_relaxed);
}

// ---- accepting ---------------------------------------------------------------------

void Worker::ListenerHandler::on_events(std::uint32_t) {
  if (!worker->draining_) worker->accept_from(worker->listeners_[index]);
}

void Worker::arm_listeners() {
  for (std::size_t i = 0; i < listeners_.size(); ++i) {
    // EPOLLEXCLUSIVE: the kernel wakes one waiting worker per connection
    // instead of all of them (no thundering herd).
    if (!loop_.add(listeners_[i].socket->fd, EPOLLIN | EPOLLEXCLUSIVE, &listener_handlers_[i], listener_tokens_[i]))
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
  bool want = !draining_ && accepting_ && !accept_paused_;
  if (want == listening_) return;
  listening_ = want;
  if (want) {
    arm_listeners();
    return;
  }
  for (std::size_t i = 0; i < listeners_.size(); ++i) {
    if (!loop_.remove(listener_tokens_[i]))
      fail("epoll_ctl(DEL) for the listening socket " + listeners_[i].socket->address.text);
    listener_tokens_[i] = EventLoop::kNoToken;
  }
}

void Worker::pause_accepting(const Listener& listener, int err) {
  log_accept_pause(listener, err);
  accept_paused_ = true;
  loop_.schedule(accept_resume_, kAcceptPauseMs);
  sync_listeners();
}

void Worker::accept_from(const Listener& listener) {
  // One connection per wake-up when several workers share the socket keeps
  // the load even; a lone worker drains the queue.
  int budget = settings_.processes > 1 ? 1 : 64;
  while (budget > 0 && !draining_ && accepting_) {
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

void Worker::on_accepted(std::uint32_t) { take_accepted(); }

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
  std::unique_ptr<Connection> owned;
  try {
    owned.reset(new Connection(static_cast<ConnectionHost&>(*this), fd, peer, listener));
  } catch (...) {
    spdlog::error("out of memory accepting a connection on {}", listener.socket->address.text);
    ::close(fd);
    return;
  }
  Connection* c = owned.get();
  if (!c->open_session()) return;  // logged; the destructor closes the socket
  connections_.emplace(c, std::move(owned));
  c->start(draining_);
}

void Worker::load_changed() {
  if (acceptor_) acceptor_->set_load(in_app_);
  update_accepting();
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

// ---- draining and signals ---------------------------------------------------------

void Worker::check_recycle() {
  if (draining_ || !recycle_after_ || slot_.requests.load(std::memory_order_relaxed) < recycle_after_) return;
  spdlog::info("worker {} served {} requests (--max-requests): recycling", settings_.id,
               slot_.requests.load(std::memory_order_relaxed));
  begin_drain(RecycleReason::max_requests);
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
  std::vector<Connection*> all;
  for (auto& [c, owned] : connections_) all.push_back(c);
  for (auto* c : all) c->drain();
  for (auto& r : runtimes_.runtimes)
    if (r.table->on_drain) r.table->on_drain(r.self);
  // Each asynchronous stream in progress hears it too (TRELLIS_EVENT_DRAIN).
  for (Stream* s = live_streams_; s; s = s->live_next) s->drain();
}

void Worker::on_signal(std::uint32_t) {
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
