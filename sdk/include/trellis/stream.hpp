// One request and its response, from the runtime's side: a handle over the
// core's stream (abi.h, "streams, the runtime's side"). Copying is free;
// the handle is valid until done() (a blocking runtime: until on_request
// returns). Which thread may call what is said at each method.
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "trellis/abi.h"
#include "trellis/request.hpp"
#include "trellis/status.hpp"
#include "trellis/strings.hpp"

namespace trellis::sdk {

namespace detail {
// C++ fields as the C array the boundary wants; no allocation for up to 32.
class CFields {
 public:
  explicit CFields(std::span<const Field> fields) noexcept {
    count_ = fields.size();
    if (count_ > kInline) {
      try {
        heap_.resize(count_);
      } catch (...) {
        count_ = 0;
        failed_ = true;
        return;
      }
    }
    trellis_field* out = count_ > kInline ? heap_.data() : inline_;
    for (std::size_t i = 0; i < count_; ++i) out[i] = to_c(fields[i]);
  }
  const trellis_field* data() const noexcept { return count_ > kInline ? heap_.data() : inline_; }
  std::size_t size() const noexcept { return count_; }
  bool failed() const noexcept { return failed_; }

 private:
  static constexpr std::size_t kInline = 32;
  trellis_field inline_[kInline];
  std::vector<trellis_field> heap_;
  std::size_t count_ = 0;
  bool failed_ = false;
};
}  // namespace detail

inline trellis_chunk bytes_chunk(std::string_view data) noexcept {
  trellis_chunk c{};
  c.kind = TRELLIS_CHUNK_BYTES;
  c.data = data.data();
  c.len = data.size();
  c.fd = -1;
  return c;
}
inline trellis_chunk file_chunk(int fd, std::int64_t offset, std::size_t len) noexcept {
  trellis_chunk c{};
  c.kind = TRELLIS_CHUNK_FILE;
  c.fd = fd;
  c.offset = offset;
  c.len = len;
  return c;
}

// What an asynchronous runtime is told (Runtime::on_event, loop thread).
struct Event {
  enum class Type : std::uint32_t {
    body = TRELLIS_EVENT_BODY,              // `data`: give it back with consume()
    body_end = TRELLIS_EVENT_BODY_END,      // `trailers` may be set
    writable = TRELLIS_EVENT_WRITABLE,      // output fell below the low-water mark
    disconnect = TRELLIS_EVENT_DISCONNECT,  // the peer is gone; the last event
    message = TRELLIS_EVENT_MESSAGE,        // after an upgrade
    drain = TRELLIS_EVENT_DRAIN,            // the worker stops soon
  };
  Type type = Type::body;
  std::string_view data;
  FieldList trailers;
  std::uint32_t message_flags = 0;  // TRELLIS_MESSAGE_*
  Status error = Status::ok;

  static Event from(const trellis_event* e) noexcept {
    Event ev;
    ev.type = static_cast<Type>(e->type);
    if (e->data) ev.data = std::string_view(e->data, e->len);
    ev.trailers = FieldList(e->trailers, e->trailer_count);
    ev.message_flags = e->message_flags;
    ev.error = from_c(e->error);
    return ev;
  }
};

class Stream {
 public:
  Stream() noexcept = default;
  Stream(const trellis_host_api* api, trellis_stream* stream) noexcept : api_(api), stream_(stream) {}

  // Any thread. The request (views valid until done()).
  Request request() const noexcept {
    return Request::from(api_->stream_head(stream_), api_->stream_conn_info(stream_));
  }
  ConnectionInfo connection() const noexcept { return ConnectionInfo::from(api_->stream_conn_info(stream_)); }

  // Blocking runtimes, serving thread: up to `size` body bytes; got == 0
  // with ok at the end. Waits (bounded by --socket-timeout) for bytes.
  Status read(char* buf, std::size_t size, std::size_t& got) const noexcept {
    return from_c(api_->stream_read(stream_, buf, size, &got));
  }
  // Asynchronous runtimes, loop thread: delivered body bytes were used.
  void consume(std::size_t bytes) const noexcept { api_->stream_consume(stream_, bytes); }
  // The body is wanted now (HTTP's 100 Continue). read() implies it.
  void want_body() const noexcept { api_->stream_want_body(stream_); }

  // Any thread. Status line and headers, sent with the first write or
  // finish; replaceable until then. invalid_argument: refused (answer 500).
  Status start(std::string_view status, std::span<const Field> headers) const noexcept {
    detail::CFields fields(headers);
    if (fields.failed()) return Status::internal_error;
    trellis_response_head h{};
    h.size = sizeof h;
    h.status = to_c(status);
    h.headers = fields.data();
    h.header_count = fields.size();
    return from_c(api_->stream_start(stream_, &h));
  }
  // Any thread. ok, again (accepted; over the high-water mark), closed.
  Status write(std::span<const trellis_chunk> chunks, bool last = false) const noexcept {
    return from_c(api_->stream_write(stream_, chunks.data(), chunks.size(), last ? 1 : 0));
  }
  Status write(std::string_view data, bool last = false) const noexcept {
    trellis_chunk c = bytes_chunk(data);
    return from_c(api_->stream_write(stream_, &c, 1, last ? 1 : 0));
  }
  // `count` bytes of `fd` from `offset`; count < 0: to the end of the file.
  Status write_file(int fd, std::int64_t offset, std::int64_t count, bool last = false) const noexcept {
    if (count < 0) {
      struct stat st {};
      if (fstat(fd, &st) != 0) return Status::io_error;
      count = st.st_size > offset ? st.st_size - offset : 0;
    }
    trellis_chunk c = file_chunk(fd, offset, static_cast<std::size_t>(count));
    return from_c(api_->stream_write(stream_, &c, 1, last ? 1 : 0));
  }
  // Blocking runtimes: waits until the unsent output is below the low-water
  // mark (bounded by --socket-timeout).
  Status wait_writable() const noexcept { return from_c(api_->stream_wait_writable(stream_)); }
  // Blocking runtimes: write(), then wait while over the high-water mark.
  Status write_blocking(std::string_view data, bool last = false) const noexcept {
    Status s = write(data, last);
    return s == Status::again ? wait_writable() : s;
  }
  Status write_file_blocking(int fd, std::int64_t offset, std::int64_t count, bool last = false) const noexcept {
    Status s = write_file(fd, offset, count, last);
    return s == Status::again ? wait_writable() : s;
  }
  // Any thread. Completes the response.
  Status finish(std::span<const Field> trailers = {}) const noexcept {
    detail::CFields fields(trailers);
    if (fields.failed()) return Status::internal_error;
    return from_c(api_->stream_finish(stream_, fields.data(), fields.size()));
  }
  // Any thread. The peer must see a broken response, never a complete one.
  void abort() const noexcept { api_->stream_abort(stream_); }
  bool head_sent() const noexcept { return api_->stream_head_sent(stream_) != 0; }
  // After start() with a protocol-switching status: messages both ways.
  Status upgrade() const noexcept { return from_c(api_->stream_upgrade(stream_)); }
  Status send_message(std::uint32_t flags, std::string_view data) const noexcept {
    trellis_chunk c = bytes_chunk(data);
    return from_c(api_->stream_send_message(stream_, flags, &c, 1));
  }
  // Any thread. No call on this stream after it.
  void done() const noexcept { api_->stream_done(stream_); }
  // Any thread. The peer is known to be gone.
  bool gone() const noexcept { return api_->stream_gone(stream_) != 0; }

  trellis_stream* raw() const noexcept { return stream_; }
  explicit operator bool() const noexcept { return stream_ != nullptr; }

 private:
  const trellis_host_api* api_ = nullptr;
  trellis_stream* stream_ = nullptr;
};

}  // namespace trellis::sdk
