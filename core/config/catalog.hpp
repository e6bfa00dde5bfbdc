// Lookup tables over the declared options, shared by both phases: which
// option a name or alias means, which not-loaded plugin would provide an
// unknown one, and the Boost.Program_options description built from them.
#pragma once

#include "config/config.hpp"

#include <boost/program_options/options_description.hpp>

#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace trellis::config::detail {

class Catalog {
 public:
  // Throws ConfigError(declaration) when two loaded options share a name,
  // alias or short name, except one option declared by several plugins
  // with the same type and default: that is one option (aliases and short
  // name merged, the first help text kept); a disagreement is refused. A not-loaded option whose name is already known is
  // ignored: the loaded one answers.
  Catalog(std::span<const OptionDef> loaded, std::span<const OptionDef> not_loaded);

  const std::vector<OptionDef>& options() const { return loaded_; }
  // Loaded option by name or alias.
  const OptionDef* find(std::string_view name) const;
  // Owner of a not-loaded option with that name or alias, or nullptr.
  const std::string* provider(std::string_view name) const;

  // One Boost entry per name and alias (aliases map to their option through
  // find()); FLAG options take an optional value that defaults to "true".
  boost::program_options::options_description description() const;

  // The error for an unknown key: "provided by plugin X" when a not-loaded
  // plugin has it, else "unknown option" with the closest known name.
  // The key is shown the way its source spells it (see shown_key).
  ConfigError unknown(std::string_view key, Source source, const std::string& origin) const;

 private:
  std::vector<OptionDef> loaded_;
  std::map<std::string, std::size_t, std::less<>> by_name_;          // name/alias -> loaded_ index
  std::map<std::string, std::string, std::less<>> not_loaded_;       // name/alias -> plugin
  std::vector<std::string> loaded_names_, not_loaded_names_;         // suggestion candidates
};

// How a key is shown to the user for each source: "--key", "key", "TRELLIS_KEY".
std::string shown_key(std::string_view key, Source source);
// "command line", "app.ini:12", "environment variable TRELLIS_X".
std::string where(Source source, const std::string& origin);
// "http-socket" -> "TRELLIS_HTTP_SOCKET" and back.
std::string env_name(std::string_view key);
std::string key_from_env(std::string_view variable);  // variable without TRELLIS_ prefix check

}  // namespace trellis::config::detail
