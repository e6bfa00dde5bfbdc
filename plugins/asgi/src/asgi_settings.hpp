// The asgi plugin's options. No Python here: this runs in the master too.
#pragma once

#include <trellis/host.hpp>

#include "app_settings.hpp"

namespace trellis::asgi {

enum class Lifespan { automatic, on, off };
enum class LoopKind { automatic, asyncio, uvloop };

struct Settings : python::AppSettings {
  Lifespan lifespan = Lifespan::automatic;
  LoopKind loop = LoopKind::automatic;
  long long max_concurrency = 0;  // 0: no limit
  // The WSGI plugin is loaded too: it takes --module and --wsgi-file, this
  // one --asgi-file and --asgi-module only.
  bool beside_wsgi = false;
  bool bad_value = false;  // an option value was refused (logged)
};

Settings read_settings(const sdk::Host& host);
bool validate(const Settings& settings, sdk::Host& host);

}  // namespace trellis::asgi
