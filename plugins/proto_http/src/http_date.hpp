// The IMF-fixdate for the Date header ("Sun, 06 Nov 1994 08:49:37 GMT"),
// formatted at most once per second per thread instead of once per response.
#pragma once

#include <string_view>

namespace trellis::http {

// Valid until the calling thread calls it again.
std::string_view http_date_now() noexcept;

}  // namespace trellis::http
