// The uwsgi protocol as the core sees it: sessions for its connections, and
// the check of response heads it applies before any reaches a session.
#pragma once

#include "limits.hpp"
#include "trellis/host.hpp"
#include "trellis/protocol.hpp"

namespace trellis::uwsgi {

class UwsgiProtocol final : public sdk::Protocol {
 public:
  explicit UwsgiProtocol(const sdk::Host& host) noexcept : host_(host), limits_(read_limits(host)) {}

  // The limits new sessions get (after on_config read the options).
  void configure(const Limits& limits) noexcept { limits_ = limits; }

  const char* name() const noexcept override { return "uwsgi"; }
  const char* socket_option() const noexcept override { return "socket"; }
  sdk::Session* open_session(sdk::Connection connection) noexcept override;
  // Pure (check_response_head): runs on whichever thread the runtime
  // answers from.
  sdk::Status check_head(const sdk::ResponseHead& head, const char*& reason) const noexcept override;

 private:
  sdk::Host host_;
  Limits limits_;
};

}  // namespace trellis::uwsgi
