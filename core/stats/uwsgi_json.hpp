// The stats document in uWSGI's layout (key names and types as its stats
// server writes them), so uwsgitop and existing dashboards read it as is.
#pragma once

#include <string>

#include "stats/snapshot.hpp"

namespace trellis::core {

std::string uwsgi_stats_json(const Snapshot& s, const std::string& version);

}  // namespace trellis::core
