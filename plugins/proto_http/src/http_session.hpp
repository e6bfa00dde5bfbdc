// One HTTP/1.1 connection: the parse state the core's event loop drives
// (sdk::Session), and the StreamSink of the one request it serves at a
// time. Loop thread only; nothing here blocks.
//
// A request head complete -> a trellis_request_head is filled with views
// into the buffer (and a side arena for decoded paths and joined fields)
// and handed to Connection::open_stream, which copies it. The body follows:
// decoded in place (decoded data never outgrows its encoding) and handed on
// through ProtocolStream::body() as it arrives; the core owns buffering
// and spooling. `again` from body() pauses reading until on_body_wanted().
//
// Buffer: one contiguous allocation per connection, reused by every
// request on it. Bytes after the current request (pipelined requests) stay
// in the buffer, and reading pauses, until its response is done; then they
// are parsed, inside on_finish. The buffer is compacted only when it runs
// out of room, never per request.
//
// Every refusal (400, 413, 414, 417, 431, 501, 505, 500) writes a canned
// reply and closes gracefully (half-close, drain the client, close): after
// a framing error nothing that follows can be trusted to be a request. A
// body that turns out bad once its stream is open resets the stream first;
// if the response already started there is no reply to give, and the
// connection is reset.
//
// Expect: 100-continue (HTTP/1.1 with a body): the stream opens right after
// the head, with TRELLIS_REQUEST_EXPECTS_GO_AHEAD; the body is not read
// until the runtime wants it (on_body_wanted), which sends "100 Continue"
// unless body bytes already arrived or the response already started. If
// the runtime never wants the body, the connection is closed after the
// response.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "body_decoder.hpp"
#include "http_response.hpp"
#include "request_head_parser.hpp"
#include "trellis/host.hpp"
#include "trellis/protocol.hpp"

namespace trellis::http {

struct SessionConfig {
  ParseLimits parse;  // buffer-size, http-max-fields, limit-post
  sdk::Host host;     // for logging
};

class HttpSession final : public sdk::Session, public sdk::StreamSink {
 public:
  // nullptr when memory is exhausted.
  static HttpSession* create(sdk::Connection conn, const SessionConfig& config) noexcept;

  // sdk::Session
  std::span<char> read_space() noexcept override;
  void on_received(std::size_t n) noexcept override;
  void on_eof() noexcept override;
  void on_drain() noexcept override { draining_ = true; }
  sdk::Phase phase() const noexcept override;
  void release() noexcept override { delete this; }

  // sdk::StreamSink, for the current stream
  sdk::Status on_start(const sdk::ResponseHead& head) noexcept override;
  sdk::Status on_data(std::span<const trellis_chunk> chunks, bool last) noexcept override;
  sdk::Status on_finish(sdk::FieldList trailers) noexcept override;
  void on_abort() noexcept override;
  void on_body_wanted() noexcept override;
  // After a 101 the connection carries another protocol: its bytes go to
  // the runtime as messages, and the runtime's messages back, unframed
  // (a protocol of its own, such as WebSocket, frames them itself).
  sdk::Status on_upgrade() noexcept override;
  sdk::Status on_message(std::uint32_t flags, std::span<const trellis_chunk> chunks) noexcept override;

 private:
  enum class State : std::uint8_t {
    head,      // reading a request head; no stream
    body,      // a stream is open and its body still arriving
    complete,  // the stream's request is complete, its response is not
    upgraded,  // after a 101: the connection's bytes are the stream's messages
    closed,    // Connection::close was called: only release() follows
  };

  HttpSession(sdk::Connection conn, const SessionConfig& config);
  ~HttpSession() = default;

  void parse_head() noexcept;
  void open_stream() noexcept;
  // Decodes the buffered body bytes and hands them to the stream.
  void pump_body() noexcept;
  void body_complete() noexcept;
  // Upgraded: hands what was read to the stream as one message.
  void deliver_upgraded() noexcept;
  // The response is done: close the stream, then the next request or the end.
  void end_exchange() noexcept;

  // A request refused before its stream opened: canned reply, graceful close.
  void refuse(int status) noexcept;
  // The body of the open stream failed with `status` (413, 400, 500).
  void body_failed(int status, sdk::Status why) noexcept;
  // A write failed: the connection is gone.
  void connection_lost() noexcept;
  void close(sdk::CloseMode how) noexcept;

  bool reading_wanted() const noexcept;
  void update_reading() noexcept;
  // Room for the next read when one is wanted; refuses with 500 if none.
  void make_room() noexcept;
  bool ensure_space() noexcept;
  bool reallocate(std::size_t new_cap) noexcept;
  void move_to_front() noexcept;
  // Whether the request side lets the connection carry another request.
  bool keep_allowed() const noexcept { return state_ == State::complete && !draining_; }

  // Fills head_ (and the arrays it points to) from the parsed head.
  void build_head();

  sdk::Connection conn_;
  SessionConfig cfg_;

  std::unique_ptr<char[]> buf_;
  std::size_t cap_ = 0;
  std::size_t begin_ = 0;  // head state: the request's first byte; after: the next undecoded byte
  std::size_t end_ = 0;    // end of received bytes

  RequestHeadParser parser_;
  BodyDecoder decoder_;
  State state_ = State::head;
  sdk::ProtocolStream stream_;
  HttpResponse response_;

  bool go_ahead_wait_ = false;   // 100-continue: the body waits for on_body_wanted
  bool body_paused_ = false;     // body() said again: wait for on_body_wanted
  bool body_discard_ = false;    // body() said closed: decode, drop
  bool reading_paused_ = false;  // what the core was last told
  bool peer_eof_ = false;        // the client half-closed after a complete request
  bool draining_ = false;

  // Per request: the head the core copies, and what the response needs.
  trellis_request_head head_{};
  std::vector<trellis_field> fields_;
  std::string arena_;                     // decoded path, joined field values
  std::string if_modified_since_;         // copied: the buffer is reused during the body
  std::string_view conditional_method_;   // "GET", "HEAD" or "" (a literal)
  bool if_none_match_ = false;
  bool head_request_ = false;
  bool client_keep_alive_ = true;

  std::string error_reply_;
};

}  // namespace trellis::http
