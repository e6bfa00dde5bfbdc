// The "uwsgi" protocol plugin: what nginx's uwsgi_pass talks to.
#include <new>

#include "limits.hpp"
#include "session.hpp"
#include "trellis/plugin.hpp"

namespace {

using namespace trellis;

class UwsgiPlugin final : public sdk::Plugin, public sdk::Protocol {
 public:
  explicit UwsgiPlugin(sdk::Host& host) : host_(host), limits_(uwsgi::read_limits(host)) {}

  sdk::Status on_config() noexcept override {
    if (auto b = host_.option("buffer-size"); b && host_.integer("buffer-size", -1) <= 0) {
      host_.logf(sdk::LogLevel::error, "uwsgi: buffer-size must be a positive number of bytes, not \"%.*s\"",
                 static_cast<int>(b->size()), b->data());
      return sdk::Status::invalid_argument;
    }
    limits_ = uwsgi::read_limits(host_);
    return sdk::Status::ok;
  }

  sdk::Protocol* protocol() noexcept override { return this; }

  std::string_view socket_option() const noexcept override { return "socket"; }

  sdk::Session* open_session(sdk::Transport& transport) noexcept override {
    try {
      return new uwsgi::UwsgiSession(transport, host_, limits_);
    } catch (...) {
      return nullptr;
    }
  }

 private:
  sdk::Host& host_;
  uwsgi::Limits limits_;
};

const trellis_option_spec kOptions[] = {
    {"socket", "uwsgi-socket", 's', TRELLIS_OPT_LIST, nullptr, "ADDR",
     "serve the uwsgi protocol (nginx uwsgi_pass) on ADDR: host:port or a UNIX socket path"},
};

}  // namespace

TRELLIS_PLUGIN("uwsgi", TRELLIS_KIND_PROTOCOL, "0.1.0", "uwsgi protocol (nginx uwsgi_pass)", kOptions,
               [](trellis::sdk::Host& host) { return new UwsgiPlugin(host); })
