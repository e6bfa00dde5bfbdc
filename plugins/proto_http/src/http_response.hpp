// ResponseWriter for one HTTP/1.1 connection: chooses the body framing,
// writes the head together with the first body bytes in one writev, and
// remembers whether the connection can carry another request afterwards.
//
// Framing, in order of preference:
//   - no body at all: HEAD (the app's Content-Length is kept), 1xx/204/304;
//   - the application's Content-Length (never more bytes than it says;
//     fewer means the connection is closed after the response);
//   - a Content-Length we compute, when the whole body is known before the
//     head goes out (write(data, last=true) first, or finish() alone);
//   - chunked for HTTP/1.1 clients, else the end of the connection.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "response_encoder.hpp"
#include "trellis/host.hpp"
#include "trellis/protocol.hpp"
#include "trellis/response.hpp"

namespace trellis::http {

struct ResponseContext {
  bool head_request = false;
  bool http10 = false;
  bool client_keep_alive = true;  // what the request asked for
};

class HttpResponse final : public sdk::ResponseWriter {
 public:
  HttpResponse(sdk::Transport& transport, sdk::Host* host);

  // Per request. `body_done` says whether the request body has been read
  // completely (it may change while the app runs: 100-continue); `draining`
  // is set by close_after_response() from another thread.
  void begin(const ResponseContext& ctx, const bool* body_done, const std::atomic<bool>* draining) noexcept;

  sdk::Status start(std::string_view status, std::span<const sdk::Field> headers) noexcept override;
  sdk::Status write(std::string_view data, bool last) noexcept override;
  sdk::Status send_file(int fd, std::int64_t offset, std::int64_t count) noexcept override;
  sdk::Status finish() noexcept override;
  void abort() noexcept override;
  bool headers_sent() const noexcept override { return headers_sent_; }

  // After the runtime returned: completes whatever it left open.
  void complete() noexcept;
  // Whether the connection may carry another request.
  bool reusable() const noexcept;
  bool aborted() const noexcept { return aborted_; }
  bool broken() const noexcept { return broken_; }

  int status() const noexcept { return headers_sent_ ? info_.status : 0; }
  std::uint64_t body_bytes() const noexcept { return body_bytes_; }
  std::uint64_t wire_bytes() const noexcept { return wire_bytes_; }

 private:
  enum class Framing : std::uint8_t { none, length, chunked, close };

  // Sends the head followed by `data` (first body bytes), choosing framing.
  sdk::Status send_head(std::string_view data, bool last) noexcept;
  sdk::Status send_body(std::string_view data, bool last) noexcept;
  // Appends `data` framed for the wire to parts[n...] (at most 4 entries;
  // `size_line` holds a chunk size); returns the body bytes it covers.
  std::uint64_t frame_body(std::string_view data, bool last, struct iovec* parts, int& n, char (&size_line)[24]) noexcept;
  // Writes `parts`; the response's last bytes on a connection that closes
  // after it go out with the end of the stream (Transport::write_last).
  sdk::Status emit(const struct iovec* parts, int count) noexcept;
  bool ends_stream() const noexcept;

  sdk::Transport& transport_;
  sdk::Host* host_;
  ResponseContext ctx_;
  const bool* body_done_ = nullptr;
  const std::atomic<bool>* draining_ = nullptr;

  std::string head_;  // status line + app fields, completed by send_head
  ResponseStartInfo info_;
  Framing framing_ = Framing::none;
  std::uint64_t remaining_ = 0;  // Framing::length: bytes still owed
  std::uint64_t body_bytes_ = 0;
  std::uint64_t wire_bytes_ = 0;
  bool started_ = false;
  bool headers_sent_ = false;
  bool finished_ = false;
  bool aborted_ = false;
  bool broken_ = false;      // a write failed: the stream is unusable
  bool keep_alive_ = false;  // as announced in the head
  bool ended_ = false;       // the transport's sending side is shut
  bool overflow_logged_ = false;
};

}  // namespace trellis::http
