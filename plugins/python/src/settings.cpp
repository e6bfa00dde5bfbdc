#include "settings.hpp"

namespace trellis::python {

Settings read_settings(const sdk::Host& host) {
  Settings s;
  s.plugin = "python";
  read_app_settings(host, s, "wsgi-file", "module");
  s.threads = static_cast<int>(host.integer("threads", 1));
  s.processes = static_cast<int>(host.integer("processes", 1));
  s.lazy_apps = host.flag("lazy-apps");
  if (s.threads < 1) s.threads = 1;
  if (s.processes < 1) s.processes = 1;
  return s;
}

bool validate(const Settings& s, sdk::Host& host) { return validate_app_settings(s, host); }

}  // namespace trellis::python
