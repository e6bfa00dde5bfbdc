// A plugin built for a future ABI major: the loader must refuse it before
// calling anything in it. The descriptor is written by hand for that reason.
#include <trellis/abi.h>

#include <boost/dll/alias.hpp>
#include <cstdlib>

namespace {
void* must_not_be_called(void*) { std::abort(); }

const trellis_plugin_descriptor kDescriptor = {
    TRELLIS_DESCRIPTOR_MAGIC, TRELLIS_ABI_MAJOR + 98, 0, sizeof(trellis_plugin_descriptor),
    TRELLIS_TOOLCHAIN_FINGERPRINT, "wrong_abi", "0.0.1", TRELLIS_KIND_GENERAL, "built for ABI 99", nullptr, 0,
    &must_not_be_called,
};
const trellis_plugin_descriptor* entry() noexcept { return &kDescriptor; }
}  // namespace

BOOST_DLL_ALIAS(entry, trellis_plugin_entry)
