// A listening socket as a worker sees it: the socket and the protocol that
// speaks on it.
#pragma once

#include <trellis/protocol.hpp>

#include "net/listener.hpp"

namespace trellis::core {

struct Listener {
  const net::ListenSocket* socket = nullptr;
  sdk::Protocol* protocol = nullptr;
};

}  // namespace trellis::core
