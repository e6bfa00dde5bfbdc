// Turns a uwsgi vars block into the protocol-neutral sdk::Request.
//
// Every view in the Request points either into the caller's vars (which view
// into the session's read buffer) or into this mapper's side buffer, which
// holds what has to be rebuilt: HTTP_USER_AGENT -> "User-Agent", and repeated
// headers joined with ", ". Both stay valid until the next map() call.
// Modifier1 30 narrows PATH_INFO's view in the caller's vars, in place.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "trellis/request.hpp"

namespace trellis::uwsgi {

// CONTENT_LENGTH as sent: empty means "no body" (nginx sends CONTENT_LENGTH
// with an empty value for a GET); otherwise plain decimal digits only.
// Sets `out` to -1 for empty. Returns false for anything else.
bool parse_content_length(std::string_view text, std::int64_t& out) noexcept;

// "USER_AGENT" -> "User-Agent": the inverse of the CGI header mangling.
void cgi_to_header_name(std::string_view cgi_suffix, std::string& out);

// uWSGI's legacy "manage PATH_INFO" modifier (UWSGI_MODIFIER_MANAGE_PATH_INFO,
// nginx `uwsgi_modifier1 30;`): a WSGI request whose PATH_INFO still carries
// the SCRIPT_NAME prefix. It has no runtime of its own; modifier1 0 serves it.
inline constexpr std::uint8_t kModifierManagePathInfo = 30;

// The modifier1 of the runtime that serves a packet sent with `wire`.
constexpr std::uint8_t runtime_modifier(std::uint8_t wire) noexcept {
  return wire == kModifierManagePathInfo ? 0 : wire;
}

// For modifier1 30: re-points every PATH_INFO var that starts with the
// (non-empty) SCRIPT_NAME var at the rest of its value, as uWSGI's python
// plugin does. The values stay views into the same memory, so runtimes that
// read cgi_vars verbatim see the stripped PATH_INFO too.
void strip_script_name(std::span<sdk::Field> vars) noexcept;

class RequestMapper {
 public:
  // Fills every field of `req` but `body`. `modifier1` is the packet's, as
  // sent: for 30 the request goes to runtime 0 with SCRIPT_NAME stripped from
  // PATH_INFO (in `vars` too, hence not const). Returns an empty string on
  // success, else a one-line reason (an invalid CONTENT_LENGTH).
  std::string map(std::span<sdk::Field> vars, std::uint8_t modifier1, sdk::Request& req);

 private:
  void map_headers(std::span<const sdk::Field> vars, std::string_view content_type,
                   std::string_view content_length);

  std::vector<sdk::Field> headers_;
  std::string side_;  // reserved up front, never reallocated while mapping
};

}  // namespace trellis::uwsgi
