// /metrics: the Prometheus text exposition format, version 0.0.4.
#pragma once

#include <string>
#include <string_view>

#include "stats/snapshot.hpp"

namespace trellis::core {

inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

std::string prometheus_metrics(const Snapshot& s);

// A label value with '\', '"' and newlines escaped, as the format requires.
std::string prometheus_label_value(std::string_view v);

}  // namespace trellis::core
