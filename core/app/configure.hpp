// Phase 1 and 2 of the configuration with plugin loading in between:
// --plugin values are loaded, their options join the core's, and the whole
// configuration is resolved. A uWSGI ini file ([uwsgi] section) names no
// protocol plugins, because uWSGI has them built in; their plugins are
// loaded automatically for options such as `socket` and `http-socket`.
#pragma once

#include <memory>
#include <vector>

#include "config/config.hpp"
#include "plugins/plugin_loader.hpp"

namespace trellis::core {

struct Configured {
  config::Bootstrap bootstrap;
  std::unique_ptr<PluginLoader> loader;
  std::vector<config::OptionDef> options;  // core + loaded plugins
  config::Config config;
};

// Throws config::ConfigError or LoadError.
Configured configure(int argc, char** argv);

}  // namespace trellis::core
