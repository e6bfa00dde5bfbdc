// How many connections wait in a listening socket's accept queue, as the
// kernel counts them.
#pragma once

#include <cstdint>

namespace trellis::core {

struct QueueDepth {
  std::int64_t queue = 0;      // connections waiting for accept()
  std::int64_t max_queue = 0;  // the backlog the kernel enforces, 0 if unknown
  bool known = false;
};

// TCP: getsockopt(TCP_INFO) on the listening socket (tcpi_unacked is the
// accept queue, tcpi_sacked its limit). UNIX: the sock_diag netlink query
// (UNIX_DIAG_RQLEN), when the kernel has unix_diag. Never blocks.
QueueDepth listen_queue_depth(int fd);

}  // namespace trellis::core
