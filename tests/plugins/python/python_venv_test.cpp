// --home: a virtualenv made by `python3 -m venv` is used (its
// site-packages on sys.path, sys.prefix pointing at it).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "harness.hpp"

namespace trellis::test {
namespace {

struct Venv {
  std::string dir;
  PluginLibrary lib{TRELLIS_PYTHON_PLUGIN};
  TestCore* core = new TestCore;
  Plugin* plugin = nullptr;
  Status loaded = Status::internal_error;
  std::string error;

  Venv() {
    char tmpl[] = "/tmp/trellis-py-venv-XXXXXX";
    if (!::mkdtemp(tmpl)) {
      error = "mkdtemp failed";
      return;
    }
    dir = tmpl;
    std::string cmd = "/usr/bin/python3 -m venv --without-pip " + dir + "/env";
    if (std::system(cmd.c_str()) != 0) {
      error = "cannot create a virtualenv: " + cmd;
      return;
    }
    std::ofstream(dir + "/env/lib/python3.11/site-packages/venv_marker.py") << "VALUE = 'from the venv'\n";
    core->set("wsgi-file", TRELLIS_PY_APPS "/venv_app.py");
    core->set("home", dir + "/env");
    plugin = lib.create(*core);
    if (!plugin || !plugin->runtime()) return;
    if (plugin->on_config() != Status::ok) return;
    loaded = plugin->load_application();
  }
  ~Venv() {
    if (!dir.empty()) std::system(("rm -rf " + dir).c_str());
  }
};

Venv& venv() {
  static Venv v;
  return v;
}

TEST(PythonVenv, HomeVirtualenvIsUsed) {
  ASSERT_TRUE(venv().error.empty()) << venv().error;
  ASSERT_EQ(venv().loaded, Status::ok) << all_logs(*venv().core->fake);
  auto r = call(*venv().core, *venv().plugin, TestRequest::get("/"));
  EXPECT_EQ(r.status, Status::ok);
  const std::string& b = r.response.body;
  EXPECT_NE(b.find("\"marker\": \"from the venv\""), std::string::npos) << b;
  EXPECT_NE(b.find("\"prefix\": \"" + venv().dir + "/env\""), std::string::npos) << b;
  EXPECT_NE(b.find("\"base_prefix\": \"/usr\""), std::string::npos) << b;
  EXPECT_NE(b.find("\"flask_visible\": false"), std::string::npos) << b;
}

}  // namespace
}  // namespace trellis::test
