// The loader against real shared objects: a good plugin, one without an
// entry, one for another ABI major, one from another toolchain (loaded: the
// boundary is C), one whose constructor throws.
#include <gtest/gtest.h>

#include "plugins/plugin_loader.hpp"

namespace fs = std::filesystem;
using trellis::core::HostContext;
using trellis::core::LoadError;
using trellis::core::PluginLoader;

namespace {

std::string load_error(PluginLoader& loader, const std::string& request) {
  try {
    loader.load(request);
  } catch (const LoadError& e) {
    return e.what();
  }
  return "";
}

std::string in_dir(const char* file) { return (fs::path(TEST_PLUGIN_DIR) / file).string(); }

const std::string kHostAbi = std::to_string(TRELLIS_ABI_MAJOR) + "." + std::to_string(TRELLIS_ABI_MINOR);

TEST(PluginLoader, LoadsAGoodPluginByNameAndReadsItsDescriptor) {
  PluginLoader loader({TEST_PLUGIN_DIR});
  auto& r = loader.load("good");
  EXPECT_EQ(r.name, "good");
  EXPECT_STREQ(r.descriptor->version, "1.2.3");
  EXPECT_EQ(r.descriptor->kind, TRELLIS_KIND_GENERAL);
  ASSERT_EQ(r.descriptor->option_count, 1u);
  EXPECT_STREQ(r.descriptor->options[0].name, "good-greeting");
  HostContext context;
  loader.create(r, context);
  EXPECT_TRUE(r.instance);
}

TEST(PluginLoader, TheSamePluginTwiceLoadsOnce) {
  PluginLoader loader({TEST_PLUGIN_DIR});
  auto& a = loader.load("good");
  auto& b = loader.load(in_dir("good_plugin.so"));
  auto& c = loader.load("good");
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(&a, &c);
  EXPECT_EQ(loader.loaded().size(), 1u);
}

TEST(PluginLoader, NotFoundListsEveryDirectorySearched) {
  PluginLoader loader({"/nonexistent/one", TEST_PLUGIN_DIR});
  std::string msg = load_error(loader, "missing");
  EXPECT_NE(msg.find("plugin 'missing' not found"), std::string::npos) << msg;
  EXPECT_NE(msg.find("/nonexistent/one/missing_plugin.so"), std::string::npos) << msg;
  EXPECT_NE(msg.find(in_dir("missing_plugin.so")), std::string::npos) << msg;
}

TEST(PluginLoader, NotFoundForAPackagedPluginNamesThePackage) {
  PluginLoader loader({"/nonexistent"});
  EXPECT_NE(load_error(loader, "python").find("trellis-plugin-python"), std::string::npos);
}

TEST(PluginLoader, RefusesASharedObjectWithoutEntry) {
  PluginLoader loader({TEST_PLUGIN_DIR});
  std::string msg = load_error(loader, in_dir("no_entry_plugin.so"));
  EXPECT_NE(msg.find("is not a trellis plugin"), std::string::npos) << msg;
  EXPECT_NE(msg.find("trellis_plugin_entry"), std::string::npos) << msg;
}

TEST(PluginLoader, RefusesAnotherAbiMajorShowingBothSides) {
  PluginLoader loader({TEST_PLUGIN_DIR});
  std::string msg = load_error(loader, "wrong_abi");
  EXPECT_NE(msg.find("ABI 99.0"), std::string::npos) << msg;
  EXPECT_NE(msg.find("provides ABI " + kHostAbi), std::string::npos) << msg;
}

TEST(PluginLoader, RefusesANewerAbiMinor) {
  PluginLoader loader({TEST_PLUGIN_DIR});
  std::string msg = load_error(loader, "newer_minor");
  std::string newer = std::to_string(TRELLIS_ABI_MAJOR) + "." + std::to_string(TRELLIS_ABI_MINOR + 1);
  EXPECT_NE(msg.find("ABI " + newer), std::string::npos) << msg;
  EXPECT_NE(msg.find("provides ABI " + kHostAbi), std::string::npos) << msg;
}

TEST(PluginLoader, AnotherToolchainLoads) {
  // Since ABI 2 nothing of C++ crosses the boundary: the fingerprint is
  // only shown (--plugins-list), never a reason to refuse.
  PluginLoader loader({TEST_PLUGIN_DIR});
  auto& r = loader.load("other_toolchain");
  EXPECT_STREQ(r.descriptor->toolchain, "othercc-99 otherlib-1");
  HostContext context;
  loader.create(r, context);
  EXPECT_TRUE(r.instance);
  // Its table has no hook at all: each one's default applies.
  EXPECT_EQ(r.instance.on_config(), TRELLIS_OK);
  void* self = nullptr;
  EXPECT_EQ(r.instance.runtime(&self), nullptr);
}

TEST(PluginLoader, AConstructorThatThrowsFailsCleanly) {
  PluginLoader loader({TEST_PLUGIN_DIR});
  auto& r = loader.load("throwing");
  HostContext context;
  try {
    loader.create(r, context);
    FAIL() << "create() should have failed";
  } catch (const LoadError& e) {
    EXPECT_NE(std::string(e.what()).find("plugin 'throwing'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("failed to initialise"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(r.instance);
}

TEST(PluginLoader, UwsgiSpellingsMapToOurNames) {
  EXPECT_EQ(trellis::core::canonical_plugin_name("python3"), "python");
  EXPECT_EQ(trellis::core::canonical_plugin_name("python39"), "python");
  EXPECT_EQ(trellis::core::canonical_plugin_name("python3.11"), "python");
  EXPECT_EQ(trellis::core::canonical_plugin_name("pythonista"), "pythonista");
  EXPECT_EQ(trellis::core::canonical_plugin_name("http"), "http");
}

TEST(PluginLoader, ScanFindsPluginsNotLoaded) {
  PluginLoader loader({TEST_PLUGIN_DIR});
  loader.load("good");
  bool found_testapp = false, found_good = false;
  for (auto* r : loader.scan_available()) {
    found_testapp |= r->name == "testapp";
    found_good |= r->name == "good";
  }
  EXPECT_TRUE(found_testapp);
  EXPECT_FALSE(found_good);  // already loaded
}

}  // namespace
