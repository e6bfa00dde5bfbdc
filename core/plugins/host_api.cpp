// trellis_host_api: the C functions every plugin calls, each a thin step to
// the core object its handle names (CoreHost, Connection, Stream) or to the
// worker of this process (loop services).
#include <sys/epoll.h>

#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstring>
#include <new>

#include "loop/event_loop.hpp"
#include "plugins/core_host.hpp"
#include "process/scoreboard.hpp"
#include "worker/connection.hpp"
#include "worker/stream.hpp"
#include "worker/worker.hpp"

namespace trellis::core {

namespace {

std::string_view sv(trellis_str s) { return s.len ? std::string_view(s.ptr, s.len) : std::string_view(); }

// A plugin's timer: owned by the core from timer_start to its firing or
// timer_cancel.
struct PluginTimer {
  Timer timer;
  void (*fn)(void*) = nullptr;
  void* arg = nullptr;
};

// A plugin's descriptor watch.
struct PluginWatch final : EventLoop::Handler {
  void (*fn)(void*, std::uint32_t) = nullptr;
  void* arg = nullptr;
  EventLoop::Token token = EventLoop::kNoToken;
  void on_events(std::uint32_t events) override {
    std::uint32_t ready = 0;
    if (events & EPOLLIN) ready |= TRELLIS_WATCH_READ;
    if (events & EPOLLOUT) ready |= TRELLIS_WATCH_WRITE;
    if (events & EPOLLERR) ready |= TRELLIS_WATCH_ERROR;
    if (events & (EPOLLHUP | EPOLLRDHUP)) ready |= TRELLIS_WATCH_HANGUP;
    fn(arg, ready);
  }
};

std::uint32_t epoll_events(std::uint32_t watch) {
  std::uint32_t e = 0;
  if (watch & TRELLIS_WATCH_READ) e |= EPOLLIN | EPOLLRDHUP;
  if (watch & TRELLIS_WATCH_WRITE) e |= EPOLLOUT;
  return e;
}

Worker* worker_on_loop() {
  Worker* w = Worker::current();
  return w && w->event_loop().on_loop_thread() ? w : nullptr;
}

trellis_host_api make_api() {
  trellis_host_api a{};
  a.size = sizeof a;
  a.abi_minor = TRELLIS_ABI_MINOR;

  a.log = [](trellis_host* h, int32_t level, trellis_str m) { CoreHost::of(h)->log(level, sv(m)); };
  a.option_values = [](trellis_host* h, trellis_str name, trellis_str* out, size_t max) {
    return CoreHost::of(h)->option_values(sv(name), out, max);
  };
  a.shared_memory = [](trellis_host* h, size_t bytes) { return CoreHost::of(h)->shared_memory(bytes); };
  a.worker = [](trellis_host* h, trellis_worker_identity* out) { CoreHost::of(h)->worker(out); };
  a.runtime_available = [](trellis_host* h, trellis_str name) -> int {
    return CoreHost::of(h)->runtime_available(sv(name)) ? 1 : 0;
  };

  a.post = [](trellis_host*, void (*fn)(void*), void* arg) -> trellis_status {
    Worker* w = Worker::current();
    if (!w || !fn) return TRELLIS_CLOSED;
    return w->event_loop().post(fn, arg) ? TRELLIS_OK : TRELLIS_CLOSED;
  };
  a.timer_start = [](trellis_host*, uint64_t after_ms, void (*fn)(void*), void* arg) -> trellis_timer* {
    Worker* w = worker_on_loop();
    if (!w || !fn) return nullptr;
    auto* t = new (std::nothrow) PluginTimer();
    if (!t) return nullptr;
    t->fn = fn;
    t->arg = arg;
    t->timer.arg = t;
    t->timer.fn = [](void* self) {
      auto* pt = static_cast<PluginTimer*>(self);
      auto fn_ = pt->fn;
      void* arg_ = pt->arg;
      delete pt;  // the handle is invalid once it fired
      fn_(arg_);
    };
    w->event_loop().schedule(t->timer, static_cast<std::int64_t>(after_ms));
    return reinterpret_cast<trellis_timer*>(t);
  };
  a.timer_cancel = [](trellis_host*, trellis_timer* timer) {
    Worker* w = worker_on_loop();
    if (!w || !timer) return;
    auto* t = reinterpret_cast<PluginTimer*>(timer);
    w->event_loop().cancel(t->timer);
    delete t;
  };
  a.watch_fd = [](trellis_host*, int fd, uint32_t events, void (*fn)(void*, uint32_t), void* arg) -> trellis_watch* {
    Worker* w = worker_on_loop();
    if (!w || !fn) return nullptr;
    auto* pw = new (std::nothrow) PluginWatch();
    if (!pw) return nullptr;
    pw->fn = fn;
    pw->arg = arg;
    if (!w->event_loop().add(fd, epoll_events(events), pw, pw->token)) {
      delete pw;
      return nullptr;
    }
    return reinterpret_cast<trellis_watch*>(pw);
  };
  a.watch_modify = [](trellis_host*, trellis_watch* watch, uint32_t events) -> trellis_status {
    Worker* w = worker_on_loop();
    if (!w || !watch) return TRELLIS_INVALID_ARGUMENT;
    auto* pw = reinterpret_cast<PluginWatch*>(watch);
    return w->event_loop().modify(pw->token, epoll_events(events)) ? TRELLIS_OK : TRELLIS_IO_ERROR;
  };
  a.watch_close = [](trellis_host*, trellis_watch* watch) {
    Worker* w = worker_on_loop();
    if (!w || !watch) return;
    auto* pw = reinterpret_cast<PluginWatch*>(watch);
    w->event_loop().remove(pw->token);
    delete pw;
  };
  a.now_ms = [](trellis_host*) -> uint64_t { return static_cast<uint64_t>(monotonic_ms()); };
  a.on_loop_thread = [](trellis_host*) -> int { return worker_on_loop() ? 1 : 0; };
  a.loop_fd = [](trellis_host*) -> int {
    Worker* w = worker_on_loop();
    return w ? w->event_loop().fd() : -1;
  };
  a.loop_turn = [](trellis_host*) -> int64_t {
    Worker* w = worker_on_loop();
    return w ? w->embedded_turn() : TRELLIS_LOOP_DONE;
  };

  a.conn_write = [](trellis_conn* c, const trellis_chunk* chunks, size_t n) {
    return Connection::of(c)->write(chunks, n, false);
  };
  a.conn_write_last = [](trellis_conn* c, const trellis_chunk* chunks, size_t n) {
    return Connection::of(c)->write(chunks, n, true);
  };
  a.conn_queued = [](trellis_conn* c) -> size_t { return Connection::of(c)->queued(); };
  a.conn_pause_reading = [](trellis_conn* c, int paused) { Connection::of(c)->pause_reading(paused != 0); };
  a.conn_close = [](trellis_conn* c, uint32_t how) { Connection::of(c)->close(how); };
  a.conn_info = [](trellis_conn* c) -> const trellis_conn_info* { return &Connection::of(c)->info(); };
  a.conn_refused = [](trellis_conn*, int32_t status) {
    if (Worker* w = Worker::current()) w->count_refusal(status);
  };

  a.stream_open = [](trellis_conn* c, const trellis_request_head* head, const trellis_stream_sink* sink,
                     void* sink_self) -> trellis_stream* {
    Worker* w = Worker::current();
    if (!w || !head || !sink || head->size < offsetof(trellis_request_head, upgrade)) return nullptr;
    if (sink->size < sizeof(trellis_stream_sink) || !sink->on_start || !sink->on_data || !sink->on_finish ||
        !sink->on_abort) {
      spdlog::error("a protocol opened a stream with a sink that is too small or lacks on_start, on_data, "
                    "on_finish or on_abort; refused");
      return nullptr;
    }
    if (head->size < sizeof(trellis_request_head)) {
      // From a protocol built against an older minor: what it did not
      // know of reads as zero.
      trellis_request_head full{};
      std::memcpy(&full, head, head->size);
      full.size = sizeof full;
      return w->open_stream(*Connection::of(c), &full, sink, sink_self);
    }
    return w->open_stream(*Connection::of(c), head, sink, sink_self);
  };
  a.stream_body = [](trellis_stream* s, const char* d, size_t n) { return Stream::of(s)->body(d, n); };
  a.stream_body_end = [](trellis_stream* s, const trellis_field* t, size_t n) { return Stream::of(s)->body_end(t, n); };
  a.stream_message = [](trellis_stream* s, uint32_t flags, const char* d, size_t n) {
    return Stream::of(s)->message(flags, d, n);
  };
  a.stream_reset = [](trellis_stream* s, trellis_status why) { Stream::of(s)->reset(why); };
  a.stream_close = [](trellis_stream* s, const trellis_response_summary* summary) { Stream::of(s)->close(summary); };

  a.stream_head = [](trellis_stream* s) { return Stream::of(s)->head(); };
  a.stream_conn_info = [](trellis_stream* s) { return Stream::of(s)->conn_info(); };
  a.stream_read = [](trellis_stream* s, char* buf, size_t size, size_t* got) {
    return Stream::of(s)->read(buf, size, got);
  };
  a.stream_consume = [](trellis_stream* s, size_t bytes) { Stream::of(s)->consume(bytes); };
  a.stream_want_body = [](trellis_stream* s) { Stream::of(s)->want_body(); };
  a.stream_start = [](trellis_stream* s, const trellis_response_head* h) { return Stream::of(s)->start(h); };
  a.stream_write = [](trellis_stream* s, const trellis_chunk* c, size_t n, int last) {
    return Stream::of(s)->write(c, n, last != 0);
  };
  a.stream_wait_writable = [](trellis_stream* s) { return Stream::of(s)->wait_writable(); };
  a.stream_finish = [](trellis_stream* s, const trellis_field* t, size_t n) { return Stream::of(s)->finish(t, n); };
  a.stream_abort = [](trellis_stream* s) { Stream::of(s)->abort(); };
  a.stream_head_sent = [](trellis_stream* s) -> int { return Stream::of(s)->head_sent() ? 1 : 0; };
  a.stream_upgrade = [](trellis_stream* s) { return Stream::of(s)->upgrade(); };
  a.stream_send_message = [](trellis_stream* s, uint32_t flags, const trellis_chunk* c, size_t n) {
    return Stream::of(s)->send_message(flags, c, n);
  };
  a.stream_done = [](trellis_stream* s) { Stream::of(s)->done(); };
  a.stream_gone = [](trellis_stream* s) -> int { return Stream::of(s)->gone() ? 1 : 0; };
  return a;
}

}  // namespace

const trellis_host_api* core_host_api() noexcept {
  static const trellis_host_api api = make_api();
  return &api;
}

}  // namespace trellis::core
