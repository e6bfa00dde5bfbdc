// The WSGI plugin's options, read once from the host. No Python here: this
// runs in the master too.
#pragma once

#include <trellis/host.hpp>

#include "app_settings.hpp"

namespace trellis::python {

struct Settings : AppSettings {
  // Core options that shape environ.
  int threads = 1;
  int processes = 1;
  bool lazy_apps = false;
};

Settings read_settings(const sdk::Host& host);

// Checks what can be checked without Python, logging every problem found.
// True when the configuration can work.
bool validate(const Settings& settings, sdk::Host& host);

}  // namespace trellis::python
