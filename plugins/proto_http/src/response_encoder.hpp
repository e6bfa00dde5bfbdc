// Checks a response head an application gives (Protocol::check_head, any
// thread) and renders it as the fixed part of an HTTP/1.1 head (the sink,
// loop thread). Anything that could break the framing (CR, LF, NUL or other
// controls in a value, a name that is not a token, a bad status line, a
// hop-by-hop field) is refused: response splitting must not be possible
// whatever the application does.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "trellis/request.hpp"
#include "trellis/status.hpp"
#include "trellis/strings.hpp"

namespace trellis::http {

struct ResponseStartInfo {
  int status = 0;
  std::int64_t content_length = -1;  // the application's, -1 if none (or dropped)
  bool conn_close = false;           // the application asked to close
  bool has_date = false;
  bool has_server = false;
  bool no_body = false;              // 1xx, 204, 205, 304
  bool zero_length = false;          // 205: framed with "Content-Length: 0"
  bool drop_length = false;          // the application's Content-Length is not sent
  bool switching = false;            // 101 Switching Protocols (only with an upgrade)
};

// Whether `status` and `headers` can be sent: nullptr if so (and `info`
// says what they ask for), else a message saying what is wrong, for the
// log. A status outside 200..599 is refused: 1xx responses are interim and
// never final. Pure and allocation-free: callable from any thread.
// `validate` false: only read what the head asks for, for a head the core
// had checked already (Protocol::check_head runs this with validation).
const char* check_response_start(std::string_view status, sdk::FieldList headers, ResponseStartInfo& info,
                                 bool validate = true) noexcept;

// Protocol::check_head: invalid_argument (and `reason`) when
// check_response_start refuses.
sdk::Status check_response_head(const sdk::ResponseHead& head, const char*& reason) noexcept;

// Writes "HTTP/1.1 <status>\r\n" and the application's fields of a head
// check_response_start accepted into `out`, except the hop-by-hop
// Connection (its "close" is in info), a repeated Content-Length, and a
// Content-Length where none may be sent (1xx/204, RFC 9110 §8.6) or the
// server frames the content itself (205, which gets "Content-Length: 0").
void render_response_start(std::string_view status, sdk::FieldList headers, const ResponseStartInfo& info,
                           std::string& out);

// The value of the first field called `name` (case-insensitive), "" if none.
std::string_view find_field(sdk::FieldList headers, std::string_view name) noexcept;

// Replaces `out` with the "304 Not Modified" that stands for an accepted
// 200 (sdk::answers_not_modified): the fields sdk::kept_in_not_modified
// names, and the application's Server, which it sends with every answer.
// No content, no Content-Length. Updates `info` to match.
void render_not_modified(sdk::FieldList headers, ResponseStartInfo& info, std::string& out);

// Renders trailer fields ("Name: value\r\n" each) into `out`. Fields that
// could break the framing, or that must not be trailers (RFC 9110 §6.5.1:
// framing, routing, connection and content metadata), are left out;
// returns how many were.
std::size_t render_trailers(sdk::FieldList trailers, std::string& out);

// "Content-Length: <n>\r\n"
void append_content_length(std::string& out, std::uint64_t n);

// Chunk-size line for `n` bytes ("1a2\r\n") into buf; returns its length.
std::size_t format_chunk_size(char (&buf)[24], std::uint64_t n) noexcept;

}  // namespace trellis::http
