// The framing of one response on an HTTP/1.1 connection (the StreamSink's
// half of HttpSession): chooses the body framing, puts the head and the
// first body bytes into one Connection::write, and remembers whether the
// connection can carry another request afterwards. Loop thread; never
// blocks (Connection::write queues).
//
// Framing, in order of preference:
//   - no body at all: HEAD (the app's Content-Length is kept), 1xx/204/304;
//   - the application's Content-Length (never more bytes than it says;
//     fewer means the connection is closed after the response);
//   - a Content-Length we compute, when the whole body is known before the
//     head goes out (on_data with last=true first, or on_finish alone);
//   - chunked for HTTP/1.1 clients, else the end of the connection.
// Trailers go out with the last chunk when the body is chunked and its end
// was not announced before (on_data's `last` sends the last chunk at once,
// with the last bytes); otherwise they are dropped (logged at debug).
//
// A response after which the connection closes ends the sending side with
// its last bytes (Connection::write_last): the client sees the end at once.
//
// Conditional GET: a 200 the request's If-Modified-Since matches
// (sdk::answers_not_modified) goes out as "304 Not Modified".
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "response_encoder.hpp"
#include "trellis/host.hpp"
#include "trellis/protocol.hpp"

namespace trellis::http {

// What the response needs to know about its request.
struct ResponseContext {
  bool head_request = false;
  bool http10 = false;
  bool client_keep_alive = true;  // what the request asked for
  // Conditional GET inputs (the views must outlive the response).
  std::string_view method;             // "GET", "HEAD" ...
  std::string_view if_modified_since;  // "" when absent
  bool if_none_match = false;
  // The request offered to switch protocols: a 101 may answer it.
  bool upgrade_offered = false;
};

class HttpResponse {
 public:
  HttpResponse(sdk::Connection conn, sdk::Host host);

  void begin(const ResponseContext& ctx) noexcept;

  // StreamSink::on_start: records (and renders) the head; replaceable until
  // it is sent. invalid_argument if check_response_start refuses it (the
  // core normally asked Protocol::check_head already), unsupported once sent.
  sdk::Status start(const sdk::ResponseHead& head) noexcept;
  // StreamSink::on_data. `keep_allowed`: whether the request side lets the
  // connection carry another request (its body complete, no drain).
  sdk::Status data(std::span<const trellis_chunk> chunks, bool last, bool keep_allowed) noexcept;
  // StreamSink::on_finish. Without a head recorded, answers 500.
  sdk::Status finish(sdk::FieldList trailers, bool keep_allowed) noexcept;
  // StreamSink::on_abort: nothing more is written.
  void abort() noexcept { aborted_ = true; }
  // The recorded head is a 101: sends it alone; HTTP ends on the
  // connection. invalid_argument when the head is not a 101 or went out.
  sdk::Status send_switch() noexcept;
  bool switching() const noexcept { return started_ && info_.switching; }

  bool headers_sent() const noexcept { return headers_sent_; }
  bool finished() const noexcept { return finished_; }
  // A write failed: the connection is unusable.
  bool broken() const noexcept { return broken_; }
  // After finish(): whether the connection may carry another request.
  bool reusable() const noexcept;

  int status() const noexcept { return headers_sent_ ? info_.status : 0; }
  std::uint64_t body_bytes() const noexcept { return body_bytes_; }
  std::uint64_t wire_bytes() const noexcept { return wire_bytes_; }

 private:
  enum class Framing : std::uint8_t { none, length, chunked, close };

  // Frames `chunks` (and the end of the body when `last`) into parts_,
  // the head first if it is still due, and writes them.
  sdk::Status send(std::span<const trellis_chunk> chunks, bool last, sdk::FieldList trailers,
                   bool keep_allowed) noexcept;
  // Completes head_ (framing, Connection, Server, Date) for a body of
  // `total` bytes so far; `last`: that is all of it.
  void complete_head(std::uint64_t total, bool last, bool want_trailers, bool keep_allowed);
  // Appends the body pieces to parts_ in their framing; returns the body
  // bytes they carry.
  std::uint64_t frame_body(std::span<const trellis_chunk> chunks, std::uint64_t total, bool last,
                           sdk::FieldList trailers);
  // Writes parts_; the response's last bytes on a connection that closes
  // after it end the sending side (Connection::write_last).
  sdk::Status emit() noexcept;
  bool ends_stream() const noexcept;
  void warn_overflow() noexcept;

  sdk::Connection conn_;
  sdk::Host host_;
  ResponseContext ctx_;

  std::string head_;  // status line + fields, completed by complete_head
  std::string tail_;  // last chunk and trailers
  std::vector<trellis_chunk> parts_;
  char size_line_[24];
  ResponseStartInfo info_;
  Framing framing_ = Framing::none;
  std::uint64_t remaining_ = 0;  // Framing::length: bytes still owed
  std::uint64_t body_bytes_ = 0;
  std::uint64_t wire_bytes_ = 0;
  bool started_ = false;
  bool headers_sent_ = false;
  bool finished_ = false;    // the end of the body was framed
  bool aborted_ = false;
  bool broken_ = false;
  bool keep_alive_ = false;  // as announced in the head
  bool ended_ = false;       // the sending side is shut (write_last)
  bool overflow_logged_ = false;
};

}  // namespace trellis::http
