// Configuration checks (master side, no Python) and application load
// failures. Every test builds its own plugin instance; CPython itself starts
// once per process and later loads reuse it.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include "harness.hpp"

namespace trellis::test {
namespace {

using sdk::LogLevel;

const LoadedPlugin& lib() {
  static LoadedPlugin* l = new LoadedPlugin(TRELLIS_PYTHON_PLUGIN);
  return *l;
}

struct Instance {
  FakeHost* host = new FakeHost;  // never freed, like the plugin
  sdk::Plugin* plugin = nullptr;
  explicit Instance(std::initializer_list<std::pair<const char*, const char*>> opts) {
    for (auto& [k, v] : opts) host->set(k, v);
    plugin = lib().create(*host);
  }
  sdk::Runtime& rt() {
    if (!plugin) throw std::runtime_error("plugin not created: " + host->all_logs());
    return *plugin->runtime();
  }
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
  EXPECT_EQ(i.plugin->on_config(), Status::ok) << i.host->all_logs();
  Instance m({{"module", "pep3333_app:app"}, {"chdir", TRELLIS_PY_APPS}});
  EXPECT_EQ(m.plugin->on_config(), Status::ok) << m.host->all_logs();
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
  EXPECT_TRUE(i.host->logged("not both", LogLevel::error));
}

TEST(PythonConfig, NoApplicationIsAnErrorUnlessNeedAppIsOff) {
  Instance i({});
  EXPECT_EQ(i.plugin->on_config(), Status::invalid_argument);
  EXPECT_TRUE(i.host->logged("no application", LogLevel::error));
  Instance lenient({{"need-app", "false"}});
  EXPECT_EQ(lenient.plugin->on_config(), Status::ok);
  EXPECT_TRUE(lenient.host->logged("500", LogLevel::warn));
}

TEST(PythonConfig, MissingFileDirectoryOrVirtualenvAreErrors) {
  Instance f({{"wsgi-file", "/nonexistent/app.py"}});
  EXPECT_EQ(f.plugin->on_config(), Status::invalid_argument);
  EXPECT_TRUE(f.host->logged("no such file: /nonexistent/app.py"));
  Instance d({{"module", "app"}, {"chdir", "/nonexistent-dir"}});
  EXPECT_EQ(d.plugin->on_config(), Status::invalid_argument);
  EXPECT_TRUE(d.host->logged("--chdir"));
  Instance h({{"module", "app"}, {"home", "/tmp"}});
  EXPECT_EQ(h.plugin->on_config(), Status::invalid_argument);
  EXPECT_TRUE(h.host->logged("not a virtualenv"));
}

TEST(PythonConfig, RelativeWsgiFileIsResolvedAgainstChdir) {
  Instance i({{"wsgi-file", "pep3333_app.py"}, {"chdir", TRELLIS_PY_APPS}});
  EXPECT_EQ(i.plugin->on_config(), Status::ok) << i.host->all_logs();
}

// ---------------------------------------------------------------- load failures

TEST(PythonLoad, SyntaxErrorIsAnAppErrorWithTraceback) {
  Instance i({{"wsgi-file", TRELLIS_PY_APPS "/syntax_error_app.py"}});
  EXPECT_EQ(i.rt().load_application(), Status::app_error);
  EXPECT_TRUE(i.host->logged("SyntaxError", LogLevel::error)) << i.host->all_logs();
  EXPECT_TRUE(i.host->logged("syntax_error_app.py", LogLevel::error));
}

TEST(PythonLoad, MissingModuleIsAnAppError) {
  Instance i({{"module", "no_such_module_for_trellis"}});
  EXPECT_EQ(i.rt().load_application(), Status::app_error);
  EXPECT_TRUE(i.host->logged("ModuleNotFoundError: No module named 'no_such_module_for_trellis'", LogLevel::error))
      << i.host->all_logs();
}

TEST(PythonLoad, ImportErrorInsideTheFileShowsTheTraceback) {
  Instance i({{"wsgi-file", TRELLIS_PY_APPS "/raising_app.py"}});
  EXPECT_EQ(i.rt().load_application(), Status::app_error);
  EXPECT_TRUE(i.host->logged("Traceback (most recent call last)", LogLevel::error)) << i.host->all_logs();
  EXPECT_TRUE(i.host->logged("raising_app.py", LogLevel::error));
  EXPECT_TRUE(i.host->logged("helper_that_does_not_exist", LogLevel::error));
}

TEST(PythonLoad, MissingCallableIsAnAppError) {
  Instance i({{"wsgi-file", TRELLIS_PY_APPS "/pep3333_app.py"}, {"callable", "nope"}});
  EXPECT_EQ(i.rt().load_application(), Status::app_error);
  EXPECT_TRUE(i.host->logged("has no callable 'nope'", LogLevel::error)) << i.host->all_logs();
  EXPECT_TRUE(i.host->logged("AttributeError", LogLevel::error));
}

TEST(PythonLoad, NonCallableIsAnAppError) {
  Instance i({{"wsgi-file", TRELLIS_PY_APPS "/not_callable_app.py"}});
  EXPECT_EQ(i.rt().load_application(), Status::app_error);
  EXPECT_TRUE(i.host->logged("is not callable (int)", LogLevel::error)) << i.host->all_logs();
}

TEST(PythonLoad, WithoutNeedAppTheWorkerAnswers500) {
  Instance i({{"module", "no_such_module_for_trellis"}, {"need-app", "false"}});
  EXPECT_EQ(i.rt().load_application(), Status::ok);
  EXPECT_TRUE(i.host->logged("ModuleNotFoundError", LogLevel::error));
  auto r = call(i.rt(), TestRequest::get("/"));
  EXPECT_EQ(r.status, Status::app_error);
  EXPECT_EQ(r.writer.status, "500 Internal Server Error");
}

TEST(PythonLoad, ModuleWithCallableAndPythonpath) {
  Instance i({{"module", "pep3333_app:app"}, {"pythonpath", TRELLIS_PY_APPS}});
  ASSERT_EQ(i.rt().load_application(), Status::ok) << i.host->all_logs();
  EXPECT_EQ(i.rt().thread_start(), Status::ok);
  auto r = call(i.rt(), TestRequest::get("/single"));
  EXPECT_EQ(r.status, Status::ok);
  EXPECT_EQ(r.writer.body, "hello");
  i.rt().thread_stop();
}

TEST(PythonLoad, WsgiAliasDefaultCallableAndChdir) {
  Instance i({{"module", "pep3333_app"}, {"chdir", TRELLIS_PY_APPS}});
  ASSERT_EQ(i.rt().load_application(), Status::ok) << i.host->all_logs();
  auto r = call(i.rt(), TestRequest::get("/single"));  // "application" is the default callable
  EXPECT_EQ(r.writer.body, "hello");
}

}  // namespace
}  // namespace trellis::test
