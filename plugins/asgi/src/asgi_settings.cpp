#include "asgi_settings.hpp"

namespace trellis::asgi {

Settings read_settings(const sdk::Host& host) {
  Settings s;
  s.plugin = "asgi";
  s.default_callables = {"application", "app"};
  // Whether the WSGI plugin is loaded: only it declares --wsgi-file, and
  // the core answers option_values for any declared option.
  s.beside_wsgi = host.runtime_available("python");
  const char* module_option = "module";
  if (s.beside_wsgi || host.option("asgi-module")) module_option = "asgi-module";
  python::read_app_settings(host, s, "asgi-file", module_option);
  if (auto v = host.option("lifespan")) {
    if (*v == "auto") s.lifespan = Lifespan::automatic;
    else if (*v == "on") s.lifespan = Lifespan::on;
    else if (*v == "off") s.lifespan = Lifespan::off;
    else s.bad_value = true;
  }
  if (auto v = host.option("asgi-loop")) {
    if (*v == "auto") s.loop = LoopKind::automatic;
    else if (*v == "asyncio") s.loop = LoopKind::asyncio;
    else if (*v == "uvloop") s.loop = LoopKind::uvloop;
    else s.bad_value = true;
  }
  s.max_concurrency = host.integer("asgi-max-concurrency", 0);
  return s;
}

bool validate(const Settings& s, sdk::Host& host) {
  bool ok = python::validate_app_settings(s, host);
  if (auto v = host.option("lifespan"); v && *v != "auto" && *v != "on" && *v != "off") {
    host.log(sdk::LogLevel::error, "asgi: --lifespan takes auto, on or off, not '" + std::string(*v) + "'");
    ok = false;
  }
  if (auto v = host.option("asgi-loop"); v && *v != "auto" && *v != "asyncio" && *v != "uvloop") {
    host.log(sdk::LogLevel::error, "asgi: --asgi-loop takes auto, asyncio or uvloop, not '" + std::string(*v) + "'");
    ok = false;
  }
  if (s.max_concurrency < 0) {
    host.log(sdk::LogLevel::error, "asgi: --asgi-max-concurrency must be 0 (no limit) or more");
    ok = false;
  }
  return ok;
}

}  // namespace trellis::asgi
