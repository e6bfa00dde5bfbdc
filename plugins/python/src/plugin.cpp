// The exported entry: the option table (as data, for the core's parser)
// and the factory.
#include "python_plugin.hpp"
#include "shared_options.hpp"

namespace {

const trellis_option_spec kOptions[] = {
    {"wsgi-file", nullptr, 0, TRELLIS_OPT_STRING, nullptr, "FILE", "load the WSGI application from a Python file"},
    // asgi declares "module" too (no alias): with both loaded, --module is
    // the WSGI application's and asgi takes --asgi-file/--asgi-module.
    {"module", "wsgi", 'w', TRELLIS_OPT_STRING, nullptr, "MOD[:CALLABLE]", "import the application from a module"},
    TRELLIS_PYTHON_SHARED_OPTIONS,
};

}  // namespace

TRELLIS_PLUGIN("python", TRELLIS_KIND_RUNTIME, "0.1.0", "WSGI (PEP 3333) applications on CPython", kOptions,
               [](trellis::sdk::Host& host) -> trellis::sdk::Plugin* {
                 return new trellis::python::PythonPlugin(host);
               })
