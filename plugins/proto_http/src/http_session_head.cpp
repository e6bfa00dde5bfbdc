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
  // Decoded path and joined values are never longer than the head they
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

  // Fields: names with '_' are dropped (in CGI form "X_Foo" would
  // impersonate "X-Foo"); repeats are joined in order of arrival, Cookie
  // with "; " (RFC 6265 §5.4), everything else with ", ".
  const std::size_t count = h.fields.size();
  fields_.clear();
  joined_.assign(count, 0);
  // Repeats are found by comparing case-folded name hashes first, so many
  // distinct fields of one length cost integer compares, not string ones.
  name_hash_.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    std::uint32_t hash = 2166136261u;  // FNV-1a over the lower-cased name
    for (char ch : h.fields[i].name.in(base)) {
      hash ^= static_cast<unsigned char>(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
      hash *= 16777619u;
    }
    name_hash_[i] = hash;
  }
  std::string_view upgrade;
  bool connection_upgrade = false;
  for (std::size_t i = 0; i < count; ++i) {
    if (joined_[i]) continue;
    std::string_view name = h.fields[i].name.in(base);
    if (name.find('_') != std::string_view::npos) continue;
    std::string_view value = h.fields[i].value.in(base);
    // RFC 9112 §3.2.2: with an absolute-form target, its authority is the
    // host, whatever the Host field said.
    if (h.form == TargetForm::absolute && name.size() == 4 && iequals(name, "host")) value = h.authority.in(base);

    std::size_t first_dup = 0;
    for (std::size_t j = i + 1; j < count; ++j) {
      if (name_hash_[j] == name_hash_[i] && h.fields[j].name.len == name.size() &&
          iequals_any(h.fields[j].name.in(base), name)) {
        first_dup = j;
        break;
      }
    }
    if (first_dup) {
      const std::string_view sep = iequals(name, "cookie") ? "; " : ", ";
      std::size_t at = arena_.size();
      arena_.append(value);
      for (std::size_t j = first_dup; j < count; ++j) {
        if (name_hash_[j] != name_hash_[i] || h.fields[j].name.len != name.size() ||
            !iequals_any(h.fields[j].name.in(base), name))
          continue;
        joined_[j] = 1;
        arena_.append(sep).append(h.fields[j].value.in(base));
      }
      value = std::string_view(arena_.data() + at, arena_.size() - at);
    }
    // "5, 5" or two identical lines were accepted as one length: the
    // application sees that one number (CGI's CONTENT_LENGTH is digits).
    if (h.body == BodyKind::length && name.size() == 14 && iequals(name, "content-length") &&
        value.find(',') != std::string_view::npos) {
      char digits[24];
      int n = std::snprintf(digits, sizeof digits, "%lld", static_cast<long long>(h.content_length));
      std::size_t at = arena_.size();
      arena_.append(digits, static_cast<std::size_t>(n));
      value = std::string_view(arena_.data() + at, static_cast<std::size_t>(n));
    }
    // What the response side needs once the buffer is reused for the body.
    if (name.size() == 17 && iequals(name, "if-modified-since")) if_modified_since_.assign(value);
    else if (name.size() == 13 && iequals(name, "if-none-match")) if_none_match_ = true;
    else if (name.size() == 7 && iequals(name, "upgrade")) upgrade = trim_ows(value);
    else if (name.size() == 10 && iequals(name, "connection")) connection_upgrade = list_has(value, "upgrade");
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
