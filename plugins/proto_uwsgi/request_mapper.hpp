// Turns a uwsgi vars block into the protocol-neutral sdk::Request.
//
// Every view in the Request points either into the caller's vars (which view
// into the session's read buffer) or into this mapper's side buffer, which
// holds what has to be rebuilt: HTTP_USER_AGENT -> "User-Agent", and repeated
// headers joined with ", ". Both stay valid until the next map() call.
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

class RequestMapper {
 public:
  // Fills every field of `req` but `body`. Returns an empty string on
  // success, else a one-line reason (an invalid CONTENT_LENGTH).
  std::string map(std::span<const sdk::Field> vars, std::uint8_t modifier1, sdk::Request& req);

 private:
  void map_headers(std::span<const sdk::Field> vars, std::string_view content_type,
                   std::string_view content_length);

  std::vector<sdk::Field> headers_;
  std::string side_;  // reserved up front, never reallocated while mapping
};

}  // namespace trellis::uwsgi
