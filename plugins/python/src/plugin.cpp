// The exported entry: the option table (as data, for the core's parser)
// and the factory.
#include "python_plugin.hpp"

namespace {

const trellis_option_spec kOptions[] = {
    {"wsgi-file", nullptr, 0, TRELLIS_OPT_STRING, nullptr, "FILE", "load the WSGI application from a Python file"},
    {"module", "wsgi", 'w', TRELLIS_OPT_STRING, nullptr, "MOD[:CALLABLE]", "import the WSGI application from a module"},
    {"callable", nullptr, 0, TRELLIS_OPT_STRING, "application", "NAME", "name of the WSGI callable"},
    {"chdir", nullptr, 0, TRELLIS_OPT_STRING, nullptr, "DIR", "chdir to DIR before loading the application"},
    {"pythonpath", "python-path,pp", 0, TRELLIS_OPT_LIST, nullptr, "DIR", "add DIR to sys.path (repeatable)"},
    {"home", "virtualenv,venv,pyhome", 0, TRELLIS_OPT_STRING, nullptr, "DIR", "use the virtualenv in DIR"},
    {"need-app", nullptr, 0, TRELLIS_OPT_FLAG, "true", nullptr, "refuse to start when the application cannot be loaded"},
};

}  // namespace

TRELLIS_PLUGIN("python", TRELLIS_KIND_RUNTIME, "0.1.0", "WSGI (PEP 3333) applications on CPython", kOptions,
               [](trellis::sdk::Host& host) -> trellis::sdk::Plugin* {
                 return new trellis::python::PythonPlugin(host);
               })
