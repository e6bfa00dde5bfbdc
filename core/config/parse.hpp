// The one call into Boost.Program_options' parser, with trellis' style and
// Boost's errors turned into ConfigError naming the source.
#pragma once

#include "config/config.hpp"

#include <boost/program_options/options_description.hpp>
#include <boost/program_options/parsers.hpp>

#include <string>
#include <vector>

namespace trellis::config::detail {

// Parses `tokens` against `description`, letting unknown options through
// (option.unregistered) so the caller can report them with suggestions.
// With `ini_positional`, bare arguments become values of "ini"; without,
// they come back with an empty string_key. Never abbreviates long names:
// "--wsgi-fil" must be an error with a suggestion, not silently "--wsgi-file".
boost::program_options::parsed_options parse_tokens(const std::vector<std::string>& tokens,
                                                    const boost::program_options::options_description& description,
                                                    bool ini_positional, Source source, const std::string& origin);

// "app.ini", "conf/app.ini:prod": a bare argument that names an ini file.
bool looks_like_ini(std::string_view argument);

}  // namespace trellis::config::detail
