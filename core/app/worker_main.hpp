// What a freshly forked worker does before and after its event loop.
#pragma once

#include <trellis/plugin.hpp>

#include <cstdint>
#include <memory>
#include <vector>

#include "config/config.hpp"
#include "net/listener.hpp"
#include "plugins/core_host.hpp"
#include "process/scoreboard.hpp"
#include "worker/listener_ref.hpp"
#include "worker/worker.hpp"

namespace trellis::core {

// Everything the master prepared that a worker inherits across fork.
struct ServerState {
  const config::Config* config = nullptr;
  HostContext context;
  std::vector<sdk::Plugin*> plugins;
  RuntimeTable runtimes;
  std::vector<std::unique_ptr<net::ListenSocket>> sockets;
  std::vector<Listener> listeners;
  sdk::LockEngine* lock_engine = nullptr;
  Scoreboard* scoreboard = nullptr;
};

// Runs in the child right after fork; returns its exit code.
int worker_main(ServerState& state, int id, int slot, std::uint64_t generation);

}  // namespace trellis::core
