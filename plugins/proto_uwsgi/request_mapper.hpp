// Turns a uwsgi vars block into the protocol-neutral request head the core
// takes (trellis_request_head, abi.h).
//
// Every string in the head points either into the caller's vars (which view
// into the session's read buffer) or into this mapper's own storage, which
// holds what has to be rebuilt: HTTP_USER_AGENT -> "User-Agent", repeated
// headers joined with ", ", and the C arrays of header fields and variables.
// Both stay valid until the next map() call. The core copies the head when
// the stream opens, so nothing needs them longer than that.
// Modifier1 30 narrows PATH_INFO's view in the caller's vars, in place.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "modifier1.hpp"
#include "trellis/abi.h"
#include "trellis/strings.hpp"

namespace trellis::uwsgi {

// CONTENT_LENGTH as sent: empty means "no body" (nginx sends CONTENT_LENGTH
// with an empty value for a GET); otherwise plain decimal digits only.
// Sets `out` to -1 for empty. Returns false for anything else.
bool parse_content_length(std::string_view text, std::int64_t& out) noexcept;

// "USER_AGENT" -> "User-Agent": the inverse of the CGI header mangling.
void cgi_to_header_name(std::string_view cgi_suffix, std::string& out);

// For modifier1 30: re-points every PATH_INFO var that starts with the
// (non-empty) SCRIPT_NAME var at the rest of its value, as uWSGI's python
// plugin does. The values stay views into the same memory, so the variables
// a runtime passes on verbatim carry the stripped PATH_INFO too.
void strip_script_name(std::span<sdk::Field> vars) noexcept;

class RequestMapper {
 public:
  // Fills every field of `head`. `modifier1` is the packet's, as sent: it
  // names the runtime (runtime_for_modifier), and for 30 SCRIPT_NAME comes
  // off PATH_INFO (in `vars` too, hence not const). Returns an empty string
  // on success, else a one-line reason (an invalid CONTENT_LENGTH, a
  // modifier1 no runtime serves).
  std::string map(std::span<sdk::Field> vars, std::uint8_t modifier1, trellis_request_head& head);

 private:
  void map_headers(std::span<const sdk::Field> vars, std::string_view content_type,
                   std::string_view content_length);

  std::vector<trellis_field> headers_;
  std::vector<trellis_field> variables_;
  std::string side_;  // reserved up front, never reallocated while mapping
};

}  // namespace trellis::uwsgi
