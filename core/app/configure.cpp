#include "app/configure.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "options/core_options.hpp"

extern char** environ;

namespace trellis::core {

namespace {

std::map<std::string, std::string> environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return env;
}

std::vector<config::OptionDef> option_table(PluginLoader& loader) {
  std::vector<config::OptionDef> defs = core_options();
  for (auto& r : loader.loaded()) {
    auto more = config::from_specs(r.descriptor->options, r.descriptor->option_count, r.name, r.descriptor->option_size);
    defs.insert(defs.end(), more.begin(), more.end());
  }
  return defs;
}

bool set_in_uwsgi_section(const config::Bootstrap& boot, const std::string& key) {
  return std::any_of(boot.settings.begin(), boot.settings.end(),
                     [&](const config::Setting& s) { return s.uwsgi_section && s.key == key; });
}

}  // namespace

Configured configure(int argc, char** argv) {
  Configured c;
  config::BootstrapOptions bopts;
  // Not options: the core reads TRELLIS_PLUGIN_DIR itself, and TRELLIS_FAULTS
  // belongs to the tests' fault-injection library (tests/fault_injection).
  bopts.ignore_env = {"TRELLIS_PLUGIN_DIR", "TRELLIS_FAULTS"};
  c.bootstrap = config::bootstrap(std::span<const char* const>(argv, static_cast<size_t>(argc)), environment(), bopts);
  c.loader = std::make_unique<PluginLoader>(plugin_search_dirs(c.bootstrap.plugin_dirs));
  for (auto& p : c.bootstrap.plugins) c.loader->load(p);

  config::ResolveOptions ropts;
  ropts.lenient_uwsgi_sections = true;
  // Options of plugins that are available but not loaded: only worth
  // opening every plugin for when an option is unknown, or for a uWSGI ini
  // file, which leaves out the protocol plugins uWSGI has built in.
  std::vector<config::OptionDef> others;
  bool scanned = false;
  auto scan = [&] {
    scanned = true;
    others.clear();
    for (const PluginRecord* r : c.loader->scan_available()) {
      auto more = config::from_specs(r->descriptor->options, r->descriptor->option_count, r->name, r->descriptor->option_size);
      others.insert(others.end(), more.begin(), more.end());
    }
  };
  if (std::any_of(c.bootstrap.settings.begin(), c.bootstrap.settings.end(),
                  [](const config::Setting& s) { return s.uwsgi_section; }))
    scan();
  for (;;) {
    c.options = option_table(*c.loader);
    try {
      c.config = config::resolve(c.bootstrap, c.options, others, ropts);
      return c;
    } catch (const config::ConfigError& e) {
      using Kind = config::ConfigError::Kind;
      if (e.kind == Kind::plugin_not_loaded && !e.provider_plugin.empty() &&
          set_in_uwsgi_section(c.bootstrap, e.unknown_key)) {
        spdlog::info("loading plugin '{}' for option '{}' of the uWSGI ini file", e.provider_plugin, e.unknown_key);
        c.loader->load(e.provider_plugin);
        scan();
        continue;
      }
      if ((e.kind == Kind::unknown_option || e.kind == Kind::plugin_not_loaded) && !scanned) {
        scan();  // then the error can name the plugin that provides the option
        continue;
      }
      throw;
    }
  }
}

}  // namespace trellis::core
