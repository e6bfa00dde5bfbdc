#include "request_mapper.hpp"

#include <limits>

#include "http_head.hpp"

namespace trellis::uwsgi {
namespace {

constexpr std::string_view kHttpPrefix = "HTTP_";

// Precedence follows uWSGI: an explicit scheme from the front end wins, then
// the HTTPS flag nginx sets, then nginx's REQUEST_SCHEME.
std::string_view pick_scheme(std::string_view uwsgi_scheme, std::string_view url_scheme,
                             std::string_view https, std::string_view request_scheme) noexcept {
  for (std::string_view s : {uwsgi_scheme, url_scheme}) {
    if (iequals_ascii(s, "https")) return "https";
    if (iequals_ascii(s, "http")) return "http";
  }
  if (iequals_ascii(https, "on") || https == "1") return "https";
  if (iequals_ascii(request_scheme, "https")) return "https";
  return "http";
}

}  // namespace

bool parse_content_length(std::string_view text, std::int64_t& out) noexcept {
  if (text.empty()) {
    out = -1;
    return true;
  }
  std::int64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    int d = c - '0';
    if (n > (std::numeric_limits<std::int64_t>::max() - d) / 10) return false;
    n = n * 10 + d;
  }
  out = n;
  return true;
}

void cgi_to_header_name(std::string_view cgi_suffix, std::string& out) {
  bool word_start = true;
  for (char c : cgi_suffix) {
    if (c == '_') {
      out.push_back('-');
      word_start = true;
      continue;
    }
    if (word_start && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (!word_start && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    out.push_back(c);
    word_start = false;
  }
}

void strip_script_name(std::span<sdk::Field> vars) noexcept {
  std::string_view script_name;
  for (const auto& v : vars) {
    if (v.name == "SCRIPT_NAME") {
      script_name = v.value;  // the first wins, as for every var we read
      break;
    }
  }
  if (script_name.empty()) return;
  // A plain prefix test, exactly as uWSGI does it: compatibility is the
  // point of this modifier, so "/app" also comes off "/apple".
  for (auto& v : vars) {
    if (v.name == "PATH_INFO" && v.value.starts_with(script_name)) v.value.remove_prefix(script_name.size());
  }
}

std::string RequestMapper::map(std::span<sdk::Field> vars, std::uint8_t modifier1, trellis_request_head& head) {
  head = trellis_request_head{};
  head.size = sizeof head;
  auto runtime = runtime_for_modifier(modifier1);
  if (!runtime) return "no runtime serves modifier1 " + std::to_string(modifier1);
  if (modifier1 == kModifierManagePathInfo) strip_script_name(vars);

  std::string_view method, uri, path, query, protocol, server_name, server_port, remote_addr, remote_port;
  std::string_view content_type, content_length, uwsgi_scheme, url_scheme, https, request_scheme;
  for (const auto& v : vars) {
    const auto& k = v.name;
    // Only the few names that matter. The first occurrence wins: a repeated
    // REQUEST_METHOD is a confused sender, and any stable choice is safe.
    auto set = [&](std::string_view& field) {
      if (field.data() == nullptr) field = v.value;
    };
    if (k == "REQUEST_METHOD") set(method);
    else if (k == "REQUEST_URI") set(uri);
    else if (k == "PATH_INFO") set(path);
    else if (k == "QUERY_STRING") set(query);
    else if (k == "SERVER_PROTOCOL") set(protocol);
    else if (k == "SERVER_NAME") set(server_name);
    else if (k == "SERVER_PORT") set(server_port);
    else if (k == "REMOTE_ADDR") set(remote_addr);
    else if (k == "REMOTE_PORT") set(remote_port);
    else if (k == "CONTENT_TYPE") set(content_type);
    else if (k == "CONTENT_LENGTH") set(content_length);
    else if (k == "UWSGI_SCHEME") set(uwsgi_scheme);
    else if (k == "wsgi.url_scheme") set(url_scheme);
    else if (k == "HTTPS") set(https);
    else if (k == "REQUEST_SCHEME") set(request_scheme);
  }
  if (!parse_content_length(content_length, head.content_length)) {
    return "invalid CONTENT_LENGTH \"" + std::string(content_length.substr(0, 64)) + "\"";
  }
  // The length is always known (no body without CONTENT_LENGTH), so the
  // body's end is the true end: WSGI's wsgi.input_terminated.
  head.flags = TRELLIS_REQUEST_BODY_TERMINATED;
  head.method = sdk::to_c(method);
  head.uri = sdk::to_c(uri);
  head.path = sdk::to_c(path);
  head.query = sdk::to_c(query);
  head.protocol = sdk::to_c(protocol);
  head.scheme = sdk::to_c(pick_scheme(uwsgi_scheme, url_scheme, https, request_scheme));
  head.server_name = sdk::to_c(server_name);
  head.server_port = sdk::to_c(server_port);
  // The client is whoever nginx says it is, not nginx itself.
  head.remote_addr = sdk::to_c(remote_addr);
  head.remote_port = sdk::to_c(remote_port);
  head.runtime = sdk::to_c(*runtime);

  // Every var verbatim, in order (REMOTE_ADDR, SCRIPT_NAME, uwsgi_param ...):
  // they are what a runtime hands the application.
  variables_.clear();
  variables_.reserve(vars.size());
  for (const auto& v : vars) variables_.push_back(sdk::to_c(v));
  head.variables = variables_.data();
  head.variable_count = variables_.size();

  map_headers(vars, content_type, content_length);
  head.headers = headers_.data();
  head.header_count = headers_.size();
  return {};
}

void RequestMapper::map_headers(std::span<const sdk::Field> vars, std::string_view content_type,
                                std::string_view content_length) {
  headers_.clear();
  side_.clear();

  // One header per HTTP_* var, in the order nginx sent them (it sends one
  // per request line): repeats are kept, as trellis_request_head says; a
  // runtime that wants one value per name joins them.
  std::size_t side_bytes = 0, count = 0;
  auto wanted = [&](const sdk::Field& v) {
    if (v.name.size() <= kHttpPrefix.size() || v.name.substr(0, kHttpPrefix.size()) != kHttpPrefix) return false;
    // The body length comes from CONTENT_LENGTH only; a second, possibly
    // different, Content-Length would confuse a runtime.
    if (v.name == "HTTP_CONTENT_LENGTH") return false;
    if (v.name == "HTTP_CONTENT_TYPE" && !content_type.empty()) return false;
    return true;
  };
  for (const auto& v : vars) {
    if (!wanted(v)) continue;
    side_bytes += v.name.size();
    ++count;
  }
  // Views into side_ must never move: size it once for every name below.
  side_.reserve(side_bytes);
  headers_.reserve(count + 2);
  for (const auto& v : vars) {
    if (!wanted(v)) continue;
    std::size_t start = side_.size();
    cgi_to_header_name(v.name.substr(kHttpPrefix.size()), side_);
    headers_.push_back(sdk::to_c(sdk::Field{std::string_view(side_).substr(start), v.value}));
  }
  if (!content_type.empty()) headers_.push_back(sdk::to_c(sdk::Field{"Content-Type", content_type}));
  if (!content_length.empty()) headers_.push_back(sdk::to_c(sdk::Field{"Content-Length", content_length}));
}

}  // namespace trellis::uwsgi
