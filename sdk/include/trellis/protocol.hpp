// A wire protocol (http, uwsgi): turns the bytes of a connection into
// streams (requests), and the responses the core hands back into bytes.
//
// Division of labour: the core owns the socket, the event loop and every
// byte written (Connection::write queues, the loop sends); a protocol owns
// per-connection parse state (a Session) and the framing of each stream's
// response (a StreamSink). Everything here runs on the worker's loop
// thread, and nothing may block. A protocol never meets a runtime: the core
// stands between them (stream_open, the sink).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "trellis/abi.h"
#include "trellis/request.hpp"
#include "trellis/status.hpp"
#include "trellis/stream.hpp"
#include "trellis/strings.hpp"

namespace trellis::sdk {

enum class CloseMode : std::uint32_t {
  graceful = TRELLIS_CLOSE_GRACEFUL,        // send queued, half-close, drain the peer, close
  after_write = TRELLIS_CLOSE_AFTER_WRITE,  // close once the queue is sent
  abort = TRELLIS_CLOSE_ABORT,              // now, with a reset
};

// Which per-connection timeout applies now.
enum class Phase : std::uint32_t {
  idle = TRELLIS_PHASE_IDLE,  // between requests: --keepalive-timeout
  head = TRELLIS_PHASE_HEAD,  // a request head: --header-timeout from its first byte
  body = TRELLIS_PHASE_BODY,  // a body: --socket-timeout since the last progress
  busy = TRELLIS_PHASE_BUSY,  // a stream is with the runtime: none
};

struct ResponseSummary {
  int status = 0;                // status code sent, 0 if none
  std::uint64_t body_bytes = 0;  // body bytes sent
  std::uint64_t wire_bytes = 0;  // everything sent, framing included
};

// How the core hands a stream's response to its protocol (loop thread; never
// after ProtocolStream::close() or reset()).
class StreamSink {
 public:
  // The head to send with the first body bytes; may come again, replacing
  // it, until then. Protocol::check_head accepted it already.
  virtual Status on_start(const ResponseHead& head) noexcept = 0;
  // Body bytes (valid during the call only) or file ranges, in order.
  virtual Status on_data(std::span<const trellis_chunk> chunks, bool last) noexcept = 0;
  virtual Status on_finish(FieldList trailers) noexcept = 0;
  virtual void on_abort() noexcept = 0;
  // The runtime wants (more) body: resume reading; send 100 Continue if the
  // client waits for it.
  virtual void on_body_wanted() noexcept {}
  virtual Status on_upgrade() noexcept { return Status::unsupported; }
  virtual Status on_message(std::uint32_t flags, std::span<const trellis_chunk> chunks) noexcept {
    (void)flags;
    (void)chunks;
    return Status::unsupported;
  }

 protected:
  ~StreamSink() = default;
};

namespace detail {
inline const trellis_stream_sink* sink_table() noexcept {
  static const trellis_stream_sink table = {
      sizeof(trellis_stream_sink),
      [](void* self, const trellis_response_head* h) noexcept {
        return to_c(static_cast<StreamSink*>(self)->on_start(ResponseHead::from(h)));
      },
      [](void* self, const trellis_chunk* c, size_t n, int last) noexcept {
        return to_c(static_cast<StreamSink*>(self)->on_data(std::span<const trellis_chunk>(c, n), last != 0));
      },
      [](void* self, const trellis_field* t, size_t n) noexcept {
        return to_c(static_cast<StreamSink*>(self)->on_finish(FieldList(t, n)));
      },
      [](void* self) noexcept { static_cast<StreamSink*>(self)->on_abort(); },
      [](void* self) noexcept { static_cast<StreamSink*>(self)->on_body_wanted(); },
      [](void* self) noexcept { return to_c(static_cast<StreamSink*>(self)->on_upgrade()); },
      [](void* self, uint32_t flags, const trellis_chunk* c, size_t n) noexcept {
        return to_c(static_cast<StreamSink*>(self)->on_message(flags, std::span<const trellis_chunk>(c, n)));
      },
  };
  return &table;
}
}  // namespace detail

// The protocol's handle on a stream it opened (loop thread).
class ProtocolStream {
 public:
  ProtocolStream() noexcept = default;
  ProtocolStream(const trellis_host_api* api, trellis_stream* stream) noexcept : api_(api), stream_(stream) {}

  // Decoded body bytes, copied. ok; again: kept, but stop reading until
  // on_body_wanted; closed: nobody reads them; too_large: over a limit.
  Status body(std::string_view data) const noexcept {
    return from_c(api_->stream_body(stream_, data.data(), data.size()));
  }
  Status body_end(std::span<const trellis_field> trailers = {}) const noexcept {
    return from_c(api_->stream_body_end(stream_, trailers.data(), trailers.size()));
  }
  Status message(std::uint32_t flags, std::string_view data) const noexcept {
    return from_c(api_->stream_message(stream_, flags, data.data(), data.size()));
  }
  // The peer is gone or broke the protocol: ends the protocol's side.
  void reset(Status why) noexcept {
    if (stream_) api_->stream_reset(stream_, to_c(why));
    stream_ = nullptr;
  }
  // The protocol is done with the stream.
  void close(const ResponseSummary& s) noexcept {
    if (!stream_) return;
    trellis_response_summary c{sizeof c, s.status, s.body_bytes, s.wire_bytes};
    api_->stream_close(stream_, &c);
    stream_ = nullptr;
  }
  explicit operator bool() const noexcept { return stream_ != nullptr; }
  trellis_stream* raw() const noexcept { return stream_; }

 private:
  const trellis_host_api* api_ = nullptr;
  trellis_stream* stream_ = nullptr;
};

// A session's connection (loop thread): every byte goes through the core.
class Connection {
 public:
  Connection() noexcept = default;
  Connection(const trellis_host_api* api, trellis_conn* conn) noexcept : api_(api), conn_(conn) {}

  // Queues bytes (copied) or file ranges (the fd duplicated), sent in order
  // as the socket takes them. Never blocks. closed once closing.
  Status write(std::span<const trellis_chunk> chunks) const noexcept {
    return from_c(api_->conn_write(conn_, chunks.data(), chunks.size()));
  }
  Status write(std::string_view data) const noexcept {
    trellis_chunk c = bytes_chunk(data);
    return from_c(api_->conn_write(conn_, &c, 1));
  }
  // The last bytes this connection carries: the sending side ends with them.
  Status write_last(std::span<const trellis_chunk> chunks) const noexcept {
    return from_c(api_->conn_write_last(conn_, chunks.data(), chunks.size()));
  }
  std::size_t queued() const noexcept { return api_->conn_queued(conn_); }
  void pause_reading(bool paused) const noexcept { api_->conn_pause_reading(conn_, paused ? 1 : 0); }
  // Ends the connection; Session::release() follows.
  void close(CloseMode how) const noexcept { api_->conn_close(conn_, static_cast<std::uint32_t>(how)); }
  ConnectionInfo info() const noexcept { return ConnectionInfo::from(api_->conn_info(conn_)); }
  // The protocol answered a request itself (an error reply): the stats
  // count it apart.
  void refused(int status) const noexcept { api_->conn_refused(conn_, status); }

  // A request head is complete: the core copies it and hands it to a
  // runtime; `sink` receives the response. Empty when nobody serves it.
  ProtocolStream open_stream(const trellis_request_head& head, StreamSink& sink) const noexcept {
    return ProtocolStream(api_, api_->stream_open(conn_, &head, detail::sink_table(), &sink));
  }

  const trellis_host_api* api() const noexcept { return api_; }
  trellis_conn* raw() const noexcept { return conn_; }

 private:
  const trellis_host_api* api_ = nullptr;
  trellis_conn* conn_ = nullptr;
};

// One connection's protocol state.
class Session {
 public:
  // Where the core should put the next bytes it reads. Empty: none now;
  // reading pauses until Connection::pause_reading(false).
  virtual std::span<char> read_space() noexcept = 0;
  // `n` bytes were stored at the start of the last read_space().
  virtual void on_received(std::size_t n) noexcept = 0;
  // The peer will send nothing more.
  virtual void on_eof() noexcept = 0;
  // The connection's queue fell below the low-water mark.
  virtual void on_writable() noexcept {}
  // The worker drains: end after the current exchange.
  virtual void on_drain() noexcept = 0;
  virtual Phase phase() const noexcept = 0;
  // The core is done with the session (after Connection::close or a peer
  // that vanished): free it. Close or reset its open streams first.
  virtual void release() noexcept = 0;

 protected:
  ~Session() = default;
};

class Protocol {
 public:
  // For logs and stats ("http", "uwsgi").
  virtual const char* name() const noexcept = 0;
  // The option whose values are its listening addresses ("http-socket").
  virtual const char* socket_option() const noexcept = 0;
  // A new connection. nullptr on failure (logged).
  virtual Session* open_session(Connection connection) noexcept = 0;
  // Any thread, no side effects: whether this protocol can send `head`. On
  // a refusal, `reason` may name why (static text; the core logs it). The
  // sink's on_start may then trust every head it gets.
  virtual Status check_head(const ResponseHead& head, const char*& reason) const noexcept {
    (void)head;
    (void)reason;
    return Status::ok;
  }

 protected:
  ~Protocol() = default;
};

}  // namespace trellis::sdk
