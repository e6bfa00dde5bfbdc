// The canned replies sent when a request is refused before it reaches the
// application. They always close the connection: after a framing error the
// following bytes cannot be trusted to start a new request.
#pragma once

#include <string>
#include <string_view>

namespace trellis::http {

// Reason phrase for the statuses this plugin generates ("Bad Request").
std::string_view reason_phrase(int status) noexcept;

// Writes a complete "HTTP/1.1 <status> ..." reply with a short text body
// and "Connection: close" into `out` (reusing its capacity). Without
// `with_body` (a HEAD request) the body is left out, its length kept.
void build_error_reply(int status, std::string& out, bool with_body = true);

}  // namespace trellis::http
