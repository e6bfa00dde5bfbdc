// Real frameworks (Debian's Flask and Django) through the plugin, including
// markupsafe's C extension: proves libpython's symbols are global although
// the plugin was opened RTLD_LOCAL.
#include <gtest/gtest.h>

#include "harness.hpp"

namespace trellis::test {
namespace {

struct Frameworks {
  PluginLibrary lib{TRELLIS_PYTHON_PLUGIN};
  TestCore* core = new TestCore;
  FakeHost* host = core->fake;
  Plugin* plugin = nullptr;
  Status loaded = Status::internal_error;
  Frameworks() {
    core->set("module", "dispatch_app");
    core->set("pythonpath", TRELLIS_PY_APPS);
    plugin = lib.create(*core);
    if (plugin && plugin->runtime() && plugin->on_config() == Status::ok) loaded = plugin->load_application();
  }
};

Frameworks& fw() {
  static Frameworks* f = new Frameworks;
  return *f;
}

class Framework : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(fw().loaded, Status::ok) << all_logs(*fw().host); }
  Result run(const TestRequest& t) { return call(*fw().core, *fw().plugin, t); }
};

TEST_F(Framework, FlaskHello) {
  auto r = run(TestRequest::get("/hello", "name=trellis"));
  EXPECT_EQ(r.status, Status::ok);
  EXPECT_EQ(r.response.status, "200 OK");
  EXPECT_EQ(r.response.body, "Hello trellis");
  EXPECT_EQ(r.response.header("Content-Length"), "13");
}

TEST_F(Framework, FlaskJsonUsesMarkupsafeSpeedups) {
  auto t = TestRequest::post("/json", "{\"a\": [1, 2]}");
  t.headers = {{"Content-Type", "application/json"}};
  auto r = run(t);
  EXPECT_EQ(r.status, Status::ok) << all_logs(*fw().host);
  EXPECT_NE(r.response.body.find("\"got\":{\"a\":[1,2]}"), std::string::npos) << r.response.body;
  EXPECT_NE(r.response.body.find("markupsafe._speedups"), std::string::npos) << r.response.body;
}

TEST_F(Framework, FlaskMultipartUpload) {
  std::string boundary = "XyZ";
  std::string file(5000, 'f');
  std::string body = "--XyZ\r\nContent-Disposition: form-data; name=\"field\"\r\n\r\nvalue\r\n"
                     "--XyZ\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"a.bin\"\r\n"
                     "Content-Type: application/octet-stream\r\n\r\n" + file + "\r\n--XyZ--\r\n";
  auto t = TestRequest::post("/form", body);
  t.headers = {{"Content-Type", "multipart/form-data; boundary=XyZ"}};
  t.max_chunk = 1000;
  auto r = run(t);
  EXPECT_EQ(r.status, Status::ok);
  EXPECT_NE(r.response.body.find("\"field\":\"value\""), std::string::npos) << r.response.body;
  EXPECT_NE(r.response.body.find("\"size\":5000"), std::string::npos) << r.response.body;
}

TEST_F(Framework, FlaskViewErrorIsFlasksOwn500) {
  auto r = run(TestRequest::get("/fail"));
  EXPECT_EQ(r.status, Status::ok);  // Flask handled it
  EXPECT_EQ(r.response.status, "500 INTERNAL SERVER ERROR");
  EXPECT_TRUE(logged(*fw().host, "flask view failed")) << all_logs(*fw().host);
}

TEST_F(Framework, DjangoHello) {
  auto t = TestRequest::get("/django/hello", "name=dj");
  t.headers = {{"Host", "localhost"}};
  auto r = run(t);
  EXPECT_EQ(r.status, Status::ok) << all_logs(*fw().host);
  EXPECT_EQ(r.response.status, "200 OK");
  EXPECT_EQ(r.response.body, "Hello from Django dj");
}

TEST_F(Framework, DjangoPostForm) {
  auto t = TestRequest::post("/django/post", "x=42");
  t.headers = {{"Host", "localhost"}, {"Content-Type", "application/x-www-form-urlencoded"}};
  auto r = run(t);
  EXPECT_EQ(r.status, Status::ok) << all_logs(*fw().host);
  EXPECT_NE(r.response.body.find("\"x\": \"42\""), std::string::npos) << r.response.body;
}

}  // namespace
}  // namespace trellis::test
