// Configuration checks (master side, no Python) and application load
// failures. Every test builds its own plugin instance; CPython itself starts
// once per process and later loads reuse it.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include "harness.hpp"

namespace trellis::test {
namespace {

using sdk::LogLevel;

const PluginLibrary& lib() {
  static PluginLibrary* l = new PluginLibrary(TRELLIS_PYTHON_PLUGIN);
  return *l;
}

// Each with a core of its own: the plugin keeps a copy of the Host handle
// it was created with, so its log lines land here and nowhere else.
struct Instance {
  TestCore* core = new TestCore;  // never freed, like the plugin
  FakeHost* host = core->fake;
  Plugin* plugin = nullptr;
  explicit Instance(std::initializer_list<std::pair<const char*, const char*>> opts) {
    for (auto& [k, v] : opts) core->set(k, v);
    plugin = lib().create(*core);
  }
  Plugin& rt() {
    if (!plugin || !plugin->runtime()) throw std::runtime_error("plugin not created: " + all_logs(*host));
    return *plugin;
  }
  std::string logs() const { return all_logs(*host); }
  bool logged(std::string_view needle, LogLevel level) const { return test::logged(*host, needle, level); }
  bool logged(std::string_view needle) const { return test::logged(*host, needle); }
};

bool python_started() {
  // libpython is global once the plugin exists (see interpreter.cpp).
  using Fn = int (*)();
  auto fn = reinterpret_cast<Fn>(::dlsym(RTLD_DEFAULT, "Py_IsInitialized"));
  return fn && fn();
}

// ---------------------------------------------------------------- on_config

TEST(PythonConfig, ValidConfigurationPassesWithoutStartingPython) {
  Instance i({{"wsgi-file", TRELLIS_PY_APPS "/pep3333_app.py"}});
  ASSERT_NE(i.plugin, nullptr);
  EXPECT_EQ(i.plugin->on_config(), Status::ok) << i.logs();
  Instance m({{"module", "pep3333_app:app"}, {"chdir", TRELLIS_PY_APPS}});
  EXPECT_EQ(m.plugin->on_config(), Status::ok) << m.logs();
}

TEST(PythonConfig, CreatingThePluginMakesLibpythonGlobal) {
  // C extensions (markupsafe) resolve Py* symbols globally although the
  // plugin was opened RTLD_LOCAL.
  Instance i({{"wsgi-file", TRELLIS_PY_APPS "/pep3333_app.py"}});
  EXPECT_NE(::dlsym(RTLD_DEFAULT, "PyFloat_Type"), nullptr);
}

TEST(PythonConfig, OnConfigNeverStartsPython) {
  // The PythonConfig tests run before any load in this binary (and ctest
  // runs each test in a process of its own): the master never starts CPython.
  Instance i({{"wsgi-file", TRELLIS_PY_APPS "/pep3333_app.py"}});
  EXPECT_EQ(i.plugin->on_config(), Status::ok);
  EXPECT_FALSE(python_started());
}

TEST(PythonConfig, BothFileAndModuleIsAnError) {
  Instance i({{"wsgi-file", TRELLIS_PY_APPS "/pep3333_app.py"}, {"module", "x"}});
  EXPECT_EQ(i.plugin->on_config(), Status::invalid_argument);
  EXPECT_TRUE(i.logged("not both", LogLevel::error));
}

TEST(PythonConfig, NoApplicationIsAnErrorUnlessNeedAppIsOff) {
  Instance i({});
  EXPECT_EQ(i.plugin->on_config(), Status::invalid_argument);
  EXPECT_TRUE(i.logged("no application", LogLevel::error));
  Instance lenient({{"need-app", "false"}});
  EXPECT_EQ(lenient.plugin->on_config(), Status::ok);
  EXPECT_TRUE(lenient.logged("500", LogLevel::warn));
}

TEST(PythonConfig, MissingFileDirectoryOrVirtualenvAreErrors) {
  Instance f({{"wsgi-file", "/nonexistent/app.py"}});
  EXPECT_EQ(f.plugin->on_config(), Status::invalid_argument);
  EXPECT_TRUE(f.logged("no such file: /nonexistent/app.py"));
  Instance d({{"module", "app"}, {"chdir", "/nonexistent-dir"}});
  EXPECT_EQ(d.plugin->on_config(), Status::invalid_argument);
  EXPECT_TRUE(d.logged("--chdir"));
  Instance h({{"module", "app"}, {"home", "/tmp"}});
  EXPECT_EQ(h.plugin->on_config(), Status::invalid_argument);
  EXPECT_TRUE(h.logged("not a virtualenv"));
}

TEST(PythonConfig, EachInstanceLogsThroughTheCoreItWasCreatedFor) {
  // The factory's Host& is one handle the export macro reuses for every
  // create(): an instance made before another must keep its own core.
  Instance first({});
  Instance second({{"wsgi-file", TRELLIS_PY_APPS "/pep3333_app.py"}});
  EXPECT_EQ(first.plugin->on_config(), Status::invalid_argument);
  EXPECT_TRUE(first.logged("no application", LogLevel::error)) << first.logs();
  EXPECT_FALSE(second.logged("no application")) << second.logs();
}

TEST(PythonConfig, RelativeWsgiFileIsResolvedAgainstChdir) {
  Instance i({{"wsgi-file", "pep3333_app.py"}, {"chdir", TRELLIS_PY_APPS}});
  EXPECT_EQ(i.plugin->on_config(), Status::ok) << i.logs();
}

// ---------------------------------------------------------------- load failures

TEST(PythonLoad, SyntaxErrorIsAnAppErrorWithTraceback) {
  Instance i({{"wsgi-file", TRELLIS_PY_APPS "/syntax_error_app.py"}});
  EXPECT_EQ(i.rt().load_application(), Status::app_error);
  EXPECT_TRUE(i.logged("SyntaxError", LogLevel::error)) << i.logs();
  EXPECT_TRUE(i.logged("syntax_error_app.py", LogLevel::error));
}

TEST(PythonLoad, MissingModuleIsAnAppError) {
  Instance i({{"module", "no_such_module_for_trellis"}});
  EXPECT_EQ(i.rt().load_application(), Status::app_error);
  EXPECT_TRUE(i.logged("ModuleNotFoundError: No module named 'no_such_module_for_trellis'", LogLevel::error))
      << i.logs();
}

TEST(PythonLoad, ImportErrorInsideTheFileShowsTheTraceback) {
  Instance i({{"wsgi-file", TRELLIS_PY_APPS "/raising_app.py"}});
  EXPECT_EQ(i.rt().load_application(), Status::app_error);
  EXPECT_TRUE(i.logged("Traceback (most recent call last)", LogLevel::error)) << i.logs();
  EXPECT_TRUE(i.logged("raising_app.py", LogLevel::error));
  EXPECT_TRUE(i.logged("helper_that_does_not_exist", LogLevel::error));
}

TEST(PythonLoad, MissingCallableIsAnAppError) {
  Instance i({{"wsgi-file", TRELLIS_PY_APPS "/pep3333_app.py"}, {"callable", "nope"}});
  EXPECT_EQ(i.rt().load_application(), Status::app_error);
  EXPECT_TRUE(i.logged("has no callable 'nope'", LogLevel::error)) << i.logs();
  EXPECT_TRUE(i.logged("AttributeError", LogLevel::error));
}

TEST(PythonLoad, NonCallableIsAnAppError) {
  Instance i({{"wsgi-file", TRELLIS_PY_APPS "/not_callable_app.py"}});
  EXPECT_EQ(i.rt().load_application(), Status::app_error);
  EXPECT_TRUE(i.logged("is not callable (int)", LogLevel::error)) << i.logs();
}

TEST(PythonLoad, WithoutNeedAppTheWorkerAnswers500) {
  Instance i({{"module", "no_such_module_for_trellis"}, {"need-app", "false"}});
  EXPECT_EQ(i.rt().load_application(), Status::ok);
  EXPECT_TRUE(i.logged("ModuleNotFoundError", LogLevel::error));
  auto r = call(*i.core, i.rt(), TestRequest::get("/"));
  EXPECT_EQ(r.status, Status::app_error);
  EXPECT_EQ(r.response.status, "500 Internal Server Error");
}

TEST(PythonLoad, ModuleWithCallableAndPythonpath) {
  Instance i({{"module", "pep3333_app:app"}, {"pythonpath", TRELLIS_PY_APPS}});
  ASSERT_EQ(i.rt().load_application(), Status::ok) << i.logs();
  EXPECT_EQ(i.rt().thread_start(0), Status::ok);
  auto r = call(*i.core, i.rt(), TestRequest::get("/single"));
  EXPECT_EQ(r.status, Status::ok);
  EXPECT_EQ(r.response.body, "hello");
  i.rt().thread_stop(0);
}

TEST(PythonLoad, WsgiAliasDefaultCallableAndChdir) {
  Instance i({{"module", "pep3333_app"}, {"chdir", TRELLIS_PY_APPS}});
  ASSERT_EQ(i.rt().load_application(), Status::ok) << i.logs();
  auto r = call(*i.core, i.rt(), TestRequest::get("/single"));  // "application" is the default callable
  EXPECT_EQ(r.response.body, "hello");
}

}  // namespace
}  // namespace trellis::test
