// Finds, opens and checks plugins. The descriptor (plain C data) is read and
// checked before any C++ in the plugin runs; a plugin that fails a check is
// refused with one clear line. Libraries stay open for the process's life.
#pragma once

#include <trellis/abi.h>

#include <boost/dll/shared_library.hpp>
#include <deque>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "plugins/core_host.hpp"

namespace trellis::core {

struct LoadError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A created plugin as the core calls it: its C table and self. A hook the
// plugin leaves NULL does nothing and succeeds.
struct PluginInstance {
  const trellis_plugin_table* table = nullptr;
  void* self = nullptr;

  explicit operator bool() const { return table != nullptr; }
  bool has(std::size_t offset) const { return table && table->size > offset; }
  trellis_status on_config() const { return table->on_config ? table->on_config(self) : TRELLIS_OK; }
  trellis_status before_fork() const { return table->before_fork ? table->before_fork(self) : TRELLIS_OK; }
  trellis_status after_fork_parent() const {
    return table->after_fork_parent ? table->after_fork_parent(self) : TRELLIS_OK;
  }
  trellis_status after_fork_child(const trellis_worker_identity& w) const {
    return table->after_fork_child ? table->after_fork_child(self, &w) : TRELLIS_OK;
  }
  void worker_shutdown() const {
    if (table->worker_shutdown) table->worker_shutdown(self);
  }
  // The runtime / protocol / lock engine it offers, or a null table.
  const trellis_runtime_table* runtime(void** runtime_self) const {
    return table->runtime ? table->runtime(self, runtime_self) : nullptr;
  }
  const trellis_protocol_table* protocol(void** protocol_self) const {
    return table->protocol ? table->protocol(self, protocol_self) : nullptr;
  }
  const trellis_lock_engine_table* lock_engine(const char* name, void** engine_self) const {
    return table->lock_engine ? table->lock_engine(self, name, engine_self) : nullptr;
  }
};

struct PluginRecord {
  std::string name;  // from the descriptor
  std::filesystem::path path;
  const trellis_plugin_descriptor* descriptor = nullptr;
  boost::dll::shared_library library;
  std::unique_ptr<CoreHost> host;
  PluginInstance instance;  // set by create()
};

class PluginLoader {
 public:
  explicit PluginLoader(std::vector<std::filesystem::path> search_dirs);

  const std::vector<std::filesystem::path>& search_dirs() const { return dirs_; }

  // `request` is a name ("python", "http"), a uWSGI alias ("python3") or a
  // path to a .so. Loading the same plugin twice returns the first record.
  // Throws LoadError.
  PluginRecord& load(const std::string& request);

  // Calls the descriptor's create() with a host of its own. Throws LoadError.
  void create(PluginRecord& record, HostContext& context);

  std::deque<PluginRecord>& loaded() { return loaded_; }

  // Descriptors of plugins present in the search directories but not
  // loaded, to tell "unknown option" from "option of a plugin not loaded".
  // Unloadable files are skipped silently. Scanned libraries stay open too.
  std::vector<const PluginRecord*> scan_available();

 private:
  std::filesystem::path locate(const std::string& name) const;

  std::vector<std::filesystem::path> dirs_;
  std::deque<PluginRecord> loaded_;
  std::deque<PluginRecord> scanned_;
};

// The directories searched, in order: next to the binary
// (../lib/trellis/plugins and the install libdir), then each --plugin-dir,
// then TRELLIS_PLUGIN_DIR (colon separated).
std::vector<std::filesystem::path> plugin_search_dirs(const std::vector<std::string>& cli_dirs);

// uWSGI spells some plugins differently ("python3"); map them to ours.
std::string canonical_plugin_name(const std::string& request);

// Reads and checks the descriptor of an opened library. Throws LoadError.
const trellis_plugin_descriptor* checked_descriptor(boost::dll::shared_library& library,
                                                    const std::filesystem::path& path);

}  // namespace trellis::core
