// The core options that bound what one uwsgi connection may cost.
#pragma once

#include <cstdint>

#include "trellis/host.hpp"

namespace trellis::uwsgi {

// The body's memory and spool (post-buffering) are the core's since SDK 2:
// a protocol hands body bytes on as they come and keeps none of them.
struct Limits {
  // Largest vars block accepted (the packet's datasize), core "buffer-size".
  std::uint32_t buffer_size = 32768;
  // Largest body accepted, 0 = unlimited (core "limit-post"). Checked
  // against CONTENT_LENGTH before the request goes anywhere.
  std::int64_t limit_post = 0;
};

// Reads the limits from the core options, falling back to the documented
// defaults for anything unset or negative.
inline Limits read_limits(const sdk::Host& host) noexcept {
  Limits l;
  long long b = host.integer("buffer-size", l.buffer_size);
  // datasize is a u16 on the wire, so anything above 65535 is no limit at all.
  l.buffer_size = b <= 0 ? l.buffer_size : static_cast<std::uint32_t>(b > 65535 ? 65535 : b);
  long long lp = host.integer("limit-post", 0);
  l.limit_post = lp < 0 ? 0 : lp;
  return l;
}

}  // namespace trellis::uwsgi
