// One HTTP/1.1 connection: the non-blocking parse half the event loop
// drives, the BodyReader handed to the application, and the keep-alive /
// pipelining decisions between requests.
//
// Buffer: one contiguous allocation per connection, reused by every request
// on it. The request head stays where it arrived and the Request handed to
// the application holds views into it (zero-copy); only percent-decoded
// paths and joined repeated fields go to a side arena. A body follows its
// head in the same buffer: Content-Length bytes are read straight into
// place, chunked bodies are decoded in place (decoded data never outgrows
// its encoding). Beyond post-buffering bytes the body is spooled to an
// anonymous temp file. Bytes after the body (pipelined requests) stay in
// the buffer and are parsed when the current response is done; the buffer
// is compacted only when it runs out of room, never per request.
//
// Every refusal (400, 413, 414, 417, 431, 501, 505) ends the connection:
// after a framing error nothing that follows can be trusted to be a request.
//
// Expect: 100-continue (HTTP/1.1 with a body): the request is handed over
// right after its head; the first BodyReader::read() sends
// "100 Continue" (unless body bytes already arrived) and then reads and
// decodes the body from the Transport on the application thread. If the
// application never reads the body the connection is closed after the
// response.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "body_decoder.hpp"
#include "body_spool.hpp"
#include "http_response.hpp"
#include "request_head_parser.hpp"
#include "trellis/host.hpp"
#include "trellis/protocol.hpp"

namespace trellis::http {

struct SessionConfig {
  ParseLimits parse;                       // buffer-size, http-max-fields, limit-post
  std::uint64_t post_buffering = 1 << 20;  // body bytes kept in memory
  sdk::Host* host = nullptr;               // for logging, may be null in tests
};

class HttpSession final : public sdk::Session, private sdk::BodyReader {
 public:
  // nullptr when memory is exhausted.
  static HttpSession* create(sdk::Transport& transport, const SessionConfig& config) noexcept;

  std::span<char> read_space() noexcept override;
  sdk::Progress on_received(std::size_t n) noexcept override;
  sdk::Progress on_eof() noexcept override;
  sdk::Request& request() noexcept override { return request_; }
  sdk::ResponseWriter& response() noexcept override { return response_; }
  std::string_view pending_output() const noexcept override { return error_reply_; }
  sdk::Progress finish_request() noexcept override;
  void close_after_response() noexcept override { draining_.store(true, std::memory_order_relaxed); }
  sdk::Phase phase() const noexcept override;
  sdk::ResponseSummary summary() const noexcept override;
  void release() noexcept override { delete this; }

 private:
  enum class State : std::uint8_t { head, body, app, closed };

  HttpSession(sdk::Transport& transport, const SessionConfig& config);
  ~HttpSession();
  // Whether `more` buffer bytes for a body may be held in memory: every
  // session of this worker together keeps at most 64 times --post-buffering
  // (many clients trickling bodies must not exhaust memory); past that a
  // body goes to a temp file, however small.
  bool body_memory_allows(std::size_t more) const noexcept;

  // BodyReader, for the application.
  sdk::Status read(char* buf, std::size_t size, std::size_t& got) noexcept override;
  sdk::Status read_streaming(char* buf, std::size_t size, std::size_t& got) noexcept;

  sdk::Progress parse_head() noexcept;
  sdk::Progress start_body() noexcept;
  sdk::Progress continue_body() noexcept;
  sdk::Progress hand_over() noexcept;
  sdk::Progress need_more() noexcept;
  sdk::Progress fail(int status) noexcept;

  bool ensure_space() noexcept;
  bool reallocate(std::size_t new_cap) noexcept;
  void move_to_front() noexcept;
  bool start_spool() noexcept;
  bool flush_to_spool() noexcept;
  void build_request();

  sdk::Transport& transport_;
  SessionConfig cfg_;

  std::unique_ptr<char[]> buf_;
  std::size_t cap_ = 0;
  std::size_t begin_ = 0;  // first byte of the current request
  std::size_t end_ = 0;    // end of received bytes

  RequestHeadParser parser_;
  BodyDecoder decoder_;
  BodySpool spool_;
  std::size_t body_start_ = 0;  // first body byte (right after the head)
  std::size_t body_end_ = 0;    // end of decoded body bytes in the buffer
  std::size_t raw_pos_ = 0;     // next undecoded byte
  std::uint64_t body_read_ = 0; // bytes the application has read
  bool body_done_ = false;      // the whole body was received and decoded
  bool streaming_ = false;      // 100-continue: the body is read by the app thread
  bool continue_pending_ = false;
  sdk::Status body_error_ = sdk::Status::ok;

  State state_ = State::head;
  std::atomic<bool> draining_{false};

  sdk::Request request_;
  std::vector<sdk::Field> fields_;
  std::vector<std::uint8_t> joined_;  // per parsed field: already merged
  std::vector<std::uint32_t> name_hash_;  // per parsed field: case-folded name hash
  std::string arena_;                 // decoded path, joined field values
  HttpResponse response_;

  std::string error_reply_;
  sdk::ResponseSummary error_summary_;
};

}  // namespace trellis::http
