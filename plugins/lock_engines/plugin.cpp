// The "lock_engines" plugin: hands out one engine per name.
#include "flock_lock.hpp"
#include "none_lock.hpp"
#include "pthread_lock.hpp"
#include "sem_lock.hpp"
#include "trellis/plugin.hpp"

namespace {

using namespace trellis;

class LockEnginesPlugin final : public sdk::Plugin {
 public:
  explicit LockEnginesPlugin(sdk::Host host) : pthread_(host), flock_(host), sem_(host) {}
  sdk::LockEngine* lock_engine(std::string_view engine) noexcept override {
    if (engine == "pthread") return &pthread_;
    if (engine == "flock") return &flock_;
    if (engine == "sem") return &sem_;
    if (engine == "none") return &none_;
    return nullptr;
  }

 private:
  locks::PthreadLock pthread_;
  locks::FlockLock flock_;
  locks::SemLock sem_;
  locks::NoneLock none_;
};

}  // namespace

TRELLIS_PLUGIN("lock_engines", TRELLIS_KIND_LOCK_ENGINE, "0.1.0", "accept locks: pthread, flock, sem, none",
               TRELLIS_NO_OPTIONS, [](trellis::sdk::Host& host) { return new LockEnginesPlugin(host); })
