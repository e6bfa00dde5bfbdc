// The exported entry: the option table (as data, for the core's parser)
// and the factory.
#include "asgi_plugin.hpp"
#include "shared_options.hpp"

namespace {

const trellis_option_spec kOptions[] = {
    {"asgi-file", nullptr, 0, TRELLIS_OPT_STRING, nullptr, "FILE",
     "load the ASGI application from a Python file (callable application or app)"},
    // Declared alike by the python plugin: with both loaded, --module is
    // the WSGI application's and this plugin takes --asgi-module.
    {"module", nullptr, 0, TRELLIS_OPT_STRING, nullptr, "MOD[:CALLABLE]", "import the application from a module"},
    {"asgi-module", nullptr, 0, TRELLIS_OPT_STRING, nullptr, "MOD[:CALLABLE]",
     "import the ASGI application from a module (needed when the python plugin is loaded too)"},
    TRELLIS_PYTHON_SHARED_OPTIONS,
    {"lifespan", nullptr, 0, TRELLIS_OPT_STRING, "auto", "auto|on|off",
     "run the ASGI lifespan protocol (auto: if the application supports it)"},
    {"asgi-loop", nullptr, 0, TRELLIS_OPT_STRING, "auto", "auto|asyncio|uvloop",
     "the event loop each worker runs (auto: uvloop when importable)"},
    {"asgi-max-concurrency", nullptr, 0, TRELLIS_OPT_INT, "0", "N",
     "at most N requests in the application per worker; more wait their turn (0: no limit)"},
};

}  // namespace

TRELLIS_PLUGIN("asgi", TRELLIS_KIND_RUNTIME, "0.1.0", "ASGI 3.0 applications (asyncio, uvloop) on CPython", kOptions,
               [](trellis::sdk::Host& host) -> trellis::sdk::Plugin* { return new trellis::asgi::AsgiPlugin(host); })
