// Phase 2: every source through one Boost description, values checked by
// type, precedence applied.
#include "config/catalog.hpp"
#include "config/config.hpp"
#include "config/parse.hpp"
#include "config/text.hpp"

#include <algorithm>

namespace trellis::config {

// Fills a Config; friend of Config so Config itself stays read-only.
class ConfigBuilder {
 public:
  explicit ConfigBuilder(const detail::Catalog& catalog) {
    for (const auto& def : catalog.options()) {
      config_.entries_.emplace(def.name, Config::Entry{def, {}, {}, false});
      config_.canonical_.emplace(def.name, def.name);
      for (const auto& alias : def.aliases) config_.canonical_.emplace(alias, def.name);
    }
  }

  // One user-given value. `raw` is nullopt when the option came without a
  // value (a bare flag); Boost already refused that for non-flags.
  void add(const OptionDef& def, const std::optional<std::string>& raw, Source source, const std::string& origin) {
    const std::string value = check(def, raw, "from " + detail::where(source, origin));
    auto& entry = config_.entries_.at(def.name);
    // Earlier sources are applied first, so "replace" gives
    // command line > environment > ini and last-one-wins within a source.
    if (def.type != TRELLIS_OPT_LIST || !entry.set_by_user) entry.values.clear();
    entry.values.push_back(value);
    entry.origin = origin;
    entry.set_by_user = true;
    config_.applied_.push_back(Setting{def.name, value, source, origin});
  }

  void warn(std::string message) { config_.warnings_.push_back(std::move(message)); }

  Config finish() {
    for (auto& [name, entry] : config_.entries_) {
      if (entry.set_by_user || !entry.def.default_value) continue;
      // A default is declared by a plugin author; a bad one is their bug,
      // reported the same way as a user's.
      entry.values = {check(entry.def, entry.def.default_value, "default declared by '" + entry.def.owner + "'")};
      entry.origin = "default";
    }
    return std::move(config_);
  }

 private:
  // Normalises and validates a value for the option's type.
  static std::string check(const OptionDef& def, const std::optional<std::string>& raw, const std::string& from) {
    switch (def.type) {
      case TRELLIS_OPT_FLAG: {
        if (!raw || raw->empty()) return "true";  // "--master", bare "master" in ini, "master ="
        if (const auto b = text::parse_bool(*raw)) return *b ? "true" : "false";
        throw bad_value("invalid value '" + *raw + "' for flag '" + def.name + "' (" + from +
                        "): use true/false, yes/no, on/off or 1/0");
      }
      case TRELLIS_OPT_INT:
        if (raw && text::parse_int(*raw)) return *raw;
        throw bad_value("invalid integer '" + raw.value_or("") + "' for option '" + def.name + "' (" + from + ")");
      case TRELLIS_OPT_STRING:
      case TRELLIS_OPT_LIST: break;
    }
    return raw.value_or("");
  }

  static ConfigError bad_value(const std::string& message) {
    return ConfigError(ConfigError::Kind::bad_value, message);
  }

  Config config_;
};

namespace {

std::optional<std::string> value_of(const boost::program_options::basic_option<char>& option) {
  if (option.value.empty()) return std::nullopt;
  return option.value.front();
}

// An ini key or environment name that cannot be written as one "--key=value"
// token would confuse the parser; no option has such a name anyway.
bool tokenizable(std::string_view key) {
  return !key.empty() && key.front() != '-' && key.find('=') == std::string_view::npos && !text::has_space(key);
}

}  // namespace

Config resolve(const Bootstrap& bootstrap, std::span<const OptionDef> loaded, std::span<const OptionDef> not_loaded,
               const ResolveOptions& options) {
  std::vector<OptionDef> all = bootstrap_options();
  all.insert(all.end(), loaded.begin(), loaded.end());
  const detail::Catalog catalog(all, not_loaded);
  const auto description = catalog.description();
  ConfigBuilder builder(catalog);

  // Ini and environment settings, each as one "--key=value" token through
  // the same description as the command line: identical validation, and
  // each error can name its own file and line.
  std::vector<const Setting*> settings;
  for (const auto& s : bootstrap.settings) settings.push_back(&s);
  std::stable_sort(settings.begin(), settings.end(),
                   [](const Setting* a, const Setting* b) { return a->source < b->source; });
  for (const Setting* s : settings) {
    auto unknown = [&] {
      // "base = /srv/app" only there for a later "%(base)": not an option.
      if (s->placeholder && !catalog.provider(s->key)) return;
      if (options.lenient_uwsgi_sections && s->uwsgi_section && !catalog.provider(s->key)) {
        builder.warn("ignoring uWSGI option '" + s->key + "' (from " + s->origin + "): not supported by trellis");
        return;
      }
      throw catalog.unknown(s->key, s->source, s->origin);
    };
    if (s->source == Source::command_line || !tokenizable(s->key)) {
      unknown();
      continue;
    }
    const std::string token = "--" + s->key + (s->bare ? "" : "=" + s->value);
    const auto parsed = detail::parse_tokens({token}, description, false, s->source, s->origin);
    for (const auto& option : parsed.options) {
      const OptionDef* def = option.unregistered ? nullptr : catalog.find(option.string_key);
      if (!def) {
        unknown();
        continue;
      }
      builder.add(*def, value_of(option), s->source, s->origin);
    }
  }

  // The command line, parsed whole: only now do we know that "--x y" means
  // x=y. Bare ini file arguments were read in phase 1.
  const auto parsed = detail::parse_tokens(bootstrap.arguments, description, true, Source::command_line, "command line");
  for (const auto& option : parsed.options) {
    const std::string token = option.original_tokens.empty() ? option.string_key : option.original_tokens.front();
    if (option.position_key >= 0) {
      if (!detail::looks_like_ini(token)) {
        ConfigError error(ConfigError::Kind::usage, "unexpected argument '" + token + "' (from command line)");
        error.origin = token;
        throw error;
      }
      continue;
    }
    const std::string origin = token.substr(0, token.find('='));
    const OptionDef* def = option.unregistered ? nullptr : catalog.find(option.string_key);
    if (!def) {
      std::string key = origin;
      while (key.starts_with('-')) key.erase(0, 1);
      throw catalog.unknown(key, Source::command_line, origin);
    }
    builder.add(*def, value_of(option), Source::command_line, origin);
  }
  return builder.finish();
}

}  // namespace trellis::config
