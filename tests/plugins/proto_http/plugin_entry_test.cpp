// The built http_plugin.so: its descriptor, its options, and one request
// served through the Protocol interface the core uses.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <string_view>

#include "test_support.hpp"
#include "trellis/plugin.hpp"

namespace trellis::http::test {
namespace {

const trellis_plugin_descriptor* load_descriptor() {
  static void* handle = dlopen(TRELLIS_HTTP_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
  if (!handle) return nullptr;
  // BOOST_DLL_ALIAS exports a pointer to the entry function.
  auto* entry = reinterpret_cast<trellis_plugin_entry_fn*>(dlsym(handle, TRELLIS_ENTRY_SYMBOL));
  return entry ? (*entry)() : nullptr;
}

TEST(PluginEntry, Descriptor) {
  const trellis_plugin_descriptor* d = load_descriptor();
  ASSERT_NE(d, nullptr) << dlerror();
  EXPECT_EQ(d->magic, TRELLIS_DESCRIPTOR_MAGIC);
  EXPECT_EQ(d->abi_major, TRELLIS_ABI_MAJOR);
  EXPECT_EQ(std::string_view(d->name), "http");
  EXPECT_EQ(d->kind, TRELLIS_KIND_PROTOCOL);
  EXPECT_EQ(std::string_view(d->toolchain), TRELLIS_TOOLCHAIN_FINGERPRINT);
  ASSERT_GE(d->option_count, 1u);
  EXPECT_EQ(std::string_view(d->options[0].name), "http-socket");
  EXPECT_EQ(d->options[0].type, TRELLIS_OPT_LIST);
  EXPECT_EQ(std::string_view(d->options[0].value_name), "ADDR");
}

TEST(PluginEntry, ServesARequestWithConfiguredLimits) {
  const trellis_plugin_descriptor* d = load_descriptor();
  ASSERT_NE(d, nullptr);
  // Plugins are never unloaded or freed; keeping both reachable from a
  // static tells LeakSanitizer so.
  static FakeHost host;
  host.options["buffer-size"] = {"600"};
  static auto* plugin = static_cast<sdk::Plugin*>(d->create(&host));
  ASSERT_NE(plugin, nullptr);
  EXPECT_EQ(plugin->on_config(), sdk::Status::ok);
  sdk::Protocol* proto = plugin->protocol();
  ASSERT_NE(proto, nullptr);
  EXPECT_EQ(proto->socket_option(), "http-socket");

  FakeTransport t;
  sdk::Session* s = proto->open_session(t);
  ASSERT_NE(s, nullptr);
  std::string in = "GET /x HTTP/1.1\r\nHost: a\r\n\r\n";
  std::memcpy(s->read_space().data(), in.data(), in.size());
  ASSERT_EQ(s->on_received(in.size()), sdk::Progress::request_ready);
  EXPECT_EQ(s->request().path, "/x");
  default_responder(s->request(), s->response());
  EXPECT_EQ(s->finish_request(), sdk::Progress::need_more);
  // buffer-size 600 applies: a 700-byte head is refused.
  std::string big = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(700, 'a') + "\r\n\r\n";
  sdk::Progress p = sdk::Progress::need_more;
  for (std::size_t pos = 0; pos < big.size() && p == sdk::Progress::need_more;) {
    std::span<char> space = s->read_space();
    std::size_t n = std::min(space.size(), big.size() - pos);
    std::memcpy(space.data(), big.data() + pos, n);
    pos += n;
    p = s->on_received(n);
  }
  EXPECT_EQ(p, sdk::Progress::respond_and_close);
  EXPECT_EQ(s->pending_output().substr(0, 12), "HTTP/1.1 431");
  s->release();

  host.options["http-max-fields"] = {"0"};
  EXPECT_EQ(plugin->on_config(), sdk::Status::invalid_argument);
}

}  // namespace
}  // namespace trellis::http::test
