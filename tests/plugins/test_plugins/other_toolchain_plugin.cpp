// A plugin that says it was built by another compiler and standard library.
// Since ABI 2 the boundary is C, so the fingerprint is informative: it loads.
// Written by hand, with no C++ layer, as a plugin in plain C would be.
#include <trellis/abi.h>

namespace {
const trellis_plugin_table kTable = {sizeof(trellis_plugin_table)};  // every hook left out: defaults
int g_self;

trellis_status create(const trellis_host_api* api, trellis_host* host, trellis_plugin_instance* out) {
  const char text[] = "created although built elsewhere";
  api->log(host, TRELLIS_LOG_INFO, {text, sizeof text - 1});
  out->table = &kTable;
  out->self = &g_self;
  return TRELLIS_OK;
}

const trellis_plugin_descriptor kDescriptor = {
    TRELLIS_DESCRIPTOR_MAGIC, sizeof(trellis_plugin_descriptor), TRELLIS_ABI_MAJOR, TRELLIS_ABI_MINOR,
    "othercc-99 otherlib-1", "other_toolchain", "0.0.1", TRELLIS_KIND_GENERAL, "built elsewhere",
    nullptr, 0, sizeof(trellis_option_spec), &create,
};
}  // namespace

extern "C" __attribute__((visibility("default"))) const trellis_plugin_descriptor* trellis_plugin_entry(void) {
  return &kDescriptor;
}
