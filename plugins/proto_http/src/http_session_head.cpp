// The request head HttpSession hands to Connection::open_stream: a
// trellis_request_head of views into the connection's buffer and a side
// arena. The core copies it at once, so nothing here outlives the call.
#include <cstdio>
#include <cstring>

#include "char_class.hpp"
#include "http_session.hpp"
#include "request_target.hpp"

namespace trellis::http {

namespace {

// Whether a comma-separated list (a Connection value) holds `lower`.
bool list_has(std::string_view v, std::string_view lower) noexcept {
  for (std::size_t pos = 0; pos <= v.size();) {
    std::size_t comma = v.find(',', pos);
    if (comma == std::string_view::npos) comma = v.size();
    if (iequals(trim_ows(v.substr(pos, comma - pos)), lower)) return true;
    pos = comma + 1;
  }
  return false;
}

}  // namespace

void HttpSession::build_head() {
  const RequestHead& h = parser_.head();
  const char* base = buf_.get() + begin_;
  // The decoded path, the length and a joined Upgrade are never longer than the head they
  // come from, so this reserve means no reallocation below: views taken
  // into arena_ stay valid.
  arena_.clear();
  arena_.reserve(2 * static_cast<std::size_t>(h.head_len) + 16);
  if_modified_since_.clear();
  if_none_match_ = false;

  trellis_request_head& r = head_;
  r = trellis_request_head{};
  r.size = sizeof r;
  // Most strings are views into the head as received: the core copies it whole.
  r.storage = base;
  r.storage_len = h.head_len;
  const std::string_view method = h.method.in(base);
  r.method = sdk::to_c(method);
  r.uri = sdk::to_c(h.target.in(base));
  // The version as processed ("HTTP/1.2" is served as 1.1); the bytes of
  // the request line when they say the same, so the core copies nothing
  // more (r.storage).
  const std::string_view version = h.minor == 0 ? "HTTP/1.0" : "HTTP/1.1";
  const std::string_view sent(base + h.target.off + h.target.len + 1, version.size());
  r.protocol = sdk::to_c(sent == version ? sent : version);
  r.scheme = sdk::to_c("http");
  head_request_ = method == "HEAD";
  conditional_method_ = head_request_ ? "HEAD" : method == "GET" ? "GET" : "";
  client_keep_alive_ = h.keep_alive;

  std::string_view path;
  if (h.form == TargetForm::asterisk) {
    path = "*";
  } else if (h.path.empty()) {
    path = "/";  // "http://host" and "http://host?q" mean the root
  } else if (!h.path_has_percent) {
    path = h.path.in(base);
  } else {
    std::size_t at = arena_.size();
    arena_.resize(at + h.path.len);
    std::size_t n = percent_decode(h.path.in(base), arena_.data() + at);
    arena_.resize(at + n);
    path = std::string_view(arena_.data() + at, n);
  }
  r.path = sdk::to_c(path);
  if (h.has_query) r.query = sdk::to_c(h.query.in(base));

  // Fields: every one as received, in order, repeats kept (a runtime that
  // wants one value per name, such as WSGI's environ, joins them itself).
  // Names with '_' are dropped (in CGI form "X_Foo" would impersonate
  // "X-Foo"). Content-Length is handed once, as the number the body is
  // framed with; Host, with an absolute-form target, is that authority.
  const std::size_t count = h.fields.size();
  fields_.clear();
  std::string_view upgrade;
  std::size_t upgrade_at = 0, upgrade_count = 0;
  bool connection_upgrade = false, have_length = false;
  for (std::size_t i = 0; i < count; ++i) {
    std::string_view name = h.fields[i].name.in(base);
    if (name.find('_') != std::string_view::npos) continue;
    std::string_view value = h.fields[i].value.in(base);
    switch (name.size()) {
      case 4:
        // RFC 9112 §3.2.2: with an absolute-form target, its authority is
        // the host, whatever the Host field said.
        if (h.form == TargetForm::absolute && iequals(name, "host")) value = h.authority.in(base);
        break;
      case 14:
        if (h.body == BodyKind::length && iequals(name, "content-length")) {
          // "5, 5" or two identical lines were accepted as one length: the
          // application sees that one number, once (CGI's CONTENT_LENGTH is
          // digits).
          if (have_length) continue;
          have_length = true;
          if (value.find(',') != std::string_view::npos || (value.size() > 1 && value[0] == '0')) {
            char digits[24];
            int n = std::snprintf(digits, sizeof digits, "%lld", static_cast<long long>(h.content_length));
            std::size_t at = arena_.size();
            arena_.append(digits, static_cast<std::size_t>(n));
            value = std::string_view(arena_.data() + at, static_cast<std::size_t>(n));
          }
        }
        break;
      // What the response side needs once the buffer is reused for the body.
      case 17:
        if (iequals(name, "if-modified-since") && if_modified_since_.empty()) if_modified_since_.assign(value);
        break;
      case 13:
        if (iequals(name, "if-none-match")) if_none_match_ = true;
        break;
      case 7:
        if (iequals(name, "upgrade")) {
          // Repeated Upgrade lines are one list, as RFC 9110 §5.3 allows.
          value = trim_ows(value);
          if (upgrade_count++ == 0) {
            upgrade = value;
          } else {
            if (upgrade_count == 2) {
              upgrade_at = arena_.size();
              arena_.append(upgrade);
            }
            arena_.append(", ").append(value);
            upgrade = std::string_view(arena_.data() + upgrade_at, arena_.size() - upgrade_at);
          }
        }
        break;
      case 10:
        if (iequals(name, "connection") && list_has(value, "upgrade")) connection_upgrade = true;
        break;
      default: break;
    }
    fields_.push_back({sdk::to_c(name), sdk::to_c(value)});
  }
  r.headers = fields_.data();
  r.header_count = fields_.size();

  const sdk::ConnectionInfo ci = conn_.info();
  std::string_view host_value;
  if (h.form == TargetForm::absolute) host_value = h.authority.in(base);
  else if (h.host_count) host_value = h.host.in(base);
  std::string_view name, port;
  if (!host_value.empty()) split_host(host_value, name, port);
  r.server_name = sdk::to_c(!name.empty() ? name : ci.local_addr);
  r.server_port = sdk::to_c(!port.empty() ? port : (!ci.local_port.empty() ? ci.local_port : std::string_view("80")));

  switch (h.body) {
    case BodyKind::none: r.content_length = 0; break;
    case BodyKind::length: r.content_length = h.content_length; break;
    case BodyKind::chunked: r.content_length = -1; break;
  }
  // Both framings tell the true end of the body.
  r.flags = TRELLIS_REQUEST_BODY_TERMINATED;
  if (h.expect_continue) r.flags |= TRELLIS_REQUEST_EXPECTS_GO_AHEAD;
  // RFC 9110 §7.8: an offer to switch needs "Connection: upgrade" too (so a
  // proxy that does not know Upgrade drops it), and is ignored in HTTP/1.0.
  if (h.minor == 1 && connection_upgrade && !upgrade.empty()) {
    r.flags |= TRELLIS_REQUEST_UPGRADE_OFFERED;
    r.upgrade = sdk::to_c(upgrade);
  }
}

}  // namespace trellis::http
