#include "http_head.hpp"

#include <limits>

#include <trellis/http_rules.hpp>

namespace trellis::uwsgi {
namespace {

bool is_text(std::string_view s) noexcept { return sdk::is_field_value(s); }

}  // namespace

std::optional<int> parse_status(std::string_view status) noexcept {
  if (status.size() < 3) return std::nullopt;
  int code = 0;
  for (int i = 0; i < 3; ++i) {
    char c = status[static_cast<std::size_t>(i)];
    if (c < '0' || c > '9') return std::nullopt;
    code = code * 10 + (c - '0');
  }
  if (code < 100 || code > 599) return std::nullopt;
  if (status.size() > 3 && (status[3] != ' ' || !is_text(status.substr(4)))) return std::nullopt;
  return code;
}

bool valid_header_name(std::string_view name) noexcept { return sdk::is_token(name); }

bool valid_header_value(std::string_view value) noexcept { return is_text(value); }

std::optional<std::int64_t> parse_length_value(std::string_view value) noexcept {
  // Optional whitespace around the digits is allowed by HTTP.
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  std::int64_t n = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    int d = c - '0';
    if (n > (std::numeric_limits<std::int64_t>::max() - d) / 10) return std::nullopt;
    n = n * 10 + d;
  }
  return n;
}

std::string_view response_protocol(std::string_view request_protocol) noexcept {
  if (request_protocol == "HTTP/1.0") return "HTTP/1.0";
  return "HTTP/1.1";
}

bool iequals_ascii(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    unsigned char x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if (x >= 'A' && x <= 'Z') x = static_cast<unsigned char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<unsigned char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

sdk::Status check_response_head(const sdk::ResponseHead& head, HeadFacts* facts, const char** reason,
                                bool validate) noexcept {
  auto refuse = [reason](const char* why) {
    if (reason) *reason = why;
    return sdk::Status::invalid_argument;
  };
  auto code = parse_status(head.status);
  // A WSGI-style application cannot send an interim response: a 1xx as the
  // final status would leave the peer waiting for the real one.
  if (!code) return refuse("malformed status line");
  if (*code < 200) return refuse("interim (1xx) status as the final response");
  std::optional<std::int64_t> length;
  for (const sdk::Field h : head.headers) {
    if (validate) {
      if (!valid_header_name(h.name)) return refuse("response header name is not a token");
      if (!valid_header_value(h.value)) return refuse("control character in a response header value");
      // The server frames the body; hop-by-hop fields are the server's (PEP
      // 3333), and a Transfer-Encoding would contradict the framing.
      if (sdk::is_hop_by_hop_field(h.name)) return refuse("hop-by-hop header field set by the application");
    }
    if (sdk::field_name_is(h.name, "content-length")) {
      auto n = parse_length_value(h.value);
      if (!n) return refuse("invalid Content-Length in the response");
      // Two different lengths would let the peer pick either framing.
      if (length && *length != *n) return refuse("conflicting Content-Length values");
      length = n;
    }
  }
  if (facts) *facts = HeadFacts{*code, length};
  return sdk::Status::ok;
}

void append_head(std::string& out, std::string_view protocol, std::string_view status, sdk::FieldList headers,
                 std::optional<std::int64_t> add_content_length, bool drop_content_length) {
  out.append(protocol).append(" ").append(status).append("\r\n");
  for (const sdk::Field h : headers) {
    if (drop_content_length && sdk::field_name_is(h.name, "content-length")) continue;
    out.append(h.name).append(": ").append(h.value).append("\r\n");
  }
  if (add_content_length) out.append("Content-Length: ").append(std::to_string(*add_content_length)).append("\r\n");
  out.append("\r\n");
}

}  // namespace trellis::uwsgi
