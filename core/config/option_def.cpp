// OptionDef construction: plugin specs and the bootstrap table.
#include "config/config.hpp"
#include "config/text.hpp"

#include <cctype>

namespace trellis::config {

namespace {

// Names end up in Boost descriptions ("name,s"), ini keys and TRELLIS_*
// variables, so a comma, '=', whitespace or a leading dash would break one
// of them.
bool valid_name(std::string_view name) {
  if (name.empty() || name.front() == '-') return false;
  for (char c : name)
    if (c == ',' || c == '=' || c == '[' || c == ']' || text::has_space(std::string_view(&c, 1))) return false;
  return true;
}

ConfigError declaration_error(const std::string& message) {
  return ConfigError(ConfigError::Kind::declaration, message);
}

}  // namespace

OptionDef from_spec(const trellis_option_spec& spec, std::string owner) {
  OptionDef def;
  def.owner = std::move(owner);
  def.name = spec.name ? spec.name : "";
  if (!valid_name(def.name))
    throw declaration_error("plugin '" + def.owner + "' declares an option with an invalid name '" + def.name + "'");
  if (spec.aliases)
    for (auto& alias : text::split_commas(spec.aliases)) {
      if (!valid_name(alias))
        throw declaration_error("plugin '" + def.owner + "' declares option '" + def.name +
                                "' with an invalid alias '" + alias + "'");
      def.aliases.push_back(std::move(alias));
    }
  def.short_name = spec.short_name;
  if (def.short_name != 0 && !std::isalnum(static_cast<unsigned char>(def.short_name)))
    throw declaration_error("plugin '" + def.owner + "' declares option '" + def.name +
                            "' with an invalid short name");
  if (spec.type > TRELLIS_OPT_LIST)
    throw declaration_error("plugin '" + def.owner + "' declares option '" + def.name + "' with unknown type " +
                            std::to_string(spec.type));
  def.type = static_cast<trellis_option_type>(spec.type);
  if (spec.default_value) def.default_value = spec.default_value;
  if (spec.value_name) def.value_name = spec.value_name;
  if (spec.help) def.help = spec.help;
  return def;
}

std::vector<OptionDef> from_specs(const trellis_option_spec* specs, std::size_t count, const std::string& owner,
                                  std::size_t stride) {
  std::vector<OptionDef> out;
  out.reserve(count);
  // A plugin built against a newer minor may have a longer spec: step by
  // its size, read the fields this build knows.
  if (stride < sizeof(trellis_option_spec)) stride = sizeof(trellis_option_spec);
  const char* base = reinterpret_cast<const char*>(specs);
  for (std::size_t i = 0; i < count; ++i)
    out.push_back(from_spec(*reinterpret_cast<const trellis_option_spec*>(base + i * stride), owner));
  return out;
}

const std::vector<OptionDef>& bootstrap_options() {
  // Declared as data like any plugin's, so phase 2 validates them and
  // --help lists them with no special case.
  static const std::vector<OptionDef> defs = [] {
    auto make = [](std::string name, std::vector<std::string> aliases, char short_name, trellis_option_type type,
                   std::string value_name, std::string help) {
      OptionDef d;
      d.name = std::move(name);
      d.aliases = std::move(aliases);
      d.short_name = short_name;
      d.type = type;
      d.value_name = std::move(value_name);
      d.help = std::move(help);
      d.owner = "core";
      return d;
    };
    return std::vector<OptionDef>{
        make("plugin", {"plugins"}, 0, TRELLIS_OPT_LIST, "NAME[,NAME...]", "load plugins"),
        make("plugin-dir", {"plugins-dir"}, 0, TRELLIS_OPT_LIST, "DIR", "also search DIR for plugins"),
        make("ini", {}, 0, TRELLIS_OPT_LIST, "FILE[:SECTION]",
             "read options from an ini file, section [trellis] or else [uwsgi]"),
        make("help", {}, 'h', TRELLIS_OPT_FLAG, "", "show this help (add --plugin NAME for its options)"),
        make("version", {}, 0, TRELLIS_OPT_FLAG, "", "print the version and exit"),
        make("plugins-list", {}, 0, TRELLIS_OPT_FLAG, "", "list the loaded and the available plugins and exit"),
    };
  }();
  return defs;
}

}  // namespace trellis::config
