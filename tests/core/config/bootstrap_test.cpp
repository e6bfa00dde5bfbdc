// Phase 1: plugins, plugin dirs, ini files and the help/version switches.
#include "test_support.hpp"

namespace trellis::config::testing {
namespace {

using Strings = std::vector<std::string>;

TEST(Bootstrap, PluginsFromEverySourceCommaListsSplitInOrder) {
  TempDir dir;
  const auto ini = dir.write("app.ini", "[uwsgi]\nplugins = python3, http\nplugin = uwsgi\n");
  const auto b = boot({"--plugin", "lock_engines", ini, "--plugins=a,b,"}, {{"TRELLIS_PLUGINS", "env1"}});
  EXPECT_EQ(b.plugins, (Strings{"python3", "http", "uwsgi", "env1", "lock_engines", "a", "b"}));
}

TEST(Bootstrap, PluginDirsFromEverySource) {
  TempDir dir;
  const auto ini = dir.write("app.ini", "[trellis]\nplugin-dir = %dplugins\n");
  const auto b = boot({"--plugin-dir=/cmd", "--ini", ini}, {{"TRELLIS_PLUGIN_DIR", "/env1:/env2"}});
  EXPECT_EQ(b.plugin_dirs, (Strings{dir.path().string() + "/plugins", "/env1", "/env2", "/cmd"}));
  BootstrapOptions ignore;
  ignore.ignore_env = {"TRELLIS_PLUGIN_DIR"};
  EXPECT_TRUE(boot({}, {{"TRELLIS_PLUGIN_DIR", "/env"}}, ignore).plugin_dirs.empty());
}

TEST(Bootstrap, UnknownOptionsWaitForPhaseTwo) {
  const auto b = boot({"--processes", "4", "--wsgi-fil=x", "-w", "app.py", "--plugin", "python"});
  EXPECT_EQ(b.plugins, Strings{"python"});
  EXPECT_TRUE(b.ini_files.empty());
  EXPECT_EQ(b.arguments, (Strings{"--processes", "4", "--wsgi-fil=x", "-w", "app.py", "--plugin", "python"}));
}

TEST(Bootstrap, BarePositionalIniAndIniWithSection) {
  TempDir dir;
  const auto a = dir.write("a.ini", "[trellis]\nprocesses = 2\n");
  const auto b_ini = dir.write("b.ini", "[trellis]\nprocesses = 3\n[dev]\nthreads = 9\n");
  const auto b = boot({a, "--ini", b_ini + ":dev", "--processes", "4"});
  EXPECT_EQ(b.ini_files, (Strings{a, b_ini}));
  ASSERT_EQ(b.settings.size(), 2u);
  EXPECT_EQ(b.settings[0].key, "processes");
  EXPECT_EQ(b.settings[1].key, "threads");
  EXPECT_EQ(b.settings[1].origin, b_ini + ":4");

  const auto config = resolve(b, core_options());
  EXPECT_EQ(config.integer("processes", 0), 4);
  EXPECT_EQ(config.integer("threads", 0), 9);
}

TEST(Bootstrap, IniFromEnvironmentIsReadFirst) {
  TempDir dir;
  const auto env_ini = dir.write("env.ini", "[trellis]\nthreads = 1\n");
  const auto argv_ini = dir.write("argv.ini", "[trellis]\nthreads = 2\n");
  const auto b = boot({argv_ini}, {{"TRELLIS_INI", env_ini}});
  EXPECT_EQ(b.ini_files, (Strings{env_ini, argv_ini}));
  EXPECT_EQ(resolve(b, core_options()).integer("threads", 0), 2);
}

TEST(Bootstrap, Switches) {
  EXPECT_TRUE(boot({"--help"}).help);
  EXPECT_TRUE(boot({"-h"}).help);
  EXPECT_FALSE(boot({"--help=no"}).help);
  EXPECT_TRUE(boot({"--version"}).version);
  EXPECT_TRUE(boot({"--plugins-list"}).plugins_list);
  const auto none = boot({});
  EXPECT_FALSE(none.help || none.version || none.plugins_list);
}

TEST(Bootstrap, EnvironmentBecomesSettingsExceptIgnored) {
  BootstrapOptions options;
  options.ignore_env = {"TRELLIS_SOCKET_FD"};
  const auto b = boot({}, {{"TRELLIS_HTTP_SOCKET", ":80"}, {"TRELLIS_SOCKET_FD", "3"}, {"PATH", "/bin"}}, options);
  ASSERT_EQ(b.settings.size(), 1u);
  EXPECT_EQ(b.settings[0].key, "http-socket");
  EXPECT_EQ(b.settings[0].value, ":80");
  EXPECT_EQ(b.settings[0].source, Source::environment);
  EXPECT_EQ(b.settings[0].origin, "TRELLIS_HTTP_SOCKET");
}

TEST(Bootstrap, ErrorsInPhaseOne) {
  EXPECT_EQ(error_of([] { boot({"--plugin"}); }).kind, ConfigError::Kind::missing_value);
  EXPECT_EQ(error_of([] { boot({"/nonexistent/trellis-test.ini"}); }).kind, ConfigError::Kind::file);
  EXPECT_STREQ(error_of([] { boot({"--help=maybe"}); }).what(),
               "invalid value 'maybe' for flag '--help' (from command line)");
}

}  // namespace
}  // namespace trellis::config::testing
