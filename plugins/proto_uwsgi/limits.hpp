// The core options that bound what one uwsgi connection may cost.
#pragma once

#include <cstdint>

#include "trellis/host.hpp"

namespace trellis::uwsgi {

struct Limits {
  // Largest vars block accepted (the packet's datasize), core "buffer-size".
  std::uint32_t buffer_size = 32768;
  // Largest body accepted, 0 = unlimited (core "limit-post").
  std::int64_t limit_post = 0;
  // Body bytes kept in memory; a longer body is spooled to an unlinked
  // temporary file (core "post-buffering").
  std::int64_t post_buffering = 1048576;
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
  long long pb = host.integer("post-buffering", l.post_buffering);
  l.post_buffering = pb < 0 ? l.post_buffering : pb;
  return l;
}

}  // namespace trellis::uwsgi
