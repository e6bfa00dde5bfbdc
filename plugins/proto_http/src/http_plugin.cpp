// Plugin entry: declares the http-socket option, reads the core's limits,
// opens an HttpSession per connection and checks response heads.
#include <new>

#include "http_session.hpp"
#include "response_encoder.hpp"
#include "trellis/plugin.hpp"

namespace trellis::http {
namespace {

using sdk::Status;

// RFC 9110 does not bound the field count; 100 is what nginx and uWSGI
// accept by default and far beyond what browsers send.
constexpr long long kDefaultMaxFields = 100;

const trellis_option_spec kOptions[] = {
    // uWSGI's http11-socket is exactly this; its `http` starts a router in
    // front of the workers, which here the workers themselves are.
    {"http-socket", "http11-socket,http", 0, TRELLIS_OPT_LIST, nullptr, "ADDR",
     "serve HTTP/1.1 on ADDR (host:port or a UNIX socket path); repeatable"},
    {"http-max-fields", nullptr, 0, TRELLIS_OPT_INT, "100", "N",
     "most header fields accepted in a request head (431 beyond)"},
};

class HttpPlugin final : public sdk::Plugin, public sdk::Protocol {
 public:
  explicit HttpPlugin(sdk::Host& host) : host_(host) { load_config(); }

  Status on_config() noexcept override { return load_config() ? Status::ok : Status::invalid_argument; }
  Status after_fork_child(const sdk::WorkerIdentity&) noexcept override {
    return load_config() ? Status::ok : Status::invalid_argument;
  }

  sdk::Protocol* protocol() noexcept override { return this; }
  const char* name() const noexcept override { return "http"; }
  const char* socket_option() const noexcept override { return "http-socket"; }
  sdk::Session* open_session(sdk::Connection connection) noexcept override {
    HttpSession* s = HttpSession::create(connection, config_);
    if (!s) host_.log(sdk::LogLevel::error, "http: out of memory for a new connection");
    return s;
  }
  Status check_head(const sdk::ResponseHead& head, const char*& reason) const noexcept override {
    return check_response_head(head, reason);
  }

 private:
  bool load_config() noexcept {
    SessionConfig c;
    c.host = host_;
    long long buffer = host_.integer("buffer-size", 32768);
    long long fields = host_.integer("http-max-fields", kDefaultMaxFields);
    long long limit = host_.integer("limit-post", 0);
    bool ok = true;
    // Offsets in the parser are 32 bits; a head near 2 GiB is absurd anyway.
    if (buffer < 512 || buffer > (1LL << 30)) {
      host_.logf(sdk::LogLevel::error, "http: buffer-size %lld out of range (512 .. 1073741824)", buffer);
      ok = false;
      buffer = 32768;
    }
    if (fields < 1 || fields > 1000) {
      host_.logf(sdk::LogLevel::error, "http: http-max-fields %lld out of range (1 .. 1000)", fields);
      ok = false;
      fields = kDefaultMaxFields;
    }
    if (limit < 0) {
      host_.logf(sdk::LogLevel::error, "http: limit-post must not be negative");
      ok = false;
      limit = 0;
    }
    // post-buffering is the core's now: it buffers and spools bodies.
    c.parse.max_head = static_cast<std::size_t>(buffer);
    c.parse.max_fields = static_cast<std::size_t>(fields);
    c.parse.max_body = static_cast<std::uint64_t>(limit);
    config_ = c;
    return ok;
  }

  sdk::Host host_;
  SessionConfig config_;
};

}  // namespace
}  // namespace trellis::http

TRELLIS_PLUGIN("http", TRELLIS_KIND_PROTOCOL, "1.0.0", "HTTP/1.1 protocol (http-socket)", trellis::http::kOptions,
               [](trellis::sdk::Host& h) -> trellis::sdk::Plugin* { return new trellis::http::HttpPlugin(h); })
