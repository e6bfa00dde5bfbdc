// A plugin built against a newer minor of this ABI: it may call what this
// host does not have (say, a Transport method added in that minor), so the
// loader must refuse it before calling anything in it.
#include <trellis/abi.h>

#include <boost/dll/alias.hpp>
#include <cstdlib>

namespace {
void* must_not_be_called(void*) { std::abort(); }

const trellis_plugin_descriptor kDescriptor = {
    TRELLIS_DESCRIPTOR_MAGIC, TRELLIS_ABI_MAJOR, TRELLIS_ABI_MINOR + 1, sizeof(trellis_plugin_descriptor),
    TRELLIS_TOOLCHAIN_FINGERPRINT, "newer_minor", "0.0.1", TRELLIS_KIND_GENERAL, "built for a newer minor", nullptr, 0,
    &must_not_be_called,
};
const trellis_plugin_descriptor* entry() noexcept { return &kDescriptor; }
}  // namespace

BOOST_DLL_ALIAS(entry, trellis_plugin_entry)
