// What a freshly forked worker does before and after its event loop.
#pragma once

#include <trellis/abi.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "config/config.hpp"
#include "net/listener.hpp"
#include "plugins/core_host.hpp"
#include "plugins/plugin_loader.hpp"
#include "process/scoreboard.hpp"
#include "worker/listener_ref.hpp"
#include "worker/worker.hpp"

namespace trellis::core {

// Everything the master prepared that a worker inherits across fork.
struct ServerState {
  const config::Config* config = nullptr;
  HostContext context;
  std::vector<PluginInstance> plugins;
  RuntimeTable runtimes;
  std::vector<std::unique_ptr<net::ListenSocket>> sockets;
  std::vector<Listener> listeners;
  // With --reuse-port: the listeners of each worker slot (by worker id).
  std::vector<std::vector<Listener>> slot_listeners;
  const std::vector<Listener>& listeners_for(int id) const {
    if (slot_listeners.empty()) return listeners;
    return slot_listeners[static_cast<size_t>(id - 1) % slot_listeners.size()];
  }
  LockEngineRef lock_engine;
  Scoreboard* scoreboard = nullptr;
  std::vector<StaticMap> static_maps;
};

// Runs in the child right after fork; returns its exit code. With
// `load_application` false the application came with the fork (preload).
int worker_main(ServerState& state, int id, int slot, std::uint64_t generation, bool load_application);

// First thing in every process the master gets (worker or loader): wait
// until the master is our parent (a loader's workers are re-parented), then
// die with it.
void attach_to_master(pid_t master);

// A loader process: its label and signals.
void become_loader();

}  // namespace trellis::core
