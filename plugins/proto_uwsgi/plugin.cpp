// The "uwsgi" protocol plugin: what nginx's uwsgi_pass talks to.
#include "limits.hpp"
#include "protocol.hpp"
#include "trellis/plugin.hpp"

namespace {

using namespace trellis;

class UwsgiPlugin final : public sdk::Plugin {
 public:
  explicit UwsgiPlugin(const sdk::Host& host) noexcept : host_(host), protocol_(host) {}

  sdk::Status on_config() noexcept override {
    if (auto b = host_.option("buffer-size"); b && host_.integer("buffer-size", -1) <= 0) {
      host_.logf(sdk::LogLevel::error, "uwsgi: buffer-size must be a positive number of bytes, not \"%.*s\"",
                 static_cast<int>(b->size()), b->data());
      return sdk::Status::invalid_argument;
    }
    protocol_.configure(uwsgi::read_limits(host_));
    return sdk::Status::ok;
  }

  sdk::Protocol* protocol() noexcept override { return &protocol_; }

 private:
  sdk::Host host_;
  uwsgi::UwsgiProtocol protocol_;
};

const trellis_option_spec kOptions[] = {
    {"socket", "uwsgi-socket", 's', TRELLIS_OPT_LIST, nullptr, "ADDR",
     "serve the uwsgi protocol (nginx uwsgi_pass) on ADDR: host:port or a UNIX socket path"},
};

}  // namespace

TRELLIS_PLUGIN("uwsgi", TRELLIS_KIND_PROTOCOL, "0.1.0", "uwsgi protocol (nginx uwsgi_pass)", kOptions,
               [](trellis::sdk::Host& plugin_host) -> trellis::sdk::Plugin* { return new UwsgiPlugin(plugin_host); })
