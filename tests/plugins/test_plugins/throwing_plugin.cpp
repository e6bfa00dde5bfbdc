// A plugin whose constructor throws: the exception must stay inside the
// plugin and come out as a clean "failed to initialise".
#include <trellis/plugin.hpp>

#include <stdexcept>

namespace {
class ThrowingPlugin final : public trellis::sdk::Plugin {
 public:
  explicit ThrowingPlugin(trellis::sdk::Host&) { throw std::runtime_error("boom during init"); }
};
}  // namespace

TRELLIS_PLUGIN("throwing", TRELLIS_KIND_GENERAL, "0.1", "throws from its constructor", TRELLIS_NO_OPTIONS,
               [](trellis::sdk::Host& host) { return new ThrowingPlugin(host); })
