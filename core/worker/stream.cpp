#include "worker/stream.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>

#include "process/scoreboard.hpp"  // monotonic_ms
#include "worker/connection.hpp"

namespace trellis::core {

namespace {

std::size_t byte_count(const trellis_chunk* chunks, std::size_t count) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < count; ++i)
    if (chunks[i].kind == TRELLIS_CHUNK_BYTES) n += chunks[i].len;
  return n;
}

void close_owned_fds(std::vector<trellis_chunk>& chunks) {
  for (auto& c : chunks)
    if (c.kind == TRELLIS_CHUNK_FILE && c.fd >= 0) {
      ::close(c.fd);
      c.fd = -1;
    }
}

// Deep copies of what a runtime passes, for a call queued to the loop. The
// copies' views point into `bytes`, reserved up front so appends never move
// it (and a vector keeps its buffer when moved).
void append(std::vector<char>& bytes, const char* p, std::size_t n) {
  if (n) bytes.insert(bytes.end(), p, p + n);
}

void copy_fields(const trellis_field* in, std::size_t count, std::vector<char>& bytes,
                 std::vector<trellis_field>& out) {
  std::size_t need = 0;
  for (std::size_t i = 0; i < count; ++i) need += in[i].name.len + in[i].value.len;
  bytes.reserve(bytes.size() + need);
  std::size_t base = bytes.size();
  for (std::size_t i = 0; i < count; ++i) {
    append(bytes, in[i].name.ptr, in[i].name.len);
    append(bytes, in[i].value.ptr, in[i].value.len);
  }
  out.resize(count);
  const char* p = bytes.data() + base;
  for (std::size_t i = 0; i < count; ++i) {
    out[i].name = {p, in[i].name.len};
    p += in[i].name.len;
    out[i].value = {p, in[i].value.len};
    p += in[i].value.len;
  }
}

bool copy_chunks(const trellis_chunk* in, std::size_t count, std::vector<char>& bytes,
                 std::vector<trellis_chunk>& out) {
  bytes.reserve(byte_count(in, count));
  out.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    out[i] = in[i];
    if (in[i].kind == TRELLIS_CHUNK_FILE) {
      // The runtime may close its descriptor once the call returns.
      out[i].fd = ::fcntl(in[i].fd, F_DUPFD_CLOEXEC, 0);
      if (out[i].fd < 0) {
        out.resize(i);
        close_owned_fds(out);
        return false;
      }
    } else {
      out[i].fd = -1;
      out[i].data = bytes.data() + bytes.size();
      append(bytes, in[i].data, in[i].len);
    }
  }
  return true;
}

}  // namespace

Stream::Stream(StreamHost& host, Connection& conn, const RuntimeRef& runtime, const trellis_protocol_table* protocol,
               void* protocol_self, const trellis_stream_sink* sink, void* sink_self)
    : host_(host),
      conn_(&conn),
      conn_queued_(conn.queued_gauge()),
      runtime_(runtime),
      protocol_(protocol),
      protocol_self_(protocol_self),
      sink_(sink),
      sink_self_(sink_self),
      body_(host.body_budget()) {}

Stream::~Stream() {
  for (auto& op : queued_) close_owned_fds(op.chunks);
}

namespace {

std::size_t head_bytes(const trellis_request_head& h, const trellis_conn_info& c) noexcept {
  std::size_t need = (h.header_count + h.variable_count) * sizeof(trellis_field) + h.storage_len;
  for (trellis_str str : {h.method, h.uri, h.path, h.query, h.protocol, h.scheme, h.server_name, h.server_port,
                          h.remote_addr, h.remote_port, h.runtime, h.upgrade, c.remote_addr, c.remote_port})
    need += str.len;
  for (std::size_t i = 0; i < h.header_count; ++i) need += h.headers[i].name.len + h.headers[i].value.len;
  for (std::size_t i = 0; i < h.variable_count; ++i) need += h.variables[i].name.len + h.variables[i].value.len;
  return need;
}

}  // namespace

bool Stream::copy_head(const trellis_request_head& h, const trellis_conn_info& c) noexcept {
  // One pass into the inline block; only a head too big for it is measured
  // and copied again, to the heap.
  if (copy_head_into(inline_head_, kInlineHead, h, c)) return true;
  const std::size_t need = head_bytes(h, c);
  heap_head_.reset(new (std::nothrow) char[need]);
  return heap_head_ && copy_head_into(heap_head_.get(), need, h, c);
}

bool Stream::copy_head_into(char* block, std::size_t size, const trellis_request_head& h,
                            const trellis_conn_info& c) noexcept {
  const std::size_t count = h.header_count + h.variable_count;
  if (count > size / sizeof(trellis_field)) return false;
  auto* fields = reinterpret_cast<trellis_field*>(block);
  char* cursor = block + count * sizeof(trellis_field);
  char* const end = block + size;
  // The protocol's storage in one piece: strings inside it become offsets.
  const auto from = reinterpret_cast<std::uintptr_t>(h.storage);
  const std::size_t span = h.storage ? h.storage_len : 0;
  if (span > static_cast<std::size_t>(end - cursor)) return false;
  char* const copied = cursor;
  if (span) std::memcpy(copied, h.storage, span);
  cursor += span;
  // A string inside the copied storage becomes an offset into it; any
  // other is copied after it. (A plain struct, not a capturing lambda: the
  // compiler keeps this inline, and it runs ~30 times per request.)
  struct Keeper {
    std::uintptr_t from;
    std::size_t span;
    char* copied;
    char* cursor;
    char* end;
    bool fits = true;
    [[gnu::always_inline]] trellis_str operator()(trellis_str s) noexcept {
      const std::uintptr_t at = reinterpret_cast<std::uintptr_t>(s.ptr) - from;  // wraps when below
      if (at < span && s.len <= span - at) return trellis_str{copied + at, s.len};
      if (s.len > static_cast<std::size_t>(end - cursor)) {
        fits = false;
        return trellis_str{nullptr, 0};
      }
      trellis_str out{cursor, s.len};
      if (s.len) std::memcpy(cursor, s.ptr, s.len);
      cursor += s.len;
      return out;
    }
  } keep{from, span, copied, cursor, end};
  head_.size = sizeof head_;
  head_.flags = h.flags;
  head_.method = keep(h.method);
  head_.uri = keep(h.uri);
  head_.path = keep(h.path);
  head_.query = keep(h.query);
  head_.protocol = keep(h.protocol);
  head_.scheme = keep(h.scheme);
  head_.server_name = keep(h.server_name);
  head_.server_port = keep(h.server_port);
  head_.remote_addr = keep(h.remote_addr);
  head_.remote_port = keep(h.remote_port);
  head_.runtime = keep(h.runtime);
  head_.upgrade = keep(h.upgrade);
  head_.content_length = h.content_length;
  for (std::size_t i = 0; i < h.header_count; ++i) fields[i] = {keep(h.headers[i].name), keep(h.headers[i].value)};
  for (std::size_t i = 0; i < h.variable_count; ++i)
    fields[h.header_count + i] = {keep(h.variables[i].name), keep(h.variables[i].value)};
  head_.headers = fields;
  head_.header_count = h.header_count;
  head_.variables = fields + h.header_count;
  head_.variable_count = h.variable_count;
  head_.storage = nullptr;  // the runtime has no use for it
  head_.storage_len = 0;
  info_.size = sizeof info_;
  info_.flags = c.flags;
  info_.remote_addr = keep(c.remote_addr);
  info_.remote_port = keep(c.remote_port);
  // The listening socket's own strings: they live as long as the worker,
  // which outlives its streams (Connection::Connection).
  info_.local_addr = c.local_addr;
  info_.local_port = c.local_port;
  info_.socket_name = c.socket_name;
  return keep.fits;
}

namespace {
// Freed streams' memory, for the next ones (loop thread only).
constexpr std::size_t kPooledStreams = 256;
std::vector<void*> g_stream_pool;
}  // namespace

void* Stream::operator new(std::size_t size) {
  if (size == sizeof(Stream) && !g_stream_pool.empty()) {
    void* p = g_stream_pool.back();
    g_stream_pool.pop_back();
    return p;
  }
  return ::operator new(size);
}

void Stream::operator delete(void* p) noexcept {
  if (g_stream_pool.size() < kPooledStreams) {
    try {
      g_stream_pool.push_back(p);
      return;
    } catch (...) {
    }
  }
  ::operator delete(p);
}

// ---- the protocol's side --------------------------------------------------

trellis_status Stream::body(const char* data, std::size_t len) noexcept {
  if (!protocol_open_) return TRELLIS_CLOSED;
  if (runtime_done_.load(std::memory_order_acquire)) return TRELLIS_CLOSED;
  if (runtime_.blocking()) {
    // Until it is dispatched only the loop knows the stream: no lock, and
    // nobody to wake.
    std::unique_lock<std::mutex> lock(mutex_, std::defer_lock);
    if (dispatched) lock.lock();
    if (!body_.append(data, len)) {
      spdlog::error("cannot keep a request body: {}", std::strerror(errno));
      return TRELLIS_IO_ERROR;
    }
    if (dispatched) changed_.notify_all();
    return TRELLIS_OK;
  }
  if (len == 0) return TRELLIS_OK;
  try {
    // The event points into the kept copy: list elements never move, so it
    // stays valid until consumed.
    unconsumed_.emplace_back(data, len);
    unconsumed_bytes_ += len;
    QueuedEvent q;
    q.event.type = TRELLIS_EVENT_BODY;
    q.event.data = unconsumed_.back().data();
    q.event.len = len;
    host_.queue_event(*this, std::move(q));
  } catch (...) {
    return TRELLIS_INTERNAL_ERROR;
  }
  if (unconsumed_bytes_ > kBodyWindow) {
    reading_paused_ = true;
    return TRELLIS_AGAIN;
  }
  return TRELLIS_OK;
}

trellis_status Stream::body_end(const trellis_field* trailers, std::size_t count) noexcept {
  if (!protocol_open_) return TRELLIS_CLOSED;
  if (dispatched) {
    std::lock_guard<std::mutex> lock(mutex_);
    body_ended_ = true;
    changed_.notify_all();
  } else {
    body_ended_ = true;  // only the loop knows the stream yet
  }
  if (runtime_.blocking()) {
    if (waiting_for_body) {
      waiting_for_body = false;
      host_.queue_dispatch(*this);
    }
    return TRELLIS_OK;
  }
  try {
    QueuedEvent q;
    q.event.type = TRELLIS_EVENT_BODY_END;
    copy_fields(trailers, count, q.field_text, q.fields);
    host_.queue_event(*this, std::move(q));
  } catch (...) {
    return TRELLIS_INTERNAL_ERROR;
  }
  return TRELLIS_OK;
}

trellis_status Stream::message(std::uint32_t flags, const char* data, std::size_t len) noexcept {
  if (!protocol_open_) return TRELLIS_CLOSED;
  if (runtime_.blocking() || !upgraded_.load()) return TRELLIS_UNSUPPORTED;
  try {
    QueuedEvent q;
    q.event.type = TRELLIS_EVENT_MESSAGE;
    q.event.message_flags = flags;
    q.data_owned = true;
    q.owned.assign(data, len);
    host_.queue_event(*this, std::move(q));
  } catch (...) {
    return TRELLIS_INTERNAL_ERROR;
  }
  return TRELLIS_OK;
}

void Stream::end_protocol_side() noexcept {
  if (!protocol_open_) return;
  protocol_open_ = false;
  // No summary from the protocol (the connection died between the last
  // body bytes and the runtime's finish, or the stream was cut short): the
  // request log and the stats still get the status the runtime answered and
  // the body bytes handed to the protocol, as 0.1 logged them.
  if (summary_.status == 0 && handed_status_ != 0) {
    summary_.status = handed_status_;
    summary_.body_bytes = handed_body_bytes_;
  }
  sink_ = nullptr;
  if (conn_) conn_->remove_stream(this);
  release();
}

void Stream::reset(trellis_status why) noexcept {
  if (!protocol_open_) return;
  gone_.store(true, std::memory_order_release);
  wake_waiters();
  if (!runtime_.blocking() && dispatched && !runtime_done_.load() && !disconnect_sent_) {
    disconnect_sent_ = true;
    QueuedEvent q;
    q.event.type = TRELLIS_EVENT_DISCONNECT;
    q.event.error = why;
    try {
      host_.queue_event(*this, std::move(q));
    } catch (...) {
    }
  }
  // A blocking runtime that was still to get the request (its body was
  // incomplete) never will: the runtime's side ends here.
  if (waiting_for_body) {
    waiting_for_body = false;
    runtime_done_.store(true, std::memory_order_release);
    release();
  }
  end_protocol_side();
}

void Stream::close(const trellis_response_summary* s) noexcept {
  if (!protocol_open_) return;
  if (s) {
    summary_.status = s->status;
    summary_.body_bytes = s->body_bytes;
    summary_.wire_bytes = s->wire_bytes;
  }
  // Anything the runtime still sends has nowhere to go; a writer waiting
  // for the output to drain goes on (and finds the stream closed).
  wake_waiters();
  end_protocol_side();
}

void Stream::connection_gone() noexcept {
  conn_ = nullptr;
  if (protocol_open_) reset(TRELLIS_CLOSED);
}

// ---- the runtime's side ----------------------------------------------------

trellis_status Stream::read(char* buf, std::size_t size, std::size_t* got) noexcept {
  *got = 0;
  if (!runtime_.blocking()) return TRELLIS_UNSUPPORTED;
  if (!body_wanted_.load(std::memory_order_acquire)) want_body();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(host_.socket_timeout_ms());
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    if (body_.unread() > 0) {
      if (!body_.read(buf, size, *got)) return TRELLIS_IO_ERROR;
      return TRELLIS_OK;
    }
    if (body_ended_) return TRELLIS_OK;
    if (gone_.load(std::memory_order_acquire)) return TRELLIS_CLOSED;
    if (loop_thread()) {
      // --threads 1: nobody else reads the socket while we wait here.
      lock.unlock();
      int left = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
      if (left <= 0 || !conn_) return conn_ ? TRELLIS_TIMED_OUT : TRELLIS_CLOSED;
      if (!conn_->pump_read(left) && !body_ended_ && body_.unread() == 0)
        return gone_.load() ? TRELLIS_CLOSED : TRELLIS_TIMED_OUT;
      lock.lock();
      continue;
    }
    if (changed_.wait_until(lock, deadline) == std::cv_status::timeout && body_.unread() == 0 && !body_ended_)
      return gone_.load() ? TRELLIS_CLOSED : TRELLIS_TIMED_OUT;
  }
}

void Stream::consume(std::size_t bytes) noexcept {
  if (runtime_.blocking() || !loop_thread()) return;
  if (!body_wanted_.load()) do_want_body();
  while (bytes > 0 && !unconsumed_.empty()) {
    std::size_t left = unconsumed_.front().size() - consumed_front_;
    std::size_t n = bytes < left ? bytes : left;
    consumed_front_ += n;
    bytes -= n;
    unconsumed_bytes_ -= n;
    if (consumed_front_ == unconsumed_.front().size()) {
      unconsumed_.pop_front();
      consumed_front_ = 0;
    }
  }
  if (reading_paused_ && unconsumed_bytes_ <= kBodyWindow / 2) {
    reading_paused_ = false;
    if (sink_ && sink_->on_body_wanted) sink_->on_body_wanted(sink_self_);
  }
}

void Stream::want_body() noexcept {
  if (body_wanted_.exchange(true)) return;
  if (loop_thread()) {
    apply_all();
    if (sink_ && sink_->on_body_wanted) sink_->on_body_wanted(sink_self_);
    return;
  }
  Op op{OpKind::want_body};
  enqueue(std::move(op));
}

void Stream::do_want_body() noexcept {
  body_wanted_.store(true);
  if (sink_ && sink_->on_body_wanted) sink_->on_body_wanted(sink_self_);
}

trellis_status Stream::start(const trellis_response_head* head) noexcept {
  if (gone_.load(std::memory_order_acquire) || finished_.load() || aborted_.load()) return TRELLIS_CLOSED;
  if (head_sent_.load(std::memory_order_acquire)) return TRELLIS_UNSUPPORTED;
  // Checked here, synchronously, so the runtime can answer 500 instead.
  if (protocol_ && protocol_->check_head) {
    const char* reason = nullptr;
    trellis_status checked = protocol_->check_head(protocol_self_, head, &reason);
    if (checked != TRELLIS_OK) {
      spdlog::error("{} refused the response the application gave: {}", protocol_->name,
                    reason ? reason : "no reason given");
      return checked;
    }
  }
  head_recorded_.store(true, std::memory_order_release);
  if (loop_thread()) {
    apply_all();
    return do_start(head);
  }
  Op op{OpKind::start};
  try {
    std::size_t need = head->status.len;
    for (std::size_t i = 0; i < head->header_count; ++i) need += head->headers[i].name.len + head->headers[i].value.len;
    op.bytes.reserve(need);
    append(op.bytes, head->status.ptr, head->status.len);
    copy_fields(head->headers, head->header_count, op.bytes, op.fields);
  } catch (...) {
    return TRELLIS_INTERNAL_ERROR;
  }
  return enqueue(std::move(op)) ? TRELLIS_OK : TRELLIS_INTERNAL_ERROR;
}

trellis_status Stream::do_start(const trellis_response_head* head) noexcept {
  if (!sink_) return TRELLIS_CLOSED;
  trellis_status st = sink_->on_start(sink_self_, head);
  if (st == TRELLIS_OK) {
    // The status line starts with its three digits (checked by check_head).
    int code = 0;
    for (std::size_t i = 0; i < 3 && i < head->status.len; ++i) {
      char c = head->status.ptr[i];
      if (c < '0' || c > '9') break;
      code = code * 10 + (c - '0');
    }
    handed_status_ = code;
  }
  return st;
}

trellis_status Stream::write(const trellis_chunk* chunks, std::size_t count, bool last) noexcept {
  if (gone_.load(std::memory_order_acquire) || finished_.load() || aborted_.load()) return TRELLIS_CLOSED;
  if (!head_recorded_.load(std::memory_order_acquire)) return TRELLIS_INVALID_ARGUMENT;
  head_sent_.store(true, std::memory_order_release);
  if (loop_thread()) {
    apply_all();
    trellis_status st = do_write(chunks, count, last);
    if (st != TRELLIS_OK) return st;
  } else {
    Op op{OpKind::write};
    op.last = last;
    trellis_status st = enqueue_output(std::move(op), chunks, count);
    if (st != TRELLIS_OK) return st;
  }
  return output_accepted();
}

trellis_status Stream::enqueue_output(Op&& op, const trellis_chunk* chunks, std::size_t count) noexcept {
  try {
    if (!copy_chunks(chunks, count, op.bytes, op.chunks)) return TRELLIS_IO_ERROR;
  } catch (...) {
    return TRELLIS_INTERNAL_ERROR;
  }
  op.counted = op.bytes.size();
  pending_out_.fetch_add(op.counted, std::memory_order_relaxed);
  return enqueue(std::move(op)) ? TRELLIS_OK : TRELLIS_INTERNAL_ERROR;
}

trellis_status Stream::output_accepted() noexcept {
  if (!over_high_water()) return TRELLIS_OK;
  std::lock_guard<std::mutex> lock(mutex_);
  writable_wanted_ = true;  // WRITABLE (or wait_writable) once it drained
  return TRELLIS_AGAIN;
}

trellis_status Stream::do_write(const trellis_chunk* chunks, std::size_t count, bool last) noexcept {
  if (!sink_) return TRELLIS_CLOSED;
  trellis_status st = sink_->on_data(sink_self_, chunks, count, last ? 1 : 0);
  if (st == TRELLIS_OK)
    for (std::size_t i = 0; i < count; ++i) handed_body_bytes_ += chunks[i].len;
  return st;
}

std::size_t Stream::unsent() const noexcept {
  return pending_out_.load(std::memory_order_relaxed) + conn_queued_->load(std::memory_order_relaxed);
}

bool Stream::over_high_water() const noexcept {
  if (unsent() > host_.high_water()) return true;
  if (!host_.output_over_budget()) return false;
  // Over the worker's budget: ask to be woken when it has room, then look
  // again (the last output may have drained in between).
  host_.output_budget_blocked();
  return host_.output_over_budget();
}

trellis_status Stream::wait_writable() noexcept {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(host_.socket_timeout_ms());
  auto done_waiting = [this] {
    return gone_.load() || !protocol_open_ ||
           (unsent() <= host_.low_water() && !host_.output_over_budget());
  };
  if (loop_thread()) {
    apply_all();
    while (!done_waiting()) {
      int left = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
      if (left <= 0) return TRELLIS_TIMED_OUT;
      if (!conn_) return TRELLIS_CLOSED;
      if (!conn_->flush_blocking(left)) {
        if (gone_.load() || !conn_) return TRELLIS_CLOSED;
        // Over the worker's budget with our own queue empty: others must
        // drain, which needs the loop this thread is; go on.
        if (conn_queued_->load() == 0) return TRELLIS_OK;
      }
    }
    return gone_.load() ? TRELLIS_CLOSED : TRELLIS_OK;
  }
  std::unique_lock<std::mutex> lock(mutex_);
  waiting_writer_ = true;
  bool ok = changed_.wait_until(lock, deadline, done_waiting);
  waiting_writer_ = false;
  if (gone_.load()) return TRELLIS_CLOSED;
  return ok ? TRELLIS_OK : TRELLIS_TIMED_OUT;
}

trellis_status Stream::finish(const trellis_field* trailers, std::size_t count) noexcept {
  if (gone_.load(std::memory_order_acquire) || aborted_.load()) return TRELLIS_CLOSED;
  // Refused before it counts as finished: a runtime told INVALID_ARGUMENT
  // may still start and finish, and one that never does gets the 500 of
  // an unanswered stream (do_done).
  if (!head_recorded_.load(std::memory_order_acquire)) return TRELLIS_INVALID_ARGUMENT;
  if (finished_.exchange(true)) return TRELLIS_UNSUPPORTED;
  head_sent_.store(true, std::memory_order_release);
  if (loop_thread()) {
    apply_all();
    return do_finish(trailers, count);
  }
  Op op{OpKind::finish};
  try {
    copy_fields(trailers, count, op.bytes, op.fields);
  } catch (...) {
    return TRELLIS_INTERNAL_ERROR;
  }
  return enqueue(std::move(op)) ? TRELLIS_OK : TRELLIS_INTERNAL_ERROR;
}

trellis_status Stream::do_finish(const trellis_field* trailers, std::size_t count) noexcept {
  if (!sink_) return TRELLIS_CLOSED;
  trellis_status st = sink_->on_finish(sink_self_, trailers, count);
  // The exchange is over for the protocol: its next phase (idle, or the
  // next pipelined request) sets the connection's deadline.
  if (conn_) conn_->refresh_deadline(true);
  return st;
}

void Stream::abort() noexcept {
  if (aborted_.exchange(true)) return;
  if (loop_thread()) {
    apply_all();
    do_abort();
    return;
  }
  enqueue(Op{OpKind::abort});
}

void Stream::do_abort() noexcept {
  if (sink_) sink_->on_abort(sink_self_);
  if (conn_) conn_->refresh_deadline(true);
}

trellis_status Stream::upgrade() noexcept {
  if (gone_.load()) return TRELLIS_CLOSED;
  if (runtime_.blocking()) return TRELLIS_UNSUPPORTED;
  if (!loop_thread()) return enqueue(Op{OpKind::upgrade}) ? TRELLIS_OK : TRELLIS_INTERNAL_ERROR;
  apply_all();
  return do_upgrade();
}

trellis_status Stream::do_upgrade() noexcept {
  if (!sink_ || !sink_->on_upgrade) return TRELLIS_UNSUPPORTED;
  // Upgraded before the protocol hears of it: bytes the client sent after
  // its request are delivered (as messages) from inside on_upgrade.
  upgraded_.store(true);
  trellis_status st = sink_->on_upgrade(sink_self_);
  if (st != TRELLIS_OK) upgraded_.store(false);
  return st;
}

trellis_status Stream::send_message(std::uint32_t flags, const trellis_chunk* chunks, std::size_t count) noexcept {
  if (gone_.load()) return TRELLIS_CLOSED;
  if (loop_thread()) {
    apply_all();
    trellis_status st = do_message(flags, chunks, count);
    if (st != TRELLIS_OK) return st;
  } else {
    Op op{OpKind::message};
    op.flags = flags;
    trellis_status st = enqueue_output(std::move(op), chunks, count);
    if (st != TRELLIS_OK) return st;
  }
  return output_accepted();
}

trellis_status Stream::do_message(std::uint32_t flags, const trellis_chunk* chunks, std::size_t count) noexcept {
  if (!sink_ || !sink_->on_message || !upgraded_.load()) return sink_ ? TRELLIS_UNSUPPORTED : TRELLIS_CLOSED;
  return sink_->on_message(sink_self_, flags, chunks, count);
}

void Stream::done() noexcept {
  if (runtime_done_.exchange(true)) return;
  if (loop_thread()) {
    apply_all();
    do_done();
    return;
  }
  enqueue(Op{OpKind::done});
}

void Stream::runtime_returned() noexcept {
  // Calls the runtime queued before it returned come first.
  apply_all();
  if (!runtime_done_.exchange(true)) do_done();
}

void Stream::do_done() noexcept {
  if (runtime_us == 0 && started_us) runtime_us = monotonic_us() - started_us;
  if (!finished_.load() && !aborted_.load()) {
    if (!head_sent_.load() && sink_ && !gone_.load()) {
      // Never answered: the client gets a 500, not a silence.
      // (The same short text the protocols give for their own 500s.)
      static constexpr std::string_view kBody = "Internal Server Error\n";
      static const trellis_field kFields[] = {{{"Content-Type", 12}, {"text/plain; charset=utf-8", 25}},
                                              {{"Content-Length", 14}, {"22", 2}}};
      trellis_response_head h{sizeof h, 0, {"500 Internal Server Error", 25}, kFields, 2};
      trellis_chunk body{};
      body.kind = TRELLIS_CHUNK_BYTES;
      body.data = kBody.data();
      body.len = kBody.size();
      finished_.store(true);
      head_sent_.store(true);
      if (do_start(&h) != TRELLIS_OK || do_write(&body, 1, true) != TRELLIS_OK || do_finish(nullptr, 0) != TRELLIS_OK)
        do_abort();
    } else if (!aborted_.exchange(true)) {
      // Started but unfinished: it must not look complete.
      do_abort();
    }
  }
  release();
}

// ---- the queue of calls from other threads -------------------------------

bool Stream::enqueue(Op&& op) noexcept {
  bool post = false;
  try {
    std::lock_guard<std::mutex> lock(mutex_);
    queued_.push_back(std::move(op));
    has_queued_.store(true, std::memory_order_release);
    if (!apply_posted_) {
      apply_posted_ = true;
      post = true;
    }
  } catch (...) {
    close_owned_fds(op.chunks);
    return false;
  }
  if (post) {
    hold();  // the posted call keeps the stream alive until it ran
    // False only once the loop is gone (the worker exits): nothing would
    // send the output then, and the stream is never freed; harmless.
    (void)host_.post_apply(*this);
  }
  return true;
}

void Stream::apply_queued(Stream& s) noexcept {
  {
    std::lock_guard<std::mutex> lock(s.mutex_);
    s.apply_posted_ = false;
  }
  s.apply_all();
  {
    // Applied writes may have gone out at once: a writer waiting for the
    // output to drain re-checks.
    std::lock_guard<std::mutex> lock(s.mutex_);
    if (s.waiting_writer_) s.changed_.notify_all();
  }
  s.release();
}

void Stream::apply_all() noexcept {
  // Called before every runtime call on the loop thread: most of the time
  // nothing is queued, and that costs no lock.
  while (has_queued_.load(std::memory_order_acquire)) {
    std::vector<Op> batch;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      batch.swap(queued_);
      has_queued_.store(false, std::memory_order_relaxed);
    }
    for (auto& op : batch) apply(op);
  }
}

void Stream::apply(Op& op) noexcept {
  switch (op.kind) {
    case OpKind::start: {
      trellis_response_head h{};
      h.size = sizeof h;
      std::size_t status_len = op.bytes.size();
      for (auto& f : op.fields) status_len -= f.name.len + f.value.len;
      h.status = {op.bytes.data(), status_len};
      h.headers = op.fields.data();
      h.header_count = op.fields.size();
      do_start(&h);
      break;
    }
    case OpKind::write:
      do_write(op.chunks.data(), op.chunks.size(), op.last);
      pending_out_.fetch_sub(op.counted, std::memory_order_relaxed);
      break;
    case OpKind::finish:
      do_finish(op.fields.data(), op.fields.size());
      break;
    case OpKind::abort:
      do_abort();
      break;
    case OpKind::upgrade:
      // The runtime heard OK already: a refusal must still show.
      if (do_upgrade() != TRELLIS_OK) {
        spdlog::warn("the protocol refused to switch a stream to messages; the connection is cut");
        if (!aborted_.exchange(true)) do_abort();
      }
      break;
    case OpKind::message:
      do_message(op.flags, op.chunks.data(), op.chunks.size());
      pending_out_.fetch_sub(op.counted, std::memory_order_relaxed);
      break;
    case OpKind::want_body:
      do_want_body();
      break;
    case OpKind::done:
      do_done();
      break;
  }
  close_owned_fds(op.chunks);  // the connection duplicated what it keeps
}

// ---- the loop's notifications -----------------------------------------------

void Stream::wake_waiters() noexcept {
  // Only a runtime that has the stream and is not done with it can wait.
  if (!dispatched || runtime_done_.load(std::memory_order_acquire)) return;
  std::lock_guard<std::mutex> lock(mutex_);
  changed_.notify_all();
}

void Stream::output_drained() noexcept {
  bool notify_runtime = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (waiting_writer_) changed_.notify_all();
    if (writable_wanted_ && unsent() <= host_.low_water() && !host_.output_over_budget()) {
      writable_wanted_ = false;
      notify_runtime = !runtime_.blocking();
    }
  }
  if (notify_runtime && dispatched && !runtime_done_.load()) {
    QueuedEvent q;
    q.event.type = TRELLIS_EVENT_WRITABLE;
    try {
      host_.queue_event(*this, std::move(q));
    } catch (...) {
    }
  }
}

void Stream::drain() noexcept {
  // After a DISCONNECT there is nothing left to drain.
  if (runtime_.blocking() || !dispatched || runtime_done_.load() || gone_.load()) return;
  QueuedEvent q;
  q.event.type = TRELLIS_EVENT_DRAIN;
  try {
    host_.queue_event(*this, std::move(q));
  } catch (...) {
  }
}

void Stream::release() noexcept {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) host_.stream_ended(*this);
}

}  // namespace trellis::core
