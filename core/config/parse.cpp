#include "config/parse.hpp"

#include "config/catalog.hpp"

#include <boost/program_options/errors.hpp>
#include <boost/program_options/positional_options.hpp>

namespace trellis::config::detail {

namespace po = boost::program_options;

namespace {

// Boost hands the bare token after an option with an optional value (our
// FLAGs) to that option: "--master false" would mean master=false and
// "--master app.ini" would fail. Flags take a value only as "--master=false",
// like getopt's optional arguments, so those tokens go back to being bare
// arguments.
po::parsed_options release_grabbed_tokens(po::parsed_options parsed, const po::options_description& description,
                                          bool ini_positional) {
  std::vector<po::option> options;
  int position = 0;
  for (auto& option : parsed.options) {
    if (option.position_key >= 0) position = option.position_key + 1;
    const po::option_description* def =
        option.string_key.empty() || option.unregistered ? nullptr : description.find_nothrow(option.string_key, false);
    const bool grabbed = def && def->semantic()->min_tokens() == 0 && option.original_tokens.size() > 1;
    if (!grabbed) {
      options.push_back(std::move(option));
      continue;
    }
    std::vector<std::string> extra(option.original_tokens.begin() + 1, option.original_tokens.end());
    option.original_tokens.resize(1);
    option.value.clear();
    options.push_back(std::move(option));
    for (auto& token : extra) {
      po::option bare(ini_positional ? "ini" : "", {token});
      bare.position_key = position++;
      bare.original_tokens = {token};
      options.push_back(std::move(bare));
    }
  }
  parsed.options = std::move(options);
  return parsed;
}

}  // namespace

po::parsed_options parse_tokens(const std::vector<std::string>& tokens, const po::options_description& description,
                                bool ini_positional, Source source, const std::string& origin) {
  namespace style = po::command_line_style;
  po::positional_options_description positional;
  positional.add("ini", -1);
  po::command_line_parser parser(tokens);
  parser.options(description).allow_unregistered().style(style::default_style & ~style::allow_guessing);
  if (ini_positional) parser.positional(positional);
  try {
    return release_grabbed_tokens(parser.run(), description, ini_positional);
  } catch (const po::invalid_command_line_syntax& e) {
    // Boost names options "--x" whatever the source; ours name the source.
    std::string name = e.get_option_name();
    while (name.starts_with('-')) name.erase(0, 1);
    const std::string shown = source == Source::command_line ? e.get_option_name() : name;
    if (e.kind() == po::invalid_syntax::missing_parameter) {
      ConfigError error(ConfigError::Kind::missing_value,
                        "option '" + shown + "' (from " + where(source, origin) + ") needs a value");
      error.origin = origin;
      throw error;
    }
    ConfigError error(ConfigError::Kind::usage, std::string(e.what()) + " (from " + where(source, origin) + ")");
    error.origin = origin;
    throw error;
  } catch (const po::error& e) {
    ConfigError error(ConfigError::Kind::usage, std::string(e.what()) + " (from " + where(source, origin) + ")");
    error.origin = origin;
    throw error;
  }
}

bool looks_like_ini(std::string_view argument) {
  return argument.ends_with(".ini") || argument.find(".ini:") != std::string_view::npos;
}

}  // namespace trellis::config::detail
