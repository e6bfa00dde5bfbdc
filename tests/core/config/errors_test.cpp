// Every user mistake gives one clear line naming what and where, plus the
// structured fields the core uses (e.g. to auto-load a plugin).
#include "test_support.hpp"

namespace trellis::config::testing {
namespace {

using Kind = ConfigError::Kind;

TEST(Errors, UnknownCommandLineOptionSuggestsTheClosest) {
  const auto e = error_of([] { load({"--wsgi-fil", "app.py"}); });
  EXPECT_EQ(e.kind, Kind::unknown_option);
  EXPECT_STREQ(e.what(), "unknown option '--wsgi-fil' (from command line); did you mean '--wsgi-file'?");
  EXPECT_EQ(e.unknown_key, "wsgi-fil");
  EXPECT_EQ(e.suggestion, "wsgi-file");
}

TEST(Errors, UnknownOptionsAreNeverAbbreviationsOfKnownOnes) {
  // Boost would accept "--proc" as "--processes"; we don't.
  const auto e = error_of([] { load({"--proc=2"}); });
  EXPECT_EQ(e.kind, Kind::unknown_option);
  EXPECT_EQ(e.unknown_key, "proc");
}

TEST(Errors, TranspositionIsOneTypo) {
  const auto e = error_of([] { load({"--porcesses=2"}); });
  EXPECT_EQ(e.suggestion, "processes");
}

TEST(Errors, UnknownIniKeyNamesFileAndLineAndSuggests) {
  TempDir dir;
  const auto ini = dir.write("app.ini", "[trellis]\n\nthreads = 2\nthrads = 4\n");
  const auto e = error_of([&] { load({ini}); });
  EXPECT_EQ(e.kind, Kind::unknown_option);
  EXPECT_EQ(std::string(e.what()), "unknown option 'thrads' (from " + ini + ":4); did you mean 'threads'?");
  EXPECT_EQ(e.origin, ini + ":4");
}

TEST(Errors, OptionOfANotLoadedPluginNamesThePlugin) {
  const auto e = error_of([] { load_core_only({"--wsgi-file", "app.py"}); });
  EXPECT_EQ(e.kind, Kind::plugin_not_loaded);
  EXPECT_STREQ(e.what(),
               "option '--wsgi-file' (from command line) is provided by plugin 'python', which is not loaded: "
               "add --plugin python");
  EXPECT_EQ(e.unknown_key, "wsgi-file");
  EXPECT_EQ(e.provider_plugin, "python");
}

TEST(Errors, AliasOfANotLoadedPluginAlsoNamesIt) {
  TempDir dir;
  const auto ini = dir.write("u.ini", "[uwsgi]\nhttp-socket = :8080\n");
  const auto e = error_of([&] { load_core_only({ini}); });
  EXPECT_EQ(e.provider_plugin, "http");
  EXPECT_NE(std::string(e.what()).find(ini + ":2"), std::string::npos);
  const auto by_alias = error_of([] { load_core_only({"--file=app.py"}); });
  EXPECT_EQ(by_alias.provider_plugin, "python");
}

TEST(Errors, TypoOfANotLoadedOptionSaysWhoProvidesIt) {
  const auto e = error_of([] { load_core_only({"--wsgi-fil=app.py"}); });
  EXPECT_EQ(e.kind, Kind::unknown_option);
  EXPECT_EQ(e.suggestion, "wsgi-file");
  EXPECT_NE(std::string(e.what()).find("plugin 'python', not loaded"), std::string::npos);
}

TEST(Errors, BadIntegerNamesOptionValueAndSource) {
  TempDir dir;
  const auto ini = dir.write("app.ini", "[trellis]\nprocesses = abc\n");
  const auto from_ini = error_of([&] { load({ini}); });
  EXPECT_EQ(from_ini.kind, Kind::bad_value);
  EXPECT_EQ(std::string(from_ini.what()), "invalid integer 'abc' for option 'processes' (from " + ini + ":2)");

  const auto from_env = error_of([] { load({}, {{"TRELLIS_WORKERS", "4x"}}); });
  EXPECT_STREQ(from_env.what(),
               "invalid integer '4x' for option 'processes' (from environment variable TRELLIS_WORKERS)");

  const auto from_argv = error_of([] { load({"-p", "many"}); });
  EXPECT_STREQ(from_argv.what(), "invalid integer 'many' for option 'processes' (from command line)");
}

TEST(Errors, BadFlagValue) {
  const auto e = error_of([] { load({}, {{"TRELLIS_MASTER", "maybe"}}); });
  EXPECT_EQ(e.kind, Kind::bad_value);
  EXPECT_NE(std::string(e.what()).find("'maybe' for flag 'master'"), std::string::npos);
}

TEST(Errors, MissingValue) {
  const auto argv = error_of([] { load({"--pidfile"}); });
  EXPECT_EQ(argv.kind, Kind::missing_value);
  EXPECT_STREQ(argv.what(), "option '--pidfile' (from command line) needs a value");

  TempDir dir;
  const auto ini = dir.write("app.ini", "[trellis]\npidfile\n");
  const auto from_ini = error_of([&] { load({ini}); });
  EXPECT_EQ(from_ini.kind, Kind::missing_value);
  EXPECT_EQ(std::string(from_ini.what()), "option 'pidfile' (from " + ini + ":2) needs a value");
}

TEST(Errors, UnexpectedBareArgument) {
  const auto e = error_of([] { load({"--master", "false"}); });
  EXPECT_EQ(e.kind, Kind::usage);
  EXPECT_STREQ(e.what(), "unexpected argument 'false' (from command line)");
}

TEST(Errors, UnknownEnvironmentVariableIsNamed) {
  const auto e = error_of([] { load({}, {{"TRELLIS_PROCESES", "2"}}); });
  EXPECT_EQ(e.kind, Kind::unknown_option);
  EXPECT_STREQ(e.what(), "unknown environment variable 'TRELLIS_PROCESES'; did you mean 'TRELLIS_PROCESSES'?");
  EXPECT_EQ(e.origin, "TRELLIS_PROCESES");

  const auto plugin = error_of([] { load_core_only({}, {{"TRELLIS_WSGI_FILE", "a.py"}}); });
  EXPECT_EQ(plugin.kind, Kind::plugin_not_loaded);
  EXPECT_EQ(plugin.provider_plugin, "python");
  EXPECT_NE(std::string(plugin.what()).find("TRELLIS_WSGI_FILE"), std::string::npos);
}

TEST(Errors, DuplicateDeclarationsAreReported) {
  auto options = core_options();
  options.push_back(def("threads", TRELLIS_OPT_INT, "python"));
  const auto e = error_of([&] { resolve(boot({}), options); });
  EXPECT_EQ(e.kind, Kind::declaration);
  EXPECT_STREQ(e.what(), "option 'threads' is declared by both 'core' and 'python'");

  auto shorts = core_options();
  shorts.push_back(def("port", TRELLIS_OPT_INT, "http", {}, 'p'));
  EXPECT_EQ(error_of([&] { resolve(boot({}), shorts); }).kind, Kind::declaration);
}

TEST(Errors, TwoPluginsMayDeclareTheSameOptionAlike) {
  // python and asgi both take --module, --chdir, --pythonpath: one option.
  auto options = core_options();
  options.push_back(def("module", TRELLIS_OPT_STRING, "python", {"wsgi"}, 'w'));
  options.push_back(def("pythonpath", TRELLIS_OPT_LIST, "python", {"pp"}));
  options.push_back(def("module", TRELLIS_OPT_STRING, "asgi", {"app-module"}));
  options.push_back(def("pythonpath", TRELLIS_OPT_LIST, "asgi", {"pp", "python-path"}));
  const auto config = resolve(boot({"--app-module", "a:app", "--wsgi", "b:app", "--pp", "/x", "--python-path=/y"}), options);
  // The last of the three names wins; every name reaches the one option.
  EXPECT_EQ(config.get("module"), "b:app");
  EXPECT_EQ(values(config, "pythonpath"), (std::vector<std::string>{"/x", "/y"}));
  const auto by_alias = resolve(boot({"--module", "c:app"}), options);
  EXPECT_EQ(by_alias.get("module"), "c:app");
  // The core's own options are never shared.
  auto core = core_options();
  core.push_back(def("threads", TRELLIS_OPT_INT, "python", {}, 0, "1"));
  EXPECT_STREQ(error_of([&] { resolve(boot({}), core); }).what(), "option 'threads' is declared by both 'core' and 'python'");
}

TEST(Errors, TwoPluginsDeclaringOneOptionDifferentlyAreRefused) {
  auto types = core_options();
  types.push_back(def("module", TRELLIS_OPT_STRING, "python"));
  types.push_back(def("module", TRELLIS_OPT_LIST, "asgi"));
  const auto e = error_of([&] { resolve(boot({}), types); });
  EXPECT_EQ(e.kind, Kind::declaration);
  EXPECT_STREQ(e.what(), "option 'module' is declared by both 'python' and 'asgi' with different types or defaults");

  auto defaults = core_options();
  defaults.push_back(def("callable", TRELLIS_OPT_STRING, "python", {}, 0, "application"));
  defaults.push_back(def("callable", TRELLIS_OPT_STRING, "asgi", {}, 0, "app"));
  EXPECT_EQ(error_of([&] { resolve(boot({}), defaults); }).kind, Kind::declaration);

  auto shorts = core_options();
  shorts.push_back(def("module", TRELLIS_OPT_STRING, "python", {}, 'w'));
  shorts.push_back(def("module", TRELLIS_OPT_STRING, "asgi", {}, 'm'));
  EXPECT_EQ(error_of([&] { resolve(boot({}), shorts); }).kind, Kind::declaration);

  // An alias of one plugin that is another plugin's option is still a clash.
  auto alias = core_options();
  alias.push_back(def("module", TRELLIS_OPT_STRING, "python"));
  alias.push_back(def("asgi-module", TRELLIS_OPT_STRING, "asgi", {"module"}));
  EXPECT_EQ(error_of([&] { resolve(boot({}), alias); }).kind, Kind::declaration);
}

TEST(Errors, BadDefaultIsTheDeclarersFault) {
  auto options = core_options();
  options.push_back(def("backlog", TRELLIS_OPT_INT, "http", {}, 0, "lots"));
  const auto e = error_of([&] { resolve(boot({}), options); });
  EXPECT_EQ(e.kind, Kind::bad_value);
  EXPECT_STREQ(e.what(), "invalid integer 'lots' for option 'backlog' (default declared by 'http')");
}

}  // namespace
}  // namespace trellis::config::testing
