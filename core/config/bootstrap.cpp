// Phase 1: find out which plugins to load, read every ini file and the
// environment, and keep everything for phase 2.
#include "config/catalog.hpp"
#include "config/config.hpp"
#include "config/env_reader.hpp"
#include "config/ini_reader.hpp"
#include "config/parse.hpp"
#include "config/text.hpp"

namespace trellis::config {

namespace {

// What one source contributes to the plugin lists; merged in the order
// ini, environment, command line, like LIST options.
struct PluginLists {
  std::vector<std::string> plugins, dirs, ini_specs;

  // Returns true if `key` was a bootstrap list option.
  bool take(const OptionDef* def, const std::string& value) {
    if (!def) return false;
    if (def->name == "plugin") {
      for (auto& p : text::split_commas(value)) plugins.push_back(std::move(p));
    } else if (def->name == "plugin-dir") {
      dirs.push_back(value);
    } else if (def->name == "ini") {
      ini_specs.push_back(value);
    } else {
      return false;
    }
    return true;
  }
};

bool flag_value(const std::vector<std::string>& values, const std::string& shown) {
  if (values.empty() || values.front().empty()) return true;
  if (auto b = text::parse_bool(values.front())) return *b;
  throw ConfigError(ConfigError::Kind::bad_value,
                    "invalid value '" + values.front() + "' for flag '" + shown + "' (from command line)");
}

}  // namespace

Bootstrap bootstrap(std::span<const char* const> argv, const std::map<std::string, std::string>& env,
                    const BootstrapOptions& options) {
  Bootstrap result;
  for (std::size_t i = 1; i < argv.size(); ++i)
    if (argv[i]) result.arguments.emplace_back(argv[i]);

  const detail::Catalog catalog(bootstrap_options(), {});
  PluginLists from_argv, from_env, from_ini;

  // Command line: only the bootstrap options; everything else waits for
  // phase 2, when the plugins' options are known.
  const auto parsed =
      detail::parse_tokens(result.arguments, catalog.description(), false, Source::command_line, "command line");
  for (const auto& option : parsed.options) {
    if (option.string_key.empty()) {
      // A bare argument: an ini file, or the separate value of an option we
      // don't know yet ("--processes 4"), which phase 2 will sort out.
      if (!option.value.empty() && detail::looks_like_ini(option.value.front()))
        from_argv.ini_specs.push_back(option.value.front());
      continue;
    }
    if (option.unregistered) continue;
    const OptionDef* def = catalog.find(option.string_key);
    const std::string value = option.value.empty() ? std::string() : option.value.front();
    if (from_argv.take(def, value)) continue;
    const std::string token = option.original_tokens.empty() ? option.string_key : option.original_tokens.front();
    const std::string shown = token.substr(0, token.find('='));
    if (def->name == "help") result.help = flag_value(option.value, shown);
    if (def->name == "version") result.version = flag_value(option.value, shown);
    if (def->name == "plugins-list") result.plugins_list = flag_value(option.value, shown);
  }

  // Environment: kept whole for phase 2 (TRELLIS_PLUGIN_DIR etc. are
  // ordinary options there), bootstrap keys also acted on now.
  std::vector<Setting> env_settings = read_environment(env, options.ignore_env);
  for (const auto& setting : env_settings) {
    const OptionDef* def = catalog.find(setting.key);
    if (def && def->name == "plugin-dir") {
      // A PATH-like list, as the plugin loader has always read it.
      std::string_view rest = setting.value;
      for (auto colon = rest.find(':');; colon = rest.find(':')) {
        if (const auto dir = text::trim(rest.substr(0, colon)); !dir.empty()) from_env.dirs.emplace_back(dir);
        if (colon == std::string_view::npos) break;
        rest.remove_prefix(colon + 1);
      }
      continue;
    }
    from_env.take(def, setting.value);
  }

  // Ini files: TRELLIS_INI first, then the command line's, in order.
  IniResult ini;
  for (const auto* specs : {&from_env.ini_specs, &from_argv.ini_specs})
    for (const auto& spec : *specs) read_ini(spec, {}, ini);
  for (auto& entry : ini.entries) {
    from_ini.take(catalog.find(entry.key), entry.value.value_or(""));
    result.settings.push_back(Setting{std::move(entry.key), entry.value.value_or(""), Source::ini,
                                      std::move(entry.origin), !entry.value.has_value(), entry.uwsgi_section,
                                      entry.placeholder});
  }
  result.ini_files = std::move(ini.files);
  for (auto& setting : env_settings) result.settings.push_back(std::move(setting));

  for (const auto* lists : {&from_ini, &from_env, &from_argv}) {
    result.plugins.insert(result.plugins.end(), lists->plugins.begin(), lists->plugins.end());
    result.plugin_dirs.insert(result.plugin_dirs.end(), lists->dirs.begin(), lists->dirs.end());
  }
  return result;
}

}  // namespace trellis::config
