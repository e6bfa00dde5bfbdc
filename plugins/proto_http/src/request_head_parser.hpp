// Incremental parser of an HTTP/1.x request head (RFC 9112 §2-§6).
//
// parse() is called with everything received so far for the current request
// (base may move between calls, offsets do not). It resumes where it
// stopped: bytes already searched for a line end are never searched again
// and complete lines are parsed exactly once, so feeding a head byte by byte
// costs O(n), not O(n^2).
//
// The parser only ever looks at the first `max_head` bytes, and every check
// is a function of complete lines taken in order, so the verdict (and the
// parsed fields) are the same however the bytes were split.
//
// Strictness choices (request smuggling defence, see DESIGN notes in
// http_session.hpp): lines end with CRLF (a bare LF or bare CR is 400), one
// SP between request-line parts, no whitespace before a field's colon, no
// obs-fold, no control characters in names or values.
#pragma once

#include <cstddef>
#include <cstdint>

#include "request_head.hpp"

namespace trellis::http {

struct ParseLimits {
  std::size_t max_head = 32768;    // buffer-size: request line + fields + CRLFs
  std::size_t max_fields = 100;    // field lines per head (431 beyond)
  std::uint64_t max_body = 0;      // limit-post, 0 = unlimited (413 beyond)
};

enum class ParseStatus { need_more, done, error };

class RequestHeadParser {
 public:
  explicit RequestHeadParser(const ParseLimits& limits);

  void reset() noexcept;
  ParseStatus parse(const char* base, std::size_t avail) noexcept;

  const RequestHead& head() const noexcept { return head_; }
  // The status code to answer after ParseStatus::error (400, 413, ...).
  int error_status() const noexcept { return error_; }
  // Whether any byte of a request line was seen (leading CRLFs excluded).
  bool started() const noexcept { return state_ != State::leading || line_start_ > 0; }

 private:
  enum class State : std::uint8_t { leading, request_line, fields, done, error };

  ParseStatus fail(int status) noexcept;
  int parse_request_line(const char* base, std::uint32_t start, std::uint32_t end) noexcept;
  int parse_field_line(const char* base, std::uint32_t start, std::uint32_t end) noexcept;
  int note_known_field(std::string_view name, std::string_view value, Slice value_slice) noexcept;
  int finish_head() noexcept;

  ParseLimits limits_;
  RequestHead head_;
  State state_ = State::leading;
  std::uint32_t line_start_ = 0;    // first byte of the line being assembled
  std::uint32_t scan_ = 0;          // bytes before this were searched for LF
  std::uint32_t method_scan_ = 0;   // method bytes validated so far
  bool method_done_ = false;
  int error_ = 0;
};

}  // namespace trellis::http
