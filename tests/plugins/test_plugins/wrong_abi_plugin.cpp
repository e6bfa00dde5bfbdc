// A plugin built for a future ABI major: the loader must refuse it before
// calling anything in it. The descriptor is written by hand for that reason.
#include <trellis/abi.h>

#include <cstdlib>

namespace {
trellis_status must_not_be_called(const trellis_host_api*, trellis_host*, trellis_plugin_instance*) { std::abort(); }

const trellis_plugin_descriptor kDescriptor = {
    TRELLIS_DESCRIPTOR_MAGIC, sizeof(trellis_plugin_descriptor), TRELLIS_ABI_MAJOR + 97, 0,
    TRELLIS_TOOLCHAIN_FINGERPRINT, "wrong_abi", "0.0.1", TRELLIS_KIND_GENERAL, "built for ABI 99",
    nullptr, 0, sizeof(trellis_option_spec), &must_not_be_called,
};
}  // namespace

extern "C" __attribute__((visibility("default"))) const trellis_plugin_descriptor* trellis_plugin_entry(void) {
  return &kDescriptor;
}
