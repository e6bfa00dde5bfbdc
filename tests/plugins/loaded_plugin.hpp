// Loads a built plugin (.so) the way the core does: dlopen, the C entry
// symbol, the descriptor, create() with a trellis_host_api, then only the C
// tables. For tests of what a plugin exports, without the core. The host
// here is minimal: logging into a vector, options from a map, MAP_SHARED
// shared memory, no event loop.
#pragma once

#include <dlfcn.h>
#include <sys/mman.h>

#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "trellis/abi.h"

namespace trellis::test {

class LoadedPlugin {
 public:
  explicit LoadedPlugin(const std::string& path) {
    // Never closed: plugins are never unloaded.
    void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib) throw std::runtime_error(std::string("dlopen: ") + dlerror());
    auto entry = reinterpret_cast<trellis_plugin_entry_fn>(dlsym(lib, TRELLIS_ENTRY_SYMBOL));
    if (!entry) throw std::runtime_error("no " TRELLIS_ENTRY_SYMBOL " in " + path);
    descriptor = entry();
    api_ = make_api();
  }

  // Calls create(); false when the plugin refused.
  bool create() {
    trellis_plugin_instance out{};
    out.size = sizeof out;
    if (descriptor->create(&api_, reinterpret_cast<trellis_host*>(this), &out) != TRELLIS_OK) return false;
    table = out.table;
    self = out.self;
    return table != nullptr;
  }

  struct Engine {
    const trellis_lock_engine_table* table = nullptr;
    void* self = nullptr;
    explicit operator bool() const { return table != nullptr; }
    trellis_status init_master() const { return table->init_master(self); }
    trellis_status init_child() const { return table->init_child ? table->init_child(self) : TRELLIS_OK; }
    trellis_status lock() const { return table->lock(self); }
    void unlock() const { table->unlock(self); }
    void holder_died(int pid) const {
      if (table->holder_died) table->holder_died(self, pid);
    }
  };
  Engine lock_engine(const char* name) const {
    Engine e;
    if (table->lock_engine) e.table = table->lock_engine(self, name, &e.self);
    return e;
  }
  bool has_runtime() const {
    void* s = nullptr;
    return table->runtime && table->runtime(self, &s) != nullptr;
  }
  bool has_protocol() const {
    void* s = nullptr;
    return table->protocol && table->protocol(self, &s) != nullptr;
  }

  std::vector<std::string> logs() {
    std::lock_guard<std::mutex> g(mu_);
    return logs_;
  }
  void* shared_memory(std::size_t bytes) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : p;
  }

  const trellis_plugin_descriptor* descriptor = nullptr;
  const trellis_plugin_table* table = nullptr;
  void* self = nullptr;
  std::map<std::string, std::vector<std::string>> options;

 private:
  static LoadedPlugin* of(trellis_host* h) { return reinterpret_cast<LoadedPlugin*>(h); }
  static trellis_host_api make_api() {
    trellis_host_api a{};
    a.size = sizeof a;
    a.abi_minor = TRELLIS_ABI_MINOR;
    a.log = [](trellis_host* h, int32_t level, trellis_str m) {
      std::lock_guard<std::mutex> g(of(h)->mu_);
      of(h)->logs_.push_back(std::to_string(level) + " " + std::string(m.ptr, m.len));
    };
    a.option_values = [](trellis_host* h, trellis_str name, trellis_str* out, size_t max) -> size_t {
      auto it = of(h)->options.find(std::string(name.ptr, name.len));
      if (it == of(h)->options.end()) return 0;
      for (size_t i = 0; i < it->second.size() && i < max; ++i) out[i] = {it->second[i].data(), it->second[i].size()};
      return it->second.size();
    };
    a.shared_memory = [](trellis_host* h, size_t bytes) { return of(h)->shared_memory(bytes); };
    a.worker = [](trellis_host*, trellis_worker_identity* out) {
      std::uint32_t keep = out->size;
      std::memset(reinterpret_cast<char*>(out) + sizeof(out->size), 0, keep - sizeof(out->size));
    };
    a.runtime_available = [](trellis_host*, trellis_str) -> int { return 1; };
    return a;
  }

  trellis_host_api api_{};
  std::mutex mu_;
  std::vector<std::string> logs_;
};

}  // namespace trellis::test
