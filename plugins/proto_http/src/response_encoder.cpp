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

// Whether a Connection value lists "close".
bool lists_close(std::string_view v) noexcept {
  for (std::size_t pos = 0; pos <= v.size();) {
    std::size_t comma = v.find(',', pos);
    if (comma == std::string_view::npos) comma = v.size();
    if (iequals(trim_ows(v.substr(pos, comma - pos)), "close")) return true;
    pos = comma + 1;
  }
  return false;
}

// RFC 9110 §6.5.1: a trailer must not carry what frames, routes or
// describes the message; a recipient would have acted on it already.
bool forbidden_trailer(std::string_view name) noexcept {
  constexpr std::string_view kNames[] = {"connection",       "content-length", "content-type", "content-encoding",
                                         "content-range",    "host",           "authorization", "set-cookie",
                                         "cache-control",    "expires",        "date",          "location"};
  if (sdk::is_hop_by_hop_field(name)) return true;
  for (std::string_view n : kNames)
    if (iequals_any(name, n)) return true;
  return false;
}

}  // namespace

const char* check_response_start(std::string_view status, sdk::FieldList headers, ResponseStartInfo& info,
                                 bool validate) noexcept {
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
  // 101 Switching Protocols is the one 1xx a runtime may give: it ends
  // HTTP on this connection (Stream::upgrade, when the client offered it).
  info.switching = info.status == 101;
  if (info.status < 200 && !info.switching) return "interim (1xx) status as the final response";
  if (validate && !valid_value(status.substr(4))) return "control character in the reason phrase";
  info.no_body = sdk::status_forbids_content(info.status);
  info.zero_length = sdk::status_needs_zero_length(info.status);
  // The application's length is dropped where none is allowed, and where
  // the server frames the (empty) content itself.
  info.drop_length = sdk::status_forbids_length(info.status) || info.zero_length;

  bool names_protocol = false;
  for (const sdk::Field f : headers) {
    if (validate) {
      if (!is_token(f.name)) return "response header name is not a token";
      if (!valid_value(f.value)) return "control character in a response header value";
      // The server frames the body and manages the connection; a hop-by-hop
      // field from the application (Transfer-Encoding, Keep-Alive, Upgrade,
      // TE, Trailer...) would contradict what it does (PEP 3333).
      // A 101 names the protocol it switches to (Upgrade, Connection).
      const bool switch_field = info.switching && (iequals_any(f.name, "upgrade") || iequals_any(f.name, "connection"));
      if (sdk::is_hop_by_hop_field(f.name) && !switch_field)
        return "hop-by-hop header field set by the application";
    }
    switch (f.name.size()) {
      case 4:
        if (iequals(f.name, "date")) info.has_date = true;
        break;
      case 6:
        if (iequals(f.name, "server")) info.has_server = true;
        break;
      case 7:
        if (iequals(f.name, "upgrade") && !f.value.empty()) names_protocol = true;
        break;
      case 10:
        // Hop-by-hop: the server owns connection management (PEP 3333).
        // An application's "close" is still honoured.
        if (iequals(f.name, "connection") && lists_close(f.value)) info.conn_close = true;
        break;
      case 14:
        if (iequals(f.name, "content-length")) {
          std::int64_t n;
          if (!parse_length(f.value, n)) return "invalid Content-Length in the response";
          if (info.content_length >= 0 && info.content_length != n) return "conflicting Content-Length values";
          info.content_length = n;
        }
        break;
      default:
        break;
    }
  }
  // The server MUST say which protocol it switches to (RFC 9110 §15.2.2).
  if (info.switching && !names_protocol) return "101 response without an Upgrade header field";
  if (info.drop_length) info.content_length = -1;
  return nullptr;
}

sdk::Status check_response_head(const sdk::ResponseHead& head, const char*& reason) noexcept {
  ResponseStartInfo info;
  reason = check_response_start(head.status, head.headers, info);
  return reason ? sdk::Status::invalid_argument : sdk::Status::ok;
}

void render_response_start(std::string_view status, sdk::FieldList headers, const ResponseStartInfo& info,
                           std::string& out) {
  out.clear();
  out.append("HTTP/1.1 ").append(status).append("\r\n");
  bool length_sent = false;
  for (const sdk::Field f : headers) {
    if (f.name.size() == 10 && iequals(f.name, "connection") && !info.switching) continue;
    if (f.name.size() == 14 && iequals(f.name, "content-length")) {
      if (length_sent || info.drop_length) continue;
      length_sent = true;
    }
    out.append(f.name).append(": ").append(f.value).append("\r\n");
  }
  if (info.zero_length) out.append("Content-Length: 0\r\n");
}

std::string_view find_field(sdk::FieldList headers, std::string_view name) noexcept {
  for (const sdk::Field f : headers)
    if (iequals_any(f.name, name)) return f.value;
  return {};
}

void render_not_modified(sdk::FieldList headers, ResponseStartInfo& info, std::string& out) {
  out.clear();
  out.append("HTTP/1.1 304 Not Modified\r\n");
  info.has_date = false;
  for (const sdk::Field f : headers) {
    const bool server = f.name.size() == 6 && iequals(f.name, "server");
    if (!server && !sdk::kept_in_not_modified(f.name)) continue;
    if (f.name.size() == 4 && iequals(f.name, "date")) info.has_date = true;
    out.append(f.name).append(": ").append(f.value).append("\r\n");
  }
  info.status = 304;
  info.no_body = true;
  info.zero_length = false;
  info.drop_length = true;
  info.content_length = -1;
}

std::size_t render_trailers(sdk::FieldList trailers, std::string& out) {
  std::size_t dropped = 0;
  for (const sdk::Field f : trailers) {
    if (!is_token(f.name) || !valid_value(f.value) || forbidden_trailer(f.name)) {
      ++dropped;
      continue;
    }
    out.append(f.name).append(": ").append(f.value).append("\r\n");
  }
  return dropped;
}

void append_content_length(std::string& out, std::uint64_t n) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, n);
  out.append("Content-Length: ").append(buf, r.ptr).append("\r\n");
}

std::size_t format_chunk_size(char (&buf)[24], std::uint64_t n) noexcept {
  auto r = std::to_chars(buf, buf + 20, n, 16);
  r.ptr[0] = '\r';
  r.ptr[1] = '\n';
  return static_cast<std::size_t>(r.ptr + 2 - buf);
}

}  // namespace trellis::http
