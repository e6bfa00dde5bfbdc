// HTTP rules every protocol plugin applies to an application's response
// (RFC 9110, PEP 3333), so that the HTTP and uwsgi plugins answer alike.
// Inline (mostly constexpr): they add nothing to the plugin ABI.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace trellis::sdk {

// ---- the grammar of a response head (RFC 9110 §5.1, §5.5) ------------------
// Checked on every response, so by table and by word, not by comparisons.

namespace detail {
constexpr std::array<bool, 256> make_tchar_table() noexcept {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[static_cast<std::size_t>(c)] = t[static_cast<std::size_t>(c - 32)] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}
inline constexpr std::array<bool, 256> kTchar = make_tchar_table();

inline std::uint64_t load8(const char* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
// 0x20 in each byte of `lower` (ASCII) that is a letter a-z, 0 elsewhere.
inline std::uint64_t letter_case_bits(std::uint64_t lower) noexcept {
  constexpr std::uint64_t kHigh = 0x8080808080808080ull;
  const std::uint64_t at_least_a = (lower + 0x1f1f1f1f1f1f1f1full) & kHigh;  // byte >= 'a'
  const std::uint64_t past_z = (lower + 0x0505050505050505ull) & kHigh;      // byte > 'z'
  return (at_least_a & ~past_z) >> 2;
}
// Eight bytes of `s` equal those of `lower` but for the case of letters.
// Exact for any `s`: a letter position accepts only that letter, in either
// case; any other position only the same byte.
inline bool iequals8(const char* s, const char* lower) noexcept {
  const std::uint64_t want = load8(lower);
  return (load8(s) | letter_case_bits(want)) == want;
}
}  // namespace detail

constexpr bool is_tchar(char c) noexcept { return detail::kTchar[static_cast<unsigned char>(c)]; }

// token = 1*tchar: a field name.
constexpr bool is_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_tchar(c)) return false;
  return true;
}

// field-value: VCHAR, obs-text, SP, HTAB. Stricter than "no CR/LF/NUL":
// other controls are no more legitimate and some clients choke on them.
constexpr bool is_field_value(std::string_view s) noexcept {
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  return true;
}

// Whether `name` is `lower` (lowercase ASCII) but for case, eight bytes at
// a time: field names are compared on every request.
inline bool field_name_is(std::string_view name, std::string_view lower) noexcept {
  const std::size_t n = name.size();
  if (n != lower.size()) return false;
  if (n >= 8) {
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8)
      if (!detail::iequals8(name.data() + i, lower.data() + i)) return false;
    // The tail as the last eight bytes (overlapping what was compared).
    return i == n || detail::iequals8(name.data() + n - 8, lower.data() + n - 8);
  }
  for (std::size_t i = 0; i < n; ++i) {
    char c = name[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    if (c != lower[i]) return false;
  }
  return true;
}

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

// ASCII case-insensitive equality of two field names.
constexpr bool field_name_equals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Hop-by-hop fields describe one connection, which the server owns: PEP
// 3333 makes sending them a fatal error of the application (the list is
// wsgiref's, plus RFC 9110's "Trailer" spelling and the legacy
// "Proxy-Connection"). Connection itself is handled apart: an
// application's "close" is honoured.
constexpr bool is_hop_by_hop_field(std::string_view name) noexcept {
  // By length first: most names are rejected without a comparison.
  switch (name.size()) {
    case 2: return field_name_equals(name, "te");
    case 7: return field_name_equals(name, "trailer") || field_name_equals(name, "upgrade");
    case 8: return field_name_equals(name, "trailers");
    case 10: return field_name_equals(name, "keep-alive");
    case 16: return field_name_equals(name, "proxy-connection");
    case 17: return field_name_equals(name, "transfer-encoding");
    case 18: return field_name_equals(name, "proxy-authenticate");
    case 19: return field_name_equals(name, "proxy-authorization");
    default: return false;
  }
}

// Conditional GET, the server's side of RFC 9110 §13.1.3 the way nginx's
// "if_modified_since exact" does it: a GET or HEAD whose If-Modified-Since
// is byte for byte the Last-Modified of the 200 the application produced
// is answered "304 Not Modified" instead. No date parsing: a client echoes
// the Last-Modified it was given, and an exact match cannot be fooled by a
// date in the future or one the server would parse differently. A request
// with If-None-Match is left alone: that precondition takes precedence
// (§13.2.2) and needs entity-tag comparison, which stays the application's.
// Empty strings mean "absent".
constexpr bool answers_not_modified(std::string_view method, std::string_view if_modified_since,
                                    bool has_if_none_match, int status, std::string_view last_modified) noexcept {
  if (method != "GET" && method != "HEAD") return false;
  if (status != 200 || has_if_none_match) return false;
  if (last_modified.empty() || if_modified_since.empty()) return false;
  return if_modified_since == last_modified;
}

// The fields such a 304 keeps from the 200 it replaces: what §15.4.5 says a
// 304 must carry (Content-Location, Date, ETag, Vary, Cache-Control,
// Expires) and the Last-Modified that matched. Everything else (the
// content's length and type, Set-Cookie ...) is dropped with the content.
constexpr bool kept_in_not_modified(std::string_view name) noexcept {
  constexpr std::string_view kNames[] = {"last-modified", "etag",    "cache-control",   "expires",
                                         "vary",          "date",    "content-location"};
  for (std::string_view known : kNames)
    if (field_name_equals(name, known)) return true;
  return false;
}

}  // namespace trellis::sdk
