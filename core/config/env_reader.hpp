// TRELLIS_* environment variables as settings.
#pragma once

#include "config/config.hpp"

#include <map>
#include <set>
#include <string>
#include <vector>

namespace trellis::config {

// Every TRELLIS_<NAME> variable not in `ignore`, as a Setting whose key is
// <name> lower-cased with '_' -> '-' (TRELLIS_HTTP_SOCKET -> http-socket).
// UWSGI_<NAME> variables come first (TRELLIS_ wins), marked like [uwsgi]
// ini settings: options trellis lacks are warned about, not fatal.
// Whether the key names an option is decided in phase 2, where all options
// are known. Order: by variable name (std::map), deterministic.
std::vector<Setting> read_environment(const std::map<std::string, std::string>& env,
                                      const std::set<std::string, std::less<>>& ignore);

}  // namespace trellis::config
