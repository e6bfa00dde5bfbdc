// Validates what an application passes to ResponseWriter::start() and
// renders it as the fixed part of a response head. Anything that could
// break the framing (CR, LF, NUL or other controls in a value, a name that
// is not a token, a bad status line) is refused: response splitting must
// not be possible whatever the application does.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "trellis/request.hpp"

namespace trellis::http {

struct ResponseStartInfo {
  int status = 0;
  std::int64_t content_length = -1;  // the application's, -1 if none
  bool conn_close = false;           // the application asked to close
  bool has_date = false;
  bool has_server = false;
  bool no_body = false;              // 1xx, 204, 205, 304
};

// Writes "HTTP/1.1 <status>\r\n" and the application's fields (except the
// hop-by-hop Connection, whose "close" is remembered, and a Content-Length
// on 1xx/204, which RFC 9110 §8.6 forbids) into `out`. A status outside
// 200..599 is refused: 1xx responses are interim and never final. Returns
// nullptr on success, else a message saying what was wrong (for the log).
const char* encode_response_start(std::string_view status, std::span<const sdk::Field> headers,
                                  std::string& out, ResponseStartInfo& info);

// "Content-Length: <n>\r\n"
void append_content_length(std::string& out, std::uint64_t n);

// Chunk-size line for `n` bytes ("1a2\r\n") into buf; returns its length.
std::size_t format_chunk_size(char (&buf)[24], std::size_t n) noexcept;

}  // namespace trellis::http
