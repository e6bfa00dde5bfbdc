#include "request_target.hpp"

#include "char_class.hpp"

namespace trellis::http {
namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  c = ascii_lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Every '%' is followed by two hex digits; `allow_nul` false refuses %00.
bool valid_escapes(std::string_view s, bool allow_nul, bool& has_percent) noexcept {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') continue;
    has_percent = true;
    if (s.size() - i < 3) return false;
    int hi = hex_value(s[i + 1]);
    int lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return false;
    if (!allow_nul && hi == 0 && lo == 0) return false;
    i += 2;
  }
  return true;
}

bool valid_port(std::string_view port) noexcept {
  // RFC 3986 allows an empty port ("host:"); digits only, and short enough
  // that nobody downstream overflows converting it.
  if (port.size() > 5) return false;
  for (char c : port)
    if (!has_class(c, kDigit)) return false;
  return true;
}

}  // namespace

bool valid_host(std::string_view value) noexcept {
  if (value.empty()) return true;
  if (value.front() == '[') {
    std::size_t close = value.find(']');
    if (close == std::string_view::npos || close < 2) return false;
    for (std::size_t i = 1; i < close; ++i) {
      char c = value[i];
      // IPv6 hex, ':' and '.' (embedded IPv4), or IPvFuture's "v1.x" text.
      if (!(has_class(c, kHex) || c == ':' || c == '.' || c == 'v' || c == 'V')) return false;
    }
    if (close + 1 == value.size()) return true;
    if (value[close + 1] != ':') return false;
    return valid_port(value.substr(close + 2));
  }
  const std::size_t colon = value.find(':');
  const std::string_view name = value.substr(0, colon);
  if (name.empty()) return false;
  for (char c : name)
    if (!has_class(c, kRegName)) return false;
  bool pct = false;
  if (!valid_escapes(name, false, pct)) return false;
  if (colon == std::string_view::npos) return true;
  return valid_port(value.substr(colon + 1));
}

void split_host(std::string_view value, std::string_view& name, std::string_view& port) noexcept {
  std::size_t colon;
  if (!value.empty() && value.front() == '[') {
    std::size_t close = value.find(']');
    colon = (close != std::string_view::npos && close + 1 < value.size()) ? close + 1 : std::string_view::npos;
  } else {
    colon = value.find(':');
  }
  if (colon == std::string_view::npos) {
    name = value;
    port = {};
  } else {
    name = value.substr(0, colon);
    port = value.substr(colon + 1);
  }
}

int parse_target(std::string_view method, std::string_view target, std::uint32_t target_off,
                 RequestHead& head) noexcept {
  if (target.empty()) return 400;
  for (char c : target)
    if (!has_class(c, kTarget)) return 400;

  std::size_t path_start = 0;
  if (target.front() == '/') {
    head.form = TargetForm::origin;
  } else if (target == "*") {
    if (method != "OPTIONS") return 400;
    head.form = TargetForm::asterisk;
    return 0;
  } else {
    // absolute-form: scheme "://" authority path-abempty [ "?" query ]
    std::size_t sep = target.find("://");
    if (sep == std::string_view::npos) return 400;
    std::string_view scheme = target.substr(0, sep);
    if (!iequals(scheme, "http") && !iequals(scheme, "https")) return 400;
    std::size_t auth_start = sep + 3;
    std::size_t auth_end = target.find_first_of("/?", auth_start);
    if (auth_end == std::string_view::npos) auth_end = target.size();
    std::string_view authority = target.substr(auth_start, auth_end - auth_start);
    // userinfo ("user@host") is deprecated and a phishing vector: refuse it.
    if (authority.empty() || !valid_host(authority)) return 400;
    head.form = TargetForm::absolute;
    head.authority = {target_off + static_cast<std::uint32_t>(auth_start),
                      static_cast<std::uint32_t>(authority.size())};
    path_start = auth_end;
  }

  std::size_t q = target.find('?', path_start);
  std::size_t path_end = q == std::string_view::npos ? target.size() : q;
  std::string_view path = target.substr(path_start, path_end - path_start);
  bool pct = false;
  if (!valid_escapes(path, false, pct)) return 400;
  head.path = {target_off + static_cast<std::uint32_t>(path_start), static_cast<std::uint32_t>(path.size())};
  head.path_has_percent = pct;
  if (q != std::string_view::npos) {
    // The query stays raw (QUERY_STRING): applications decode it and cope
    // with stray '%' themselves, and it never affects framing.
    std::string_view query = target.substr(q + 1);
    head.has_query = true;
    head.query = {target_off + static_cast<std::uint32_t>(q + 1), static_cast<std::uint32_t>(query.size())};
  }
  return 0;
}

std::size_t percent_decode(std::string_view in, char* out) noexcept {
  std::size_t n = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && in.size() - i >= 3) {
      out[n++] = static_cast<char>(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2]));
      i += 2;
    } else {
      out[n++] = in[i];
    }
  }
  return n;
}

}  // namespace trellis::http
