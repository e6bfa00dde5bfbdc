// systemd's readiness protocol: a datagram to $NOTIFY_SOCKET. A no-op when
// the variable is not set, so it costs nothing outside systemd.
#pragma once

#include <string_view>

namespace trellis::core {

void sd_notify(std::string_view state);

}  // namespace trellis::core
