// Undoes the message framing of a request body: Content-Length (count
// bytes) or chunked (RFC 9112 §7.1). A byte-level state machine that keeps
// all its state between calls, so input may be split anywhere.
//
// consume() copies decoded bytes to `out` with memmove semantics, so the
// session can decode in place (out <= in: decoded data never outgrows the
// encoded data it came from).
//
// Chunk-size lines are strict: hex digits, optional extensions with BWS
// only around ';' and '=', then CRLF. Trailer fields are syntax-checked and
// dropped; applications never see them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "request_head.hpp"

namespace trellis::http {

enum class DecodeStatus { need_more, done, error };

class BodyDecoder {
 public:
  // max_body: limit-post (0 = unlimited), checked on the decoded size.
  // max_trailer: bytes allowed for one chunk-size line's leading zeros, for
  // its extensions, and for the trailer section.
  void reset(BodyKind kind, std::uint64_t length, std::uint64_t max_body, std::size_t max_trailer) noexcept;

  // Consumes up to in_len bytes (fewer only when done or out_cap is
  // reached), producing at most out_cap decoded bytes.
  DecodeStatus consume(const char* in, std::size_t in_len, char* out, std::size_t out_cap,
                       std::size_t& used, std::size_t& produced) noexcept;

  bool done() const noexcept { return state_ == State::done; }
  int error_status() const noexcept { return error_; }
  std::uint64_t decoded() const noexcept { return decoded_; }
  // Content-Length bytes still expected (length mode).
  std::uint64_t remaining() const noexcept { return remaining_; }
  BodyKind kind() const noexcept { return kind_; }

 private:
  enum class State : std::uint8_t {
    length_data,
    size,             // hex digits of the chunk size
    size_ws,          // BWS after the size: only ';' may follow
    ext_before_name,  // after ';'
    ext_name,
    ext_after_name,   // BWS after a name: '=' or ';'
    ext_before_value, // after '='
    ext_token,
    ext_quoted,
    ext_quoted_escape,
    ext_after_value,  // after a closing quote: ';' or CR
    ext_ws,           // BWS after a value: only ';' may follow
    size_lf,
    data,
    data_cr,
    data_lf,
    trailer_start,
    trailer_name,
    trailer_value,
    trailer_lf,
    final_lf,
    done,
    error,
  };

  DecodeStatus fail(int status) noexcept;

  BodyKind kind_ = BodyKind::none;
  State state_ = State::done;
  std::uint64_t remaining_ = 0;  // bytes left in this chunk / body
  std::uint64_t decoded_ = 0;
  std::uint64_t max_body_ = 0;
  std::size_t max_trailer_ = 0;
  std::size_t line_bytes_ = 0;  // extension or trailer bytes so far
  int size_digits_ = 0;      // significant (after leading zeros) size digits
  bool size_seen_ = false;   // any size digit yet, zeros included
  int error_ = 0;
};

}  // namespace trellis::http
