// Phase 2: every source gives the same result; precedence; types; defaults.
#include "test_support.hpp"

#include <unistd.h>

namespace trellis::config::testing {
namespace {

// The interesting part of a Config, for comparing sources.
std::map<std::string, std::vector<std::string>> snapshot(const Config& config) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto* name : {"processes", "threads", "master", "lazy-apps", "env", "pidfile", "wsgi-file", "pythonpath",
                           "http-socket"})
    out[name] = values(config, name);
  return out;
}

TEST(Resolve, SameSettingsFromEverySourceGiveTheSameConfig) {
  TempDir dir;
  const std::string body =
      "processes = 4\nthreads = 2\nmaster = true\nenv = A=1\nenv = B=2\npidfile = /run/t.pid\n"
      "wsgi-file = app.py\npythonpath = /srv/a\nhttp-socket = :8080\n";
  const auto trellis_ini = dir.write("t.ini", "[trellis]\n" + body);
  const auto uwsgi_ini = dir.write("u.ini", "[uwsgi]\n" + body);

  const auto from_argv = load({"--processes", "4", "--threads=2", "--master", "--env", "A=1", "--env=B=2",
                               "--pidfile", "/run/t.pid", "-w", "app.py", "--pythonpath", "/srv/a",
                               "--http-socket", ":8080"});
  const auto from_trellis_ini = load({"--ini", trellis_ini});
  const auto from_uwsgi_ini = load({uwsgi_ini});
  // The environment has one value per variable, so the LIST gets one "env".
  const auto from_env = load({"--env", "A=1", "--env", "B=2"},
                             {{"TRELLIS_PROCESSES", "4"}, {"TRELLIS_THREADS", "2"}, {"TRELLIS_MASTER", "1"},
                              {"TRELLIS_PIDFILE", "/run/t.pid"}, {"TRELLIS_WSGI_FILE", "app.py"},
                              {"TRELLIS_PYTHONPATH", "/srv/a"}, {"TRELLIS_HTTP_SOCKET", ":8080"}});

  const auto expected = snapshot(from_argv);
  EXPECT_EQ(expected.at("processes"), std::vector<std::string>{"4"});
  EXPECT_EQ(expected.at("master"), std::vector<std::string>{"true"});
  EXPECT_EQ(expected.at("env"), (std::vector<std::string>{"A=1", "B=2"}));
  EXPECT_EQ(expected.at("lazy-apps"), std::vector<std::string>{"false"});  // default
  EXPECT_EQ(snapshot(from_trellis_ini), expected);
  EXPECT_EQ(snapshot(from_uwsgi_ini), expected);
  EXPECT_EQ(snapshot(from_env), expected);
  EXPECT_EQ(from_env.integer("processes", 0), 4);
  EXPECT_EQ(from_uwsgi_ini.get("wsgi-file"), "app.py");
}

TEST(Resolve, CommandLineBeatsEnvironmentBeatsIni) {
  TempDir dir;
  const auto ini = dir.write("app.ini", "[trellis]\nprocesses = 2\nthreads = 3\npidfile = /ini\n");
  const auto config = load({ini, "--processes", "8"}, {{"TRELLIS_PROCESSES", "5"}, {"TRELLIS_THREADS", "6"}});
  EXPECT_EQ(config.integer("processes", 0), 8);
  EXPECT_EQ(config.origin("processes"), "--processes");
  EXPECT_EQ(config.integer("threads", 0), 6);
  EXPECT_EQ(config.origin("threads"), "TRELLIS_THREADS");
  EXPECT_EQ(config.get("pidfile"), "/ini");
  EXPECT_EQ(config.origin("pidfile"), ini + ":4");
}

TEST(Resolve, WithinOneSourceTheLastOneWins) {
  TempDir dir;
  const auto ini = dir.write("app.ini", "[trellis]\nprocesses = 2\nworkers = 3\n");
  EXPECT_EQ(load({ini}).integer("processes", 0), 3);
  EXPECT_EQ(load({"-p", "2", "--workers=7", "--processes", "9"}).integer("processes", 0), 9);
}

TEST(Resolve, ListsAccumulateFromEverySourceInOrderIniEnvCommandLine) {
  TempDir dir;
  const auto ini = dir.write("app.ini", "[trellis]\npythonpath = /ini1\npython-path = /ini2\n");
  const auto config = load({"--pythonpath=/argv1", ini, "--python-path", "/argv2"}, {{"TRELLIS_PYTHONPATH", "/env"}});
  EXPECT_EQ(values(config, "pythonpath"), (std::vector<std::string>{"/ini1", "/ini2", "/env", "/argv1", "/argv2"}));
  EXPECT_EQ(values(config, "python-path"), values(config, "pythonpath"));  // aliases read the same option
}

TEST(Resolve, FlagsInEverySpelling) {
  TempDir dir;
  const std::vector<std::pair<std::string, bool>> ini_cases = {
      {"master", true},          {"master = true", true}, {"master = 1", true},  {"master = yes", true},
      {"master = on", true},     {"master = ON", true},   {"master = false", false}, {"master = 0", false},
      {"master = no", false},    {"master = off", false},
  };
  for (const auto& [line, expected] : ini_cases) {
    const auto ini = dir.write("flag.ini", "[trellis]\n" + line + "\n");
    const auto config = load({ini});
    EXPECT_EQ(config.flag("master"), expected) << line;
    EXPECT_TRUE(config.was_set("master")) << line;
  }
  EXPECT_TRUE(load({"--master"}).flag("master"));
  EXPECT_FALSE(load({"--master=false"}).flag("master"));
  EXPECT_TRUE(load({"--master=yes"}).flag("master"));
  EXPECT_TRUE(load({}, {{"TRELLIS_MASTER", "1"}}).flag("master"));
  EXPECT_FALSE(load({}, {{"TRELLIS_MASTER", "off"}}).flag("master"));
  EXPECT_FALSE(load({}).flag("master"));
  EXPECT_FALSE(load({}).was_set("master"));
  // A flag never swallows the next argument: that is an ini file here.
  const auto ini = dir.write("p.ini", "[trellis]\nprocesses = 6\n");
  const auto config = load({"--master", ini});
  EXPECT_TRUE(config.flag("master"));
  EXPECT_EQ(config.integer("processes", 0), 6);
}

TEST(Resolve, DefaultsApplyOnlyWhenNothingSetTheOption) {
  const auto defaults = load({});
  EXPECT_EQ(defaults.integer("processes", 0), 1);
  EXPECT_EQ(defaults.integer("buffer-size", 0), 32768);
  EXPECT_FALSE(defaults.was_set("processes"));
  EXPECT_EQ(defaults.origin("processes"), "default");
  EXPECT_FALSE(defaults.get("pidfile").has_value());
  EXPECT_TRUE(defaults.values("pidfile").empty());
  EXPECT_EQ(defaults.integer("pidfile", 42), 42);

  const auto set = load({"-b", "65536"});
  EXPECT_EQ(set.integer("buffer-size", 0), 65536);
  EXPECT_TRUE(set.was_set("buffer-size"));
}

TEST(Resolve, ShortNamesAliasesAndStickyValues) {
  const auto config = load({"-p4", "-w", "wsgi.py"});
  EXPECT_EQ(config.integer("workers", 0), 4);
  EXPECT_EQ(config.get("file"), "wsgi.py");
  ASSERT_NE(config.find("workers"), nullptr);
  EXPECT_EQ(config.find("workers")->name, "processes");
}

TEST(Resolve, AppliedSettingsUseCanonicalNamesInOrder) {
  TempDir dir;
  const auto ini = dir.write("a.ini", "[trellis]\nworkers = 2\n");
  const auto config = load({"--master", ini}, {{"TRELLIS_THREADS", "3"}});
  const auto& applied = config.applied();
  ASSERT_EQ(applied.size(), 3u);
  EXPECT_EQ(applied[0].key, "processes");
  EXPECT_EQ(applied[0].source, Source::ini);
  EXPECT_EQ(applied[1].key, "threads");
  EXPECT_EQ(applied[1].source, Source::environment);
  EXPECT_EQ(applied[2].key, "master");
  EXPECT_EQ(applied[2].value, "true");
  EXPECT_EQ(applied[2].source, Source::command_line);
}

TEST(Resolve, BootstrapOptionsAreOrdinaryOptionsInPhaseTwo) {
  const auto config = load({"--plugin", "python,http", "--plugins-list", "--plugin-dir", "/opt/p"},
                           {{"TRELLIS_PLUGIN_DIR", "/env/p"}});
  EXPECT_TRUE(config.flag("plugins-list"));
  EXPECT_EQ(values(config, "plugin-dir"), (std::vector<std::string>{"/env/p", "/opt/p"}));
}

TEST(Resolve, IgnoredEnvironmentVariablesNeverReachPhaseTwo) {
  BootstrapOptions options;
  options.ignore_env = {"TRELLIS_TEST_TMPDIR", "TRELLIS_LOG_FD"};
  const auto b = boot({}, {{"TRELLIS_TEST_TMPDIR", "/tmp"}, {"TRELLIS_LOG_FD", "3"}, {"TRELLIS_THREADS", "2"}}, options);
  const auto config = resolve(b, core_options());
  EXPECT_EQ(config.integer("threads", 0), 2);
}

TEST(Resolve, LenientUwsgiSectionsSkipUnknownKeysWithAWarning) {
  TempDir dir;
  const auto ini = dir.write("legacy.ini", "[uwsgi]\nvacuum = true\nprocesses = 3\n");
  ResolveOptions lenient;
  lenient.lenient_uwsgi_sections = true;
  const auto config = resolve(boot({ini}), core_options(), {}, lenient);
  EXPECT_EQ(config.integer("processes", 0), 3);
  ASSERT_EQ(config.warnings().size(), 1u);
  EXPECT_NE(config.warnings()[0].find("vacuum"), std::string::npos);
  // Strict by default.
  EXPECT_EQ(error_of([&] { resolve(boot({ini}), core_options()); }).kind, ConfigError::Kind::unknown_option);
}

TEST(Resolve, PlaceholderValuesReachOptions) {
  TempDir dir;
  const auto ini = dir.write("app.ini",
                             "[trellis]\n"
                             "base = /srv/app\n"
                             "pidfile = %(base)/run.pid\n"
                             "pythonpath = %(base)/lib\n"
                             "pythonpath = %(base)\n"
                             "http-socket = :8080\n"
                             "env = SOCKET=%(http-socket)\n"
                             "processes = %k\n");
  const auto config = load({ini});
  EXPECT_EQ(config.get("pidfile"), "/srv/app/run.pid");
  EXPECT_EQ(values(config, "pythonpath"), (std::vector<std::string>{"/srv/app/lib", "/srv/app"}));
  EXPECT_EQ(values(config, "env"), std::vector<std::string>{"SOCKET=:8080"});
  EXPECT_EQ(config.integer("processes", 0), sysconf(_SC_NPROCESSORS_ONLN));
  EXPECT_TRUE(config.warnings().empty());
  EXPECT_FALSE(config.find("base"));
}

TEST(Resolve, KeysUsedAsPlaceholdersAreNotReportedAsIgnored) {
  TempDir dir;
  const auto ini = dir.write("legacy.ini",
                             "[uwsgi]\n"
                             "base = /srv/app\n"
                             "unused = 1\n"
                             "chdir = %(base)\n"       // not a trellis option, not used: warned
                             "pythonpath = %(base)/lib\n");
  ResolveOptions lenient;
  lenient.lenient_uwsgi_sections = true;
  const auto options = join(core_options(), python_options());
  const auto config = resolve(boot({ini}), options, {}, lenient);
  EXPECT_EQ(values(config, "pythonpath"), std::vector<std::string>{"/srv/app/lib"});
  ASSERT_EQ(config.warnings().size(), 2u);
  EXPECT_NE(config.warnings()[0].find("'unused'"), std::string::npos);
  EXPECT_NE(config.warnings()[1].find("'chdir'"), std::string::npos);
  for (const auto& w : config.warnings()) EXPECT_EQ(w.find("'base'"), std::string::npos) << w;
}

TEST(Resolve, PlaceholderKeysInTrellisSectionsAreNotErrorsButOtherUnknownKeysAre) {
  TempDir dir;
  const auto ok = dir.write("ok.ini", "[trellis]\nbase = /srv/app\npidfile = %(base)/pid\n");
  EXPECT_EQ(load({ok}).get("pidfile"), "/srv/app/pid");

  const auto unused = dir.write("unused.ini", "[trellis]\nbase = /srv/app\npidfile = /pid\n");
  const auto e = error_of([&] { load({unused}); });
  EXPECT_EQ(e.kind, ConfigError::Kind::unknown_option);
  EXPECT_EQ(e.unknown_key, "base");

  // A placeholder key that a not-loaded plugin provides still says so (the
  // core loads that plugin for [uwsgi] files).
  const auto plugin = dir.write("plugin.ini", "[trellis]\nwsgi-file = app.py\npidfile = %(wsgi-file).pid\n");
  const auto p = error_of([&] { load_core_only({plugin}); });
  EXPECT_EQ(p.kind, ConfigError::Kind::plugin_not_loaded);
  EXPECT_EQ(p.provider_plugin, "python");
}

}  // namespace
}  // namespace trellis::config::testing
