// HTTP rules every protocol plugin applies to an application's response
// (RFC 9110, PEP 3333), so that the HTTP and uwsgi plugins answer alike.
// Inline and constexpr: they add nothing to the plugin ABI.
#pragma once

#include <string_view>

namespace trellis::sdk {

// Content the application gives with these statuses is dropped: no content
// follows a 1xx, 204 or 304 (§6.4.1, §15.3.5, §15.4.5), and "a server MUST
// NOT generate content in a 205 response" (§15.3.6).
constexpr bool status_forbids_content(int code) noexcept {
  return code < 200 || code == 204 || code == 205 || code == 304;
}

// No Content-Length at all on a 1xx or 204 (§8.6). A 304 may announce the
// length of the selected representation, so an application's is kept.
constexpr bool status_forbids_length(int code) noexcept { return code < 200 || code == 204; }

// A 205 is not among the statuses a client knows to be bodiless (RFC 9112
// §6.3): its empty content is framed with "Content-Length: 0", whatever
// length the application announced.
constexpr bool status_needs_zero_length(int code) noexcept { return code == 205; }

// Hop-by-hop fields describe one connection, which the server owns: PEP
// 3333 makes sending them a fatal error of the application (the list is
// wsgiref's, plus RFC 9110's "Trailer" spelling and the legacy
// "Proxy-Connection"). Connection itself is handled apart: an
// application's "close" is honoured.
constexpr bool is_hop_by_hop_field(std::string_view name) noexcept {
  constexpr std::string_view kNames[] = {"keep-alive",          "proxy-authenticate", "proxy-authorization",
                                         "proxy-connection",    "te",                 "trailer",
                                         "trailers",            "transfer-encoding",  "upgrade"};
  for (std::string_view known : kNames) {
    if (known.size() != name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < name.size() && same; ++i) {
      char c = name[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      same = c == known[i];
    }
    if (same) return true;
  }
  return false;
}

}  // namespace trellis::sdk
