// A plugin that claims another compiler: refused with both fingerprints shown.
#include <trellis/abi.h>

#include <boost/dll/alias.hpp>
#include <cstdlib>

namespace {
void* must_not_be_called(void*) { std::abort(); }

const trellis_plugin_descriptor kDescriptor = {
    TRELLIS_DESCRIPTOR_MAGIC, TRELLIS_ABI_MAJOR, TRELLIS_ABI_MINOR, sizeof(trellis_plugin_descriptor),
    "othercc-99 otherlib-1 cxx11abi=0", "wrong_toolchain", "0.0.1", TRELLIS_KIND_GENERAL, "built elsewhere",
    nullptr, 0, &must_not_be_called,
};
const trellis_plugin_descriptor* entry() noexcept { return &kDescriptor; }
}  // namespace

BOOST_DLL_ALIAS(entry, trellis_plugin_entry)
