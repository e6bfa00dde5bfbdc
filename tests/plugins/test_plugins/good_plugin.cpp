// A well-formed general plugin with one option, for the loader tests.
#include <trellis/plugin.hpp>

namespace {
class GoodPlugin final : public trellis::sdk::Plugin {
 public:
  explicit GoodPlugin(trellis::sdk::Host& host) { host.log(trellis::sdk::LogLevel::debug, "good plugin created"); }
};

const trellis_option_spec kOptions[] = {
    {"good-greeting", nullptr, 0, TRELLIS_OPT_STRING, "hello", "TEXT", "what the good plugin says"},
};
}  // namespace

TRELLIS_PLUGIN("good", TRELLIS_KIND_GENERAL, "1.2.3", "a well-formed test plugin", kOptions,
               [](trellis::sdk::Host& host) { return new GoodPlugin(host); })
