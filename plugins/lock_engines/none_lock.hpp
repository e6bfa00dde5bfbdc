// "none": no accept lock at all; every worker accepts when it likes and the
// kernel (EPOLLEXCLUSIVE / SO_REUSEPORT) spreads the connections.
#pragma once

#include "trellis/host.hpp"
#include "trellis/lock_engine.hpp"

namespace trellis::locks {

class NoneLock final : public sdk::LockEngine {
 public:
  const char* name() const noexcept override { return "none"; }
  sdk::Status init_master() noexcept override { return sdk::Status::ok; }
  sdk::Status lock() noexcept override { return sdk::Status::ok; }
  void unlock() noexcept override {}
};

}  // namespace trellis::locks
