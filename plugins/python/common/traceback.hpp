// Turns the pending Python exception into one log record, traceback
// included, and clears it. Caller holds the GIL.
#pragma once

#include <string_view>

#include <trellis/host.hpp>

namespace trellis::python {

void log_exception(sdk::Host& host, std::string_view what) noexcept;

}  // namespace trellis::python
