// The core's own options, declared as data exactly like a plugin's.
#pragma once

#include <vector>

#include "config/config.hpp"

namespace trellis::core {

const std::vector<config::OptionDef>& core_options();

}  // namespace trellis::core
