// The protocol-neutral request a protocol hands to a runtime.
//
// HTTP and uwsgi both fill this struct; a runtime never knows which one did.
// Every view points into memory the protocol session owns (usually its read
// buffer, so nothing is copied) and stays valid until the runtime returns
// from Runtime::handle().
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "trellis/status.hpp"

namespace trellis::sdk {

struct Field {
  std::string_view name;
  std::string_view value;
};

// The decoded request body (Content-Length or chunked already undone).
// Called from application threads; it may block on the socket (for example
// after sending "100 Continue"), bounded by the configured socket timeout.
class BodyReader {
 public:
  // Copies up to `size` bytes into `buf` and sets `got`. got == 0 with
  // Status::ok means the body has ended.
  virtual Status read(char* buf, std::size_t size, std::size_t& got) noexcept = 0;

 protected:
  ~BodyReader() = default;
};

struct Request {
  std::string_view method;       // "GET"
  std::string_view uri;          // the raw target as received: REQUEST_URI
  std::string_view path;         // percent-decoded path without query: PATH_INFO
  std::string_view query;        // raw text after '?', may be empty: QUERY_STRING
  std::string_view protocol;     // "HTTP/1.1": SERVER_PROTOCOL
  std::string_view scheme;       // "http" or "https"
  std::string_view remote_addr;  // REMOTE_ADDR
  std::string_view remote_port;  // REMOTE_PORT
  std::string_view server_name;  // SERVER_NAME (Host without port, else the socket address)
  std::string_view server_port;  // SERVER_PORT
  // HTTP header fields, names as sent (compare case-insensitively). Repeated
  // fields are already joined with ", ". Content-Type and Content-Length are
  // here too; a runtime maps them to CONTENT_TYPE / CONTENT_LENGTH.
  std::span<const Field> headers;
  // CGI variables a protocol received ready-made (uwsgi's vars block). When
  // non-empty a runtime passes them to the application verbatim, and they
  // take precedence over what it would derive from the fields above.
  std::span<const Field> cgi_vars;
  std::int64_t content_length = -1;  // -1 when the length is not known in advance
  // True when body->read() reports the true end of the body even without a
  // known length (chunked): WSGI's wsgi.input_terminated.
  bool body_terminated = true;
  BodyReader* body = nullptr;  // never null; reads 0 bytes when there is no body
  // Which runtime serves it (uwsgi's modifier1; 0 = WSGI, the default).
  std::uint8_t modifier1 = 0;
};

}  // namespace trellis::sdk
