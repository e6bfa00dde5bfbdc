#include "response_encoder.hpp"

#include <charconv>
#include <limits>

#include <trellis/http_rules.hpp>

#include "char_class.hpp"

namespace trellis::http {
namespace {

bool valid_value(std::string_view v) noexcept {
  // field-value: VCHAR, obs-text, SP, HTAB. Stricter than "no CR/LF/NUL":
  // other controls are no more legitimate and some clients choke on them.
  for (char c : v)
    if (!has_class(c, kFieldValue)) return false;
  return true;
}

bool parse_length(std::string_view v, std::int64_t& out) noexcept {
  v = trim_ows(v);
  if (v.empty()) return false;
  std::int64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    if (n > (std::numeric_limits<std::int64_t>::max() - (c - '0')) / 10) return false;
    n = n * 10 + (c - '0');
  }
  out = n;
  return true;
}

}  // namespace

const char* encode_response_start(std::string_view status, std::span<const sdk::Field> headers,
                                  std::string& out, ResponseStartInfo& info) {
  info = ResponseStartInfo{};
  // status = 3DIGIT SP reason-phrase (reason may be empty, RFC 9112 §4).
  if (status.size() < 4 || !has_class(status[0], kDigit) || !has_class(status[1], kDigit) ||
      !has_class(status[2], kDigit) || status[3] != ' ')
    return "malformed status line";
  info.status = (status[0] - '0') * 100 + (status[1] - '0') * 10 + (status[2] - '0');
  if (info.status < 100 || info.status > 599) return "status code out of range";
  // An application answers once: a 1xx as the final status would leave the
  // client waiting for the real response (interim responses such as 100
  // Continue are the server's, not the application's).
  if (info.status < 200) return "interim (1xx) status as the final response";
  if (!valid_value(status.substr(4))) return "control character in the reason phrase";
  info.no_body = sdk::status_forbids_content(info.status);
  const bool zero_length = sdk::status_needs_zero_length(info.status);
  // The application's length is dropped where none is allowed, and where
  // the server frames the (empty) content itself.
  const bool drop_length = sdk::status_forbids_length(info.status) || zero_length;

  out.clear();
  out.append("HTTP/1.1 ").append(status).append("\r\n");
  for (const sdk::Field& f : headers) {
    if (!is_token(f.name)) return "response header name is not a token";
    if (!valid_value(f.value)) return "control character in a response header value";
    // The server frames the body and manages the connection; a hop-by-hop
    // field from the application (Transfer-Encoding, Keep-Alive, Upgrade,
    // TE, Trailer...) would contradict what it does (PEP 3333).
    if (sdk::is_hop_by_hop_field(f.name)) return "hop-by-hop header field set by the application";
    switch (f.name.size()) {
      case 4:
        if (iequals(f.name, "date")) info.has_date = true;
        break;
      case 6:
        if (iequals(f.name, "server")) info.has_server = true;
        break;
      case 10:
        if (iequals(f.name, "connection")) {
          // Hop-by-hop: the server owns connection management (PEP 3333).
          // An application's "close" is still honoured.
          std::string_view v = f.value;
          for (std::size_t pos = 0; pos <= v.size();) {
            std::size_t comma = v.find(',', pos);
            if (comma == std::string_view::npos) comma = v.size();
            if (iequals(trim_ows(v.substr(pos, comma - pos)), "close")) info.conn_close = true;
            pos = comma + 1;
          }
          continue;
        }
        break;
      case 14:
        if (iequals(f.name, "content-length")) {
          std::int64_t n;
          if (!parse_length(f.value, n)) return "invalid Content-Length in the response";
          if (info.content_length >= 0 && info.content_length != n) return "conflicting Content-Length values";
          bool repeated = info.content_length >= 0;
          info.content_length = n;
          if (repeated || drop_length) continue;
        }
        break;
      default:
        break;
    }
    out.append(f.name).append(": ").append(f.value).append("\r\n");
  }
  if (drop_length) info.content_length = -1;
  if (zero_length) out.append("Content-Length: 0\r\n");
  return nullptr;
}

void append_content_length(std::string& out, std::uint64_t n) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, n);
  out.append("Content-Length: ").append(buf, r.ptr).append("\r\n");
}

std::size_t format_chunk_size(char (&buf)[24], std::size_t n) noexcept {
  auto r = std::to_chars(buf, buf + 20, n, 16);
  r.ptr[0] = '\r';
  r.ptr[1] = '\n';
  return static_cast<std::size_t>(r.ptr + 2 - buf);
}

}  // namespace trellis::http
