#include "config/catalog.hpp"

#include "config/suggest.hpp"

#include <boost/make_shared.hpp>
#include <boost/program_options/value_semantic.hpp>

#include <algorithm>
#include <cctype>

namespace trellis::config::detail {

namespace po = boost::program_options;

namespace {

// Two declarations of one option by different plugins (the python and asgi
// runtimes both take --module, --chdir ...) are one option when they agree
// on what a value is: kind (type, which also says single or repeatable) and
// default. Aliases and a short name add up; the first help text is kept.
bool same_option(const OptionDef& a, const OptionDef& b) {
  return a.type == b.type && a.default_value == b.default_value;
}

}  // namespace

Catalog::Catalog(std::span<const OptionDef> loaded, std::span<const OptionDef> not_loaded) {
  std::map<char, std::size_t> shorts;
  loaded_.reserve(loaded.size());
  for (const auto& given : loaded) {
    OptionDef def = given;
    std::size_t i = loaded_.size();
    if (const auto same = by_name_.find(def.name); same != by_name_.end() && loaded_[same->second].name == def.name &&
                                                   loaded_[same->second].owner != def.owner &&
                                                   loaded_[same->second].owner != "core" && def.owner != "core") {
      OptionDef& first = loaded_[same->second];
      if (!same_option(first, def))
        throw ConfigError(ConfigError::Kind::declaration,
                          "option '" + def.name + "' is declared by both '" + first.owner + "' and '" + def.owner +
                              "' with different types or defaults");
      // Merge: only the names the first declaration lacks are new.
      i = same->second;
      std::vector<std::string> added;
      for (const auto& alias : def.aliases)
        if (alias != first.name && std::find(first.aliases.begin(), first.aliases.end(), alias) == first.aliases.end())
          added.push_back(alias);
      for (const auto& alias : added) first.aliases.push_back(alias);
      def.aliases = std::move(added);
      def.name.clear();  // the primary name is known already
      if (def.short_name != 0 && first.short_name != 0 && def.short_name != first.short_name)
        throw ConfigError(ConfigError::Kind::declaration,
                          "option '" + first.name + "' is declared by both '" + first.owner + "' and '" + def.owner +
                              "' with different short names");
      if (def.short_name == first.short_name) def.short_name = 0;
      else first.short_name = def.short_name;
    } else {
      loaded_.push_back(def);
    }
    auto names = def.aliases;
    if (!def.name.empty()) names.insert(names.begin(), def.name);
    for (const auto& name : names) {
      const auto [it, inserted] = by_name_.emplace(name, i);
      if (!inserted)
        throw ConfigError(ConfigError::Kind::declaration, "option '" + name + "' is declared by both '" +
                                                              loaded_[it->second].owner + "' and '" + def.owner + "'");
      loaded_names_.push_back(name);
    }
    if (def.short_name != 0) {
      const auto [it, inserted] = shorts.emplace(def.short_name, i);
      if (!inserted)
        throw ConfigError(ConfigError::Kind::declaration,
                          std::string("short option '-") + def.short_name + "' is declared by both '" +
                              loaded_[it->second].name + "' (" + loaded_[it->second].owner + ") and '" +
                              loaded_[i].name + "' (" + def.owner + ")");
    }
  }
  for (const auto& def : not_loaded) {
    auto names = def.aliases;
    names.insert(names.begin(), def.name);
    for (const auto& name : names)
      if (!by_name_.contains(name) && not_loaded_.emplace(name, def.owner).second) not_loaded_names_.push_back(name);
  }
}

const OptionDef* Catalog::find(std::string_view name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &loaded_[it->second];
}

const std::string* Catalog::provider(std::string_view name) const {
  const auto it = not_loaded_.find(name);
  return it == not_loaded_.end() ? nullptr : &it->second;
}

po::options_description Catalog::description() const {
  po::options_description desc;
  for (const auto& def : loaded_) {
    auto names = def.aliases;
    names.insert(names.begin(), def.name);
    for (std::size_t n = 0; n < names.size(); ++n) {
      std::string spec = names[n];
      if (n == 0 && def.short_name != 0) spec += std::string(",") + def.short_name;
      // Values stay text: the resolver checks types itself so the message
      // can name the source (file and line), which Boost does not know.
      auto* semantic = po::value<std::string>();
      if (def.type == TRELLIS_OPT_FLAG) semantic->implicit_value("true");
      desc.add(boost::make_shared<po::option_description>(spec.c_str(), semantic, def.help.c_str()));
    }
  }
  return desc;
}

ConfigError Catalog::unknown(std::string_view key, Source source, const std::string& origin) const {
  const std::string shown = shown_key(key, source);
  if (const std::string* plugin = provider(key)) {
    std::string message;
    if (source == Source::environment)
      message = "environment variable '" + shown + "' sets option '" + std::string(key) + "'";
    else
      message = "option '" + shown + "' (from " + where(source, origin) + ")";
    ConfigError error(ConfigError::Kind::plugin_not_loaded,
                      message + " is provided by plugin '" + *plugin + "', which is not loaded: add --plugin " + *plugin);
    error.unknown_key = std::string(key);
    error.provider_plugin = *plugin;
    error.origin = origin;
    return error;
  }
  // Prefer loaded names; fall back to not-loaded ones, saying so.
  auto suggestion = closest(key, loaded_names_);
  std::string note;
  if (!suggestion) {
    suggestion = closest(key, not_loaded_names_);
    if (suggestion) note = " (plugin '" + not_loaded_.find(*suggestion)->second + "', not loaded)";
  }
  std::string message = source == Source::environment
                            ? "unknown environment variable '" + shown + "'"
                            : "unknown option '" + shown + "' (from " + where(source, origin) + ")";
  if (suggestion) message += "; did you mean '" + shown_key(*suggestion, source) + "'" + note + "?";
  ConfigError error(ConfigError::Kind::unknown_option, message);
  error.unknown_key = std::string(key);
  error.suggestion = suggestion.value_or("");
  error.origin = origin;
  return error;
}

std::string shown_key(std::string_view key, Source source) {
  switch (source) {
    case Source::command_line: return (key.size() == 1 ? "-" : "--") + std::string(key);
    case Source::environment: return env_name(key);
    case Source::ini: break;
  }
  return std::string(key);
}

std::string where(Source source, const std::string& origin) {
  switch (source) {
    case Source::command_line: return "command line";
    case Source::environment: return "environment variable " + origin;
    case Source::ini: break;
  }
  return origin;
}

std::string env_name(std::string_view key) {
  std::string out = "TRELLIS_";
  for (char c : key) out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string key_from_env(std::string_view variable) {
  std::string out;
  for (char c : variable) out += c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace trellis::config::detail
