// A plugin built against a newer minor of this ABI: it may call what this
// host does not have (a host function added in that minor), so the loader
// must refuse it before calling anything in it.
#include <trellis/abi.h>

#include <cstdlib>

namespace {
trellis_status must_not_be_called(const trellis_host_api*, trellis_host*, trellis_plugin_instance*) { std::abort(); }

const trellis_plugin_descriptor kDescriptor = {
    TRELLIS_DESCRIPTOR_MAGIC, sizeof(trellis_plugin_descriptor), TRELLIS_ABI_MAJOR, TRELLIS_ABI_MINOR + 1,
    TRELLIS_TOOLCHAIN_FINGERPRINT, "newer_minor", "0.0.1", TRELLIS_KIND_GENERAL, "built for a newer minor",
    nullptr, 0, sizeof(trellis_option_spec), &must_not_be_called,
};
}  // namespace

extern "C" __attribute__((visibility("default"))) const trellis_plugin_descriptor* trellis_plugin_entry(void) {
  return &kDescriptor;
}
