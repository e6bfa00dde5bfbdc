// Real frameworks (Debian's Flask and Django) through the plugin, including
// markupsafe's C extension: proves libpython's symbols are global although
// the plugin was opened RTLD_LOCAL.
#include <gtest/gtest.h>

#include "harness.hpp"

namespace trellis::test {
namespace {

struct Frameworks {
  LoadedPlugin lib{TRELLIS_PYTHON_PLUGIN};
  FakeHost* host = new FakeHost;
  sdk::Plugin* plugin = nullptr;
  Status loaded = Status::internal_error;
  Frameworks() {
    host->set("module", "dispatch_app");
    host->set("pythonpath", TRELLIS_PY_APPS);
    plugin = lib.create(*host);
    if (plugin && plugin->on_config() == Status::ok) loaded = plugin->runtime()->load_application();
  }
};

Frameworks& fw() {
  static Frameworks* f = new Frameworks;
  return *f;
}

class Framework : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(fw().loaded, Status::ok) << fw().host->all_logs(); }
  Result run(const TestRequest& t) { return call(*fw().plugin->runtime(), t); }
};

TEST_F(Framework, FlaskHello) {
  auto r = run(TestRequest::get("/hello", "name=trellis"));
  EXPECT_EQ(r.status, Status::ok);
  EXPECT_EQ(r.writer.status, "200 OK");
  EXPECT_EQ(r.writer.body, "Hello trellis");
  EXPECT_EQ(r.writer.header("Content-Length"), "13");
}

TEST_F(Framework, FlaskJsonUsesMarkupsafeSpeedups) {
  auto t = TestRequest::post("/json", "{\"a\": [1, 2]}");
  t.headers = {{"Content-Type", "application/json"}};
  auto r = run(t);
  EXPECT_EQ(r.status, Status::ok) << fw().host->all_logs();
  EXPECT_NE(r.writer.body.find("\"got\":{\"a\":[1,2]}"), std::string::npos) << r.writer.body;
  EXPECT_NE(r.writer.body.find("markupsafe._speedups"), std::string::npos) << r.writer.body;
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
  EXPECT_NE(r.writer.body.find("\"field\":\"value\""), std::string::npos) << r.writer.body;
  EXPECT_NE(r.writer.body.find("\"size\":5000"), std::string::npos) << r.writer.body;
}

TEST_F(Framework, FlaskViewErrorIsFlasksOwn500) {
  auto r = run(TestRequest::get("/fail"));
  EXPECT_EQ(r.status, Status::ok);  // Flask handled it
  EXPECT_EQ(r.writer.status, "500 INTERNAL SERVER ERROR");
  EXPECT_TRUE(fw().host->logged("flask view failed")) << fw().host->all_logs();
}

TEST_F(Framework, DjangoHello) {
  auto t = TestRequest::get("/django/hello", "name=dj");
  t.headers = {{"Host", "localhost"}};
  auto r = run(t);
  EXPECT_EQ(r.status, Status::ok) << fw().host->all_logs();
  EXPECT_EQ(r.writer.status, "200 OK");
  EXPECT_EQ(r.writer.body, "Hello from Django dj");
}

TEST_F(Framework, DjangoPostForm) {
  auto t = TestRequest::post("/django/post", "x=42");
  t.headers = {{"Host", "localhost"}, {"Content-Type", "application/x-www-form-urlencoded"}};
  auto r = run(t);
  EXPECT_EQ(r.status, Status::ok) << fw().host->all_logs();
  EXPECT_NE(r.writer.body.find("\"x\": \"42\""), std::string::npos) << r.writer.body;
}

}  // namespace
}  // namespace trellis::test
