// A listening socket as a worker sees it: the socket and the protocol that
// speaks on it (its C table from the plugin, and the table's self).
#pragma once

#include <trellis/abi.h>

#include "net/listener.hpp"

namespace trellis::core {

struct Listener {
  const net::ListenSocket* socket = nullptr;
  const trellis_protocol_table* protocol = nullptr;
  void* protocol_self = nullptr;
};

}  // namespace trellis::core
