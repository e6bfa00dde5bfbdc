#include "protocol.hpp"

#include <new>

#include "http_head.hpp"
#include "session.hpp"

namespace trellis::uwsgi {

sdk::Session* UwsgiProtocol::open_session(sdk::Connection connection) noexcept {
  try {
    return new UwsgiSession(connection, host_, limits_);
  } catch (const std::bad_alloc&) {
    host_.log(sdk::LogLevel::error, "uwsgi: out of memory opening a session");
    return nullptr;
  }
}

sdk::Status UwsgiProtocol::check_head(const sdk::ResponseHead& head, const char*& reason) const noexcept {
  return check_response_head(head, nullptr, &reason);
}

}  // namespace trellis::uwsgi
