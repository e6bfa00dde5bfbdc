// The runtime's answer, framed as HTTP/1.x for the uwsgi peer and queued on
// the connection (loop thread; it never blocks: the core sends).
//
// The uwsgi connection carries one response and ends with it, so a body of
// unknown length is delimited by the end of the stream: the response's last
// bytes go out with Connection::write_last. An application's Content-Length
// is passed through and enforced: never more body than it announced. No
// body goes out for HEAD, 1xx, 204, 205 or 304 (sdk/include/trellis/
// http_rules.hpp), and a 204 loses any Content-Length.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "trellis/abi.h"
#include "trellis/host.hpp"
#include "trellis/protocol.hpp"
#include "trellis/request.hpp"

namespace trellis::uwsgi {

class UwsgiResponseWriter {
 public:
  UwsgiResponseWriter(sdk::Connection connection, const sdk::Host& host) noexcept
      : connection_(connection), host_(host) {}

  // The request being answered: its method (HEAD has no body), HTTP
  // version (that of the status line) and the header fields a conditional
  // GET reads (If-Modified-Since, If-None-Match).
  void begin(std::string_view method, std::string_view protocol, sdk::FieldList headers) noexcept;

  // StreamSink::on_start: records the head, sent with the first body bytes;
  // may come again until then. invalid_argument for a head
  // check_response_head refuses (the core asked already: this only guards
  // the framing), unsupported once sent.
  sdk::Status start(const sdk::ResponseHead& head) noexcept;
  // StreamSink::on_data: body bytes or file ranges (passed on as such, so
  // the core sends them with sendfile). `last`: the response's final bytes,
  // sent with the end of the stream.
  sdk::Status write(std::span<const trellis_chunk> chunks, bool last) noexcept;
  sdk::Status write(std::string_view data, bool last) noexcept;
  // StreamSink::on_finish: the head if still due, and the end of the stream
  // if not sent yet.
  sdk::Status finish() noexcept;
  // StreamSink::on_abort: nothing more is sent; the session resets the
  // connection so that the peer never takes the response for complete.
  void abort() noexcept { aborted_ = true; }

  bool started() const noexcept { return status_code_ != 0; }
  bool head_sent() const noexcept { return head_sent_; }
  bool ended() const noexcept { return ended_; }  // write_last went out
  bool finished() const noexcept { return finished_; }
  bool aborted() const noexcept { return aborted_; }
  bool broken() const noexcept { return broken_; }  // the connection refused a write
  sdk::ResponseSummary summary() const noexcept { return {status_code_, body_bytes_, wire_bytes_}; }

 private:
  class Parts;
  sdk::Status usable() const noexcept;
  // Queues the head if still pending (with a Content-Length of `total` when
  // given) and then `body`, in one write; `last`: with the end of the stream.
  sdk::Status send(Parts& parts, std::uint64_t body_size, std::optional<std::uint64_t> total, bool last) noexcept;
  // Body bytes the application's Content-Length still allows after `pending`
  // more (everything when it gave none).
  std::uint64_t room(std::uint64_t pending) const noexcept;
  bool may_add_length() const noexcept;
  // False for HEAD and for statuses no body may follow.
  bool body_allowed() const noexcept;

  sdk::Connection connection_;
  sdk::Host host_;
  std::string_view protocol_ = "HTTP/1.1";
  bool head_request_ = false;
  // Conditional GET (sdk::answers_not_modified): "GET", "HEAD" or "".
  std::string_view conditional_method_;
  std::string if_modified_since_;
  bool if_none_match_ = false;

  std::string head_;  // status line and headers, without the blank line
  int status_code_ = 0;
  std::optional<std::int64_t> declared_length_;
  bool head_sent_ = false;
  bool finished_ = false;
  bool ended_ = false;
  bool aborted_ = false;
  bool broken_ = false;
  bool warned_overflow_ = false;
  std::uint64_t body_bytes_ = 0;
  std::uint64_t wire_bytes_ = 0;
};

}  // namespace trellis::uwsgi
