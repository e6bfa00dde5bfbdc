// What both Python runtimes (python: WSGI, asgi: ASGI) need to start the
// interpreter and find the application, read from the host's options. No
// Python here: this runs in the master too.
#pragma once

#include <string>
#include <vector>

#include <trellis/host.hpp>

namespace trellis::python {

struct AppSettings {
  // Who logs: "python" or "asgi", the prefix of every message.
  std::string plugin = "python";
  std::string file;                     // --wsgi-file / --asgi-file
  std::string file_option = "wsgi-file";  // its option's name, for messages
  std::string module;                   // --module, without ":callable"
  // The callable's name: --callable, or the part after ':' in --module.
  // Empty: the first of `default_callables` the module has.
  std::string callable;
  std::vector<std::string> default_callables{"application"};
  std::string chdir;                    // --chdir
  std::vector<std::string> pythonpath;  // --pythonpath, in order
  std::string home;                     // --home: a virtualenv
  bool need_app = true;
};

// Reads --chdir --pythonpath --home --callable --need-app, and the
// application from `file_option` or `module_option` ("pkg.mod:app" names
// the callable too and wins over --callable, as in uWSGI).
void read_app_settings(const sdk::Host& host, AppSettings& s, const char* file_option, const char* module_option);

// Checks what can be checked without Python, logging every problem found.
// True when the configuration can work.
bool validate_app_settings(const AppSettings& s, sdk::Host& host);

}  // namespace trellis::python
