// One line per request, uWSGI-like. Everything the line needs is copied out
// of the request before the session moves on to the next one.
#pragma once

#include <trellis/protocol.hpp>

#include <chrono>

#include "process/scoreboard.hpp"

namespace trellis::core {

struct RequestTimer {
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
};

// Records "METHOD URI" in the scoreboard for harakiri messages and stats.
void note_request_line(CoreSlot& core, const sdk::Request& request);

void log_request(int worker_id, const sdk::Request& request, const sdk::ResponseSummary& summary,
                 const RequestTimer& timer);

}  // namespace trellis::core
