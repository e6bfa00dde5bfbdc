// How a runtime answers. Implemented by the protocol session, called from an
// application thread. Writes block (bounded by the socket timeout) so that a
// runtime can stream a body of any size without buffering it.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "trellis/request.hpp"
#include "trellis/status.hpp"

namespace trellis::sdk {

class ResponseWriter {
 public:
  // Records the status line ("200 OK") and headers; nothing reaches the wire
  // before the first non-empty write() or finish(). May be called again
  // before that (WSGI's exc_info replaces headers not yet sent). Returns
  // invalid_argument for a malformed status or a header name or value that
  // could break the framing (CR, LF, NUL, bad token): the caller then answers
  // 500 instead. Returns unsupported once headers were sent.
  virtual Status start(std::string_view status, std::span<const Field> headers) noexcept = 0;

  // Sends body bytes, preceded by the headers on the first call. `last`
  // promises that no more body follows, so a protocol can frame a body of
  // unknown length with a Content-Length instead of chunks.
  virtual Status write(std::string_view data, bool last) noexcept = 0;

  // Sends `count` bytes of the open file `fd` from `offset` (sendfile where
  // the transport allows). count < 0 means up to the end of the file.
  virtual Status send_file(int fd, std::int64_t offset, std::int64_t count) noexcept = 0;

  // Completes the response (headers if still pending, final chunk, ...).
  virtual Status finish() noexcept = 0;

  // The application failed after headers went out: cut the connection so the
  // client sees a broken response, never a complete-looking one.
  virtual void abort() noexcept = 0;

  virtual bool headers_sent() const noexcept = 0;

 protected:
  ~ResponseWriter() = default;
};

}  // namespace trellis::sdk
