#include "app_settings.hpp"

#include <sys/stat.h>

#include <string_view>

namespace trellis::python {
namespace {

std::string last_value(const sdk::Host& host, std::string_view name) {
  auto v = host.option(name);
  return v ? std::string(*v) : std::string();
}

bool is_dir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool is_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

void read_app_settings(const sdk::Host& host, AppSettings& s, const char* file_option, const char* module_option) {
  s.file_option = file_option;
  s.file = last_value(host, file_option);
  s.module = last_value(host, module_option);
  s.callable.clear();
  if (auto c = host.option("callable"); c && !c->empty()) s.callable = std::string(*c);
  if (auto colon = s.module.find(':'); colon != std::string::npos) {
    if (colon + 1 < s.module.size()) s.callable = s.module.substr(colon + 1);
    s.module.resize(colon);
  }
  s.chdir = last_value(host, "chdir");
  s.pythonpath.clear();
  for (const auto& p : host.option_values("pythonpath"))
    if (!p.empty()) s.pythonpath.emplace_back(p);
  s.home = last_value(host, "home");
  // need-app defaults to true; only an explicit false turns it off.
  s.need_app = true;
  if (host.option("need-app")) s.need_app = host.flag("need-app");
}

bool validate_app_settings(const AppSettings& s, sdk::Host& host) {
  bool ok = true;
  auto error = [&](const std::string& msg) {
    host.log(sdk::LogLevel::error, s.plugin + ": " + msg);
    ok = false;
  };
  if (!s.file.empty() && !s.module.empty()) error("give either --" + s.file_option + " or --module, not both");
  if (s.file.empty() && s.module.empty()) {
    if (s.need_app)
      error("no application: give --" + s.file_option +
            " FILE or --module MOD[:CALLABLE] (or --need-app=false)");
    else
      host.log(sdk::LogLevel::warn, s.plugin + ": no application configured; every request will get a 500");
  }
  if (!s.chdir.empty() && !is_dir(s.chdir)) error("--chdir: no such directory: " + s.chdir);
  // A relative file is resolved after --chdir, as the worker will.
  if (!s.file.empty()) {
    std::string path = s.file;
    if (path.front() != '/' && !s.chdir.empty()) path = s.chdir + "/" + path;
    if (!is_file(path)) error("--" + s.file_option + ": no such file: " + path);
  }
  if (!s.module.empty() && s.module.find_first_of(" /") != std::string::npos)
    error("--module: not a module name: " + s.module);
  if (!s.home.empty()) {
    if (!is_dir(s.home))
      error("--home: no such directory: " + s.home);
    else if (!is_file(s.home + "/pyvenv.cfg"))
      error("--home: " + s.home + " is not a virtualenv (no pyvenv.cfg); create one with python3 -m venv");
  }
  for (const auto& p : s.pythonpath)
    if (!is_dir(p) && !is_file(p))  // a zip file is a valid sys.path entry too
      host.log(sdk::LogLevel::warn, s.plugin + ": --pythonpath entry does not exist: " + p);
  return ok;
}

}  // namespace trellis::python
