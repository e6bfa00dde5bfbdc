// Character classes of RFC 9110/9112 as one 256-entry table, so every byte
// of a request is classified with a single load instead of a chain of
// comparisons.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include <trellis/http_rules.hpp>

namespace trellis::http {

enum CharClass : std::uint8_t {
  kTchar = 1 << 0,       // token: field names, methods, codings
  kFieldValue = 1 << 1,  // field-vchar / obs-text / SP / HTAB
  kTarget = 1 << 2,      // request-target bytes we accept (see request_target.hpp)
  kHex = 1 << 3,
  kDigit = 1 << 4,
  kRegName = 1 << 5,     // reg-name / IPv4: unreserved, sub-delims, '%'
};

constexpr std::array<std::uint8_t, 256> make_char_table() {
  std::array<std::uint8_t, 256> t{};
  constexpr std::string_view tchar_extra = "!#$%&'*+-.^_`|~";
  constexpr std::string_view regname_extra = "-._~!$&'()*+,;=%";
  for (int c = 0; c < 256; ++c) {
    std::uint8_t f = 0;
    bool digit = c >= '0' && c <= '9';
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (digit || alpha || tchar_extra.find(static_cast<char>(c)) != std::string_view::npos) f |= kTchar;
    if (c == '\t' || (c >= 0x20 && c != 0x7f)) f |= kFieldValue;
    // Visible ASCII except '#' (a fragment is never sent), plus raw UTF-8
    // that some clients send unencoded: harmless to framing.
    if ((c > 0x20 && c < 0x7f && c != '#') || c >= 0x80) f |= kTarget;
    if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) f |= kHex;
    if (digit) f |= kDigit;
    if (digit || alpha || regname_extra.find(static_cast<char>(c)) != std::string_view::npos) f |= kRegName;
    t[static_cast<std::size_t>(c)] = f;
  }
  return t;
}

inline constexpr std::array<std::uint8_t, 256> kCharTable = make_char_table();

inline bool has_class(char c, std::uint8_t cls) noexcept {
  return (kCharTable[static_cast<unsigned char>(c)] & cls) != 0;
}
inline bool is_tchar(char c) noexcept { return has_class(c, kTchar); }
inline bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

inline char ascii_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}

// Case-insensitive comparison; `lower` must already be lowercase ASCII.
// Field names are compared on every request: eight bytes at a time.
inline bool iequals(std::string_view s, std::string_view lower) noexcept { return sdk::field_name_is(s, lower); }

// Case-insensitive comparison of two arbitrary strings.
inline bool iequals_any(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

inline bool is_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_tchar(c)) return false;
  return true;
}

inline std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace trellis::http
