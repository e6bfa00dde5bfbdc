// Failures cross the plugin boundary as values, never as exceptions. The
// numbers are the C ABI's (TRELLIS_OK ... in abi.h).
#pragma once

#include <cstdint>

#include "trellis/abi.h"

namespace trellis::sdk {

enum class Status : std::int32_t {
  ok = TRELLIS_OK,
  invalid_argument = TRELLIS_INVALID_ARGUMENT,  // the caller passed something malformed
  protocol_error = TRELLIS_PROTOCOL_ERROR,      // the peer sent something malformed
  too_large = TRELLIS_TOO_LARGE,                // a configured limit was hit
  timed_out = TRELLIS_TIMED_OUT,                // the peer was too slow
  closed = TRELLIS_CLOSED,                      // the peer went away, or the stream ended
  io_error = TRELLIS_IO_ERROR,                  // the operating system refused
  unsupported = TRELLIS_UNSUPPORTED,            // the operation makes no sense here
  app_error = TRELLIS_APP_ERROR,                // the application failed
  internal_error = TRELLIS_INTERNAL_ERROR,      // a bug or an exhausted resource
  again = TRELLIS_AGAIN,                        // accepted, but over the high-water mark
};

constexpr Status from_c(trellis_status s) noexcept { return static_cast<Status>(s); }
constexpr trellis_status to_c(Status s) noexcept { return static_cast<trellis_status>(s); }

constexpr const char* to_string(Status s) noexcept {
  switch (s) {
    case Status::ok: return "ok";
    case Status::invalid_argument: return "invalid argument";
    case Status::protocol_error: return "protocol error";
    case Status::too_large: return "too large";
    case Status::timed_out: return "timed out";
    case Status::closed: return "connection closed";
    case Status::io_error: return "i/o error";
    case Status::unsupported: return "unsupported";
    case Status::app_error: return "application error";
    case Status::internal_error: return "internal error";
    case Status::again: return "again";
  }
  return "unknown";
}

}  // namespace trellis::sdk
