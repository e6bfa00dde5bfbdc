// Failures cross the plugin boundary as values, never as exceptions.
#pragma once

#include <cstdint>

namespace trellis::sdk {

enum class Status : std::int32_t {
  ok = 0,
  invalid_argument,  // the caller passed something malformed (e.g. a bad status line)
  protocol_error,    // the peer sent something malformed
  too_large,         // a configured limit was hit
  timed_out,         // the peer was too slow
  closed,            // the peer went away
  io_error,          // the operating system refused
  unsupported,       // the operation makes no sense here
  app_error,         // the application failed
  internal_error,    // a bug or an exhausted resource
};

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
  }
  return "unknown";
}

}  // namespace trellis::sdk
