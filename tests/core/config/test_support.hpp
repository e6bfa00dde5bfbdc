// Shared by the config tests: a temp directory for ini files, an option
// table shaped like the real core's and plugins', and argv/env helpers.
#pragma once

#include "config/config.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace trellis::config::testing {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("trellis-config-test-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path_);
    path_ = fs::canonical(path_);  // /tmp may be a symlink; ini paths come back canonical-ish
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const fs::path& path() const { return path_; }

  // Writes `content` to path()/name (creating subdirectories); returns the path.
  std::string write(const std::string& name, const std::string& content) const {
    const fs::path file = path_ / name;
    fs::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << content;
    return file.string();
  }

 private:
  fs::path path_;
};

inline OptionDef def(std::string name, trellis_option_type type, std::string owner, std::vector<std::string> aliases = {},
                     char short_name = 0, std::optional<std::string> default_value = std::nullopt) {
  OptionDef d;
  d.name = std::move(name);
  d.type = type;
  d.owner = std::move(owner);
  d.aliases = std::move(aliases);
  d.short_name = short_name;
  d.default_value = std::move(default_value);
  d.help = "help for " + d.name;
  return d;
}

// Core options as DEVELOPERS.md lists them (a subset), plus two plugins.
inline std::vector<OptionDef> core_options() {
  return {
      def("processes", TRELLIS_OPT_INT, "core", {"workers"}, 'p', "1"),
      def("threads", TRELLIS_OPT_INT, "core", {}, 0, "1"),
      def("buffer-size", TRELLIS_OPT_INT, "core", {}, 'b', "32768"),
      def("master", TRELLIS_OPT_FLAG, "core"),
      def("lazy-apps", TRELLIS_OPT_FLAG, "core", {}, 0, "false"),
      def("env", TRELLIS_OPT_LIST, "core"),
      def("pidfile", TRELLIS_OPT_STRING, "core"),
  };
}
inline std::vector<OptionDef> python_options() {
  return {
      def("wsgi-file", TRELLIS_OPT_STRING, "python", {"file"}, 'w'),
      def("pythonpath", TRELLIS_OPT_LIST, "python", {"python-path"}),
  };
}
inline std::vector<OptionDef> http_options() { return {def("http-socket", TRELLIS_OPT_STRING, "http")}; }

inline std::vector<OptionDef> join(std::vector<OptionDef> a, const std::vector<OptionDef>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// bootstrap() from a list of arguments (argv[0] added).
inline Bootstrap boot(std::vector<std::string> args, const std::map<std::string, std::string>& env = {},
                      const BootstrapOptions& options = {}) {
  std::vector<const char*> argv{"trellis"};
  for (const auto& a : args) argv.push_back(a.c_str());
  return bootstrap(argv, env, options);
}

// Both phases with core + python + http loaded.
inline Config load(std::vector<std::string> args, const std::map<std::string, std::string>& env = {}) {
  const auto options = join(join(core_options(), python_options()), http_options());
  return resolve(boot(std::move(args), env), options);
}

// Both phases with only the core loaded; python and http available.
inline Config load_core_only(std::vector<std::string> args, const std::map<std::string, std::string>& env = {}) {
  const auto available = join(python_options(), http_options());
  return resolve(boot(std::move(args), env), core_options(), available);
}

inline std::vector<std::string> values(const Config& config, std::string_view name) {
  const auto v = config.values(name);
  return {v.begin(), v.end()};
}

// Runs `f`, expects a ConfigError, returns it for inspection.
template <typename F>
ConfigError error_of(F&& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e;
  }
  ADD_FAILURE() << "expected ConfigError";
  return ConfigError(ConfigError::Kind::usage, "<none>");
}

}  // namespace trellis::config::testing
