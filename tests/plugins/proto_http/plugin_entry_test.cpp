// The built http_plugin.so: its descriptor, its options, and one request
// served through the C tables the core uses (abi.h), not the C++ classes.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <string_view>

#include "test_support.hpp"

namespace trellis::http::test {
namespace {

const trellis_plugin_descriptor* load_descriptor() {
  static void* handle = dlopen(TRELLIS_HTTP_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
  if (!handle) return nullptr;
  // The one exported symbol: a C function returning the descriptor.
  auto entry = reinterpret_cast<trellis_plugin_entry_fn>(dlsym(handle, TRELLIS_ENTRY_SYMBOL));
  return entry ? entry() : nullptr;
}

TEST(PluginEntry, Descriptor) {
  const trellis_plugin_descriptor* d = load_descriptor();
  ASSERT_NE(d, nullptr) << dlerror();
  EXPECT_EQ(d->magic, TRELLIS_DESCRIPTOR_MAGIC);
  EXPECT_EQ(d->abi_major, TRELLIS_ABI_MAJOR);
  EXPECT_EQ(std::string_view(d->name), "http");
  EXPECT_EQ(d->kind, static_cast<std::uint32_t>(TRELLIS_KIND_PROTOCOL));
  EXPECT_EQ(std::string_view(d->toolchain), TRELLIS_TOOLCHAIN_FINGERPRINT);
  EXPECT_EQ(d->option_size, sizeof(trellis_option_spec));
  ASSERT_EQ(d->option_count, 2u);
  EXPECT_EQ(std::string_view(d->options[0].name), "http-socket");
  EXPECT_EQ(d->options[0].type, static_cast<std::uint32_t>(TRELLIS_OPT_LIST));
  EXPECT_EQ(std::string_view(d->options[0].value_name), "ADDR");
  EXPECT_EQ(std::string_view(d->options[1].name), "http-max-fields");
}

// Feeds `in` through the session table; returns how many bytes it took.
std::size_t feed(const trellis_session_table* t, void* self, std::string_view in) {
  std::size_t pos = 0;
  while (pos < in.size()) {
    trellis_str space = t->read_space(self);
    if (space.len == 0) break;
    std::size_t n = std::min(space.len, in.size() - pos);
    std::memcpy(const_cast<char*>(space.ptr), in.data() + pos, n);
    pos += n;
    t->on_received(self, n);
  }
  return pos;
}

TEST(PluginEntry, ServesARequestWithConfiguredLimits) {
  const trellis_plugin_descriptor* d = load_descriptor();
  ASSERT_NE(d, nullptr);
  // Plugins are never unloaded or freed; keeping the host and the instance
  // reachable from statics tells LeakSanitizer so.
  static FakeHost host;
  host.options["buffer-size"] = {"600"};
  static trellis_plugin_instance inst{};
  inst.size = sizeof inst;
  ASSERT_EQ(d->create(host.api(), host.host().raw(), &inst), TRELLIS_OK);
  EXPECT_EQ(inst.table->on_config(inst.self), TRELLIS_OK);
  void* proto_self = nullptr;
  const trellis_protocol_table* proto = inst.table->protocol(inst.self, &proto_self);
  ASSERT_NE(proto, nullptr);
  EXPECT_EQ(inst.table->runtime(inst.self, &proto_self), nullptr);
  EXPECT_EQ(std::string_view(proto->name), "http");
  EXPECT_EQ(std::string_view(proto->socket_option), "http-socket");

  FakeConnection& c = host.connection();
  void* self = nullptr;
  const trellis_session_table* t = proto->open_session(proto_self, reinterpret_cast<trellis_conn*>(&c), &self);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->phase(self), static_cast<std::uint32_t>(TRELLIS_PHASE_IDLE));
  std::string in = "GET /x HTTP/1.1\r\nHost: a\r\n\r\n";
  EXPECT_EQ(feed(t, self, in), in.size());
  ASSERT_EQ(host.streams.size(), 1u);
  EXPECT_EQ(host.streams[0]->head.path, "/x");
  EXPECT_EQ(t->phase(self), static_cast<std::uint32_t>(TRELLIS_PHASE_BUSY));
  sdk::Stream rt = host.runtime_handle(*host.streams[0]);
  default_responder(rt.request(), rt);
  EXPECT_TRUE(host.streams[0]->closed);
  EXPECT_EQ(host.streams[0]->summary.status, 200);
  EXPECT_TRUE(c.wire.starts_with("HTTP/1.1 200 OK\r\n"));
  EXPECT_EQ(c.closes, 0);
  // buffer-size 600 applies: a 700-byte head is refused.
  std::string big = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(700, 'a') + "\r\n\r\n";
  feed(t, self, big);
  EXPECT_EQ(c.closes, 1);
  EXPECT_EQ(c.close_mode, static_cast<std::uint32_t>(TRELLIS_CLOSE_GRACEFUL));
  EXPECT_NE(c.wire.find("HTTP/1.1 431 "), std::string::npos);
  EXPECT_TRUE(host.logged("http: refused a request with 431"));
  t->release(self);

  // check_head, as the core calls it from any thread.
  trellis_field bad[] = {{{"X-A", 3}, {"a\r\nb", 4}}};
  trellis_response_head h{};
  h.size = sizeof h;
  h.status = {"200 OK", 6};
  EXPECT_EQ(proto->check_head(proto_self, &h, nullptr), TRELLIS_OK);
  h.headers = bad;
  h.header_count = 1;
  EXPECT_EQ(proto->check_head(proto_self, &h, nullptr), TRELLIS_INVALID_ARGUMENT);
  h.header_count = 0;
  h.status = {"103 Early Hints", 15};
  EXPECT_EQ(proto->check_head(proto_self, &h, nullptr), TRELLIS_INVALID_ARGUMENT);

  host.options["http-max-fields"] = {"0"};
  EXPECT_EQ(inst.table->on_config(inst.self), TRELLIS_INVALID_ARGUMENT);
  EXPECT_TRUE(host.logged("http-max-fields 0 out of range"));
}

}  // namespace
}  // namespace trellis::http::test
