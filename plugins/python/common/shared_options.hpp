// The options both Python runtimes (python: WSGI, asgi: ASGI) declare. The
// core takes one option declared alike by several plugins as one (same
// type, same default), so either plugin alone, or both, accept them. Keep
// the two declarations identical: both plugins include this list.
#pragma once

#include <trellis/abi.h>

#define TRELLIS_PYTHON_SHARED_OPTIONS                                                                          \
  {"callable", nullptr, 0, TRELLIS_OPT_STRING, nullptr, "NAME",                                                 \
   "name of the application callable (default: application; asgi: application, then app)"},                   \
      {"chdir", nullptr, 0, TRELLIS_OPT_STRING, nullptr, "DIR", "chdir to DIR before loading the application"}, \
      {"pythonpath", "python-path,pp", 0, TRELLIS_OPT_LIST, nullptr, "DIR", "add DIR to sys.path (repeatable)"}, \
      {"home", "virtualenv,venv,pyhome", 0, TRELLIS_OPT_STRING, nullptr, "DIR", "use the virtualenv in DIR"},   \
      {"need-app", nullptr, 0, TRELLIS_OPT_FLAG, "true", nullptr,                                               \
       "refuse to start when the application cannot be loaded"}
