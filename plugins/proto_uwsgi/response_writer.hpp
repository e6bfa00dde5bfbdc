// The blocking half: the runtime's answer, written back as HTTP/1.x over
// the connection's Transport from an application thread.
//
// The uwsgi connection closes after each response, so a body of unknown
// length is simply delimited by the close. An application's Content-Length
// is passed through and enforced: never more body than it announced. No
// body goes out for HEAD, 204 or 304, and a 204 loses any Content-Length;
// a 1xx status is refused (an application cannot send interim responses).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "trellis/host.hpp"
#include "trellis/protocol.hpp"
#include "trellis/response.hpp"

namespace trellis::uwsgi {

class UwsgiResponseWriter final : public sdk::ResponseWriter {
 public:
  UwsgiResponseWriter(sdk::Transport& transport, sdk::Host& host) noexcept : transport_(transport), host_(host) {}

  // The request being answered: its HTTP version and whether it is a HEAD.
  void begin(const sdk::Request& request);

  sdk::Status start(std::string_view status, std::span<const sdk::Field> headers) noexcept override;
  sdk::Status write(std::string_view data, bool last) noexcept override;
  sdk::Status send_file(int fd, std::int64_t offset, std::int64_t count) noexcept override;
  sdk::Status finish() noexcept override;
  void abort() noexcept override;
  bool headers_sent() const noexcept override { return head_sent_; }

  bool started() const noexcept { return status_code_ != 0; }
  bool finished() const noexcept { return finished_; }
  bool aborted() const noexcept { return aborted_; }
  bool broken() const noexcept { return broken_; }
  sdk::ResponseSummary summary() const noexcept { return {status_code_, body_bytes_, wire_bytes_}; }

 private:
  sdk::Status usable() const noexcept;
  // Sends the head if still pending, then `body`. `total` is a length to
  // announce when the application gave none and this is the whole body.
  // Head (first time) and body; `last`: these are the response's final
  // bytes, sent with the end of the stream (the connection closes after).
  sdk::Status send(std::string_view body, std::optional<std::int64_t> total, bool last) noexcept;
  std::string_view clamp(std::string_view data) noexcept;
  bool may_add_length() const noexcept;
  // False for HEAD and for statuses no body may follow (204, 304).
  bool body_allowed() const noexcept;

  sdk::Transport& transport_;
  sdk::Host& host_;
  std::string_view protocol_ = "HTTP/1.1";
  bool head_request_ = false;

  std::string head_;  // status line and headers, without the blank line
  int status_code_ = 0;
  std::optional<std::int64_t> declared_length_;
  bool head_sent_ = false;
  bool finished_ = false;
  bool ended_ = false;  // the transport's sending side is shut
  bool aborted_ = false;
  bool broken_ = false;  // the transport failed: nothing more can be sent
  bool warned_overflow_ = false;
  std::uint64_t body_bytes_ = 0;
  std::uint64_t wire_bytes_ = 0;
};

}  // namespace trellis::uwsgi
