// The plugin's options, read once from the host. No Python here: this runs
// in the master too.
#pragma once

#include <string>
#include <vector>

#include <trellis/host.hpp>

namespace trellis::python {

struct Settings {
  std::string wsgi_file;                // --wsgi-file
  std::string module;                   // --module, without ":callable"
  std::string callable = "application";  // --callable, or the part after ':'
  std::string chdir;                    // --chdir
  std::vector<std::string> pythonpath;  // --pythonpath, in order
  std::string home;                     // --home: a virtualenv
  bool need_app = true;
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
