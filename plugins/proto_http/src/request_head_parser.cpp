#include "request_head_parser.hpp"

#include <cstring>
#include <limits>
#include <string_view>

#include "char_class.hpp"
#include "request_target.hpp"

namespace trellis::http {
namespace {

std::uint32_t u32(std::size_t n) noexcept { return static_cast<std::uint32_t>(n); }

// Calls fn(element) for each comma-separated element, whitespace trimmed.
// Returns false as soon as fn does, or on an empty element: "a,,b" and a
// trailing comma are legal list syntax, but nothing legitimate sends them in
// the framing fields and different servers count them differently.
template <typename Fn>
bool for_each_element(std::string_view value, Fn fn) noexcept {
  while (true) {
    std::size_t comma = value.find(',');
    std::string_view element = trim_ows(value.substr(0, comma));
    if (element.empty() || !fn(element)) return false;
    if (comma == std::string_view::npos) return true;
    value.remove_prefix(comma + 1);
  }
}

// Calls fn(element) for each non-empty comma-separated element, whitespace
// trimmed. This is the RFC 9110 §5.6.1.2 recipient rule ("MUST ignore a
// reasonable number of empty list elements"), for the fields where a lenient
// reading cannot change how the body is framed.
template <typename Fn>
void for_each_listed(std::string_view value, Fn fn) noexcept {
  while (true) {
    std::size_t comma = value.find(',');
    std::string_view element = trim_ows(value.substr(0, comma));
    if (!element.empty()) fn(element);
    if (comma == std::string_view::npos) return;
    value.remove_prefix(comma + 1);
  }
}

// 1*DIGIT into a non-negative int64; false on anything else or overflow.
bool parse_decimal(std::string_view s, std::int64_t& out) noexcept {
  if (s.empty()) return false;
  std::int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    int d = c - '0';
    if (v > (std::numeric_limits<std::int64_t>::max() - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

}  // namespace

RequestHeadParser::RequestHeadParser(const ParseLimits& limits) : limits_(limits) {
  head_.fields.reserve(limits_.max_fields);
}

void RequestHeadParser::reset() noexcept {
  head_.clear();
  state_ = State::leading;
  line_start_ = scan_ = method_scan_ = 0;
  method_done_ = false;
  error_ = 0;
}

ParseStatus RequestHeadParser::fail(int status) noexcept {
  state_ = State::error;
  error_ = status;
  return ParseStatus::error;
}

ParseStatus RequestHeadParser::parse(const char* base, std::size_t avail_in) noexcept {
  if (state_ == State::done) return ParseStatus::done;
  if (state_ == State::error) return ParseStatus::error;
  // Nothing beyond max_head can belong to an acceptable head.
  const std::uint32_t avail = u32(avail_in < limits_.max_head ? avail_in : limits_.max_head);

  while (true) {
    if (state_ == State::leading) {
      // RFC 9112 §2.2: ignore empty lines before the request line (some
      // clients send an extra CRLF after a POST body).
      if (avail - line_start_ < 1) break;
      if (base[line_start_] != '\r') {
        if (base[line_start_] == '\n') return fail(400);
        state_ = State::request_line;
        scan_ = method_scan_ = line_start_;
        continue;
      }
      if (avail - line_start_ < 2) break;
      if (base[line_start_ + 1] != '\n') return fail(400);
      line_start_ += 2;
      continue;
    }

    if (state_ == State::request_line && !method_done_) {
      // Check the method as it arrives so garbage (a TLS handshake on the
      // plain port) is refused at once instead of after a timeout.
      while (method_scan_ < avail) {
        char c = base[method_scan_];
        if (c == ' ') {
          if (method_scan_ == line_start_) return fail(400);
          method_done_ = true;
          break;
        }
        if (!is_tchar(c)) return fail(400);
        ++method_scan_;
      }
    }

    const void* lf = scan_ < avail ? std::memchr(base + scan_, '\n', avail - scan_) : nullptr;
    if (!lf) {
      scan_ = avail;
      break;
    }
    const std::uint32_t lf_pos = u32(static_cast<const char*>(lf) - base);
    scan_ = lf_pos + 1;
    // Every line ends in CRLF: a bare LF is refused (lenient parsers that
    // accept it disagree with strict ones about where a request ends).
    if (lf_pos == line_start_ || base[lf_pos - 1] != '\r') return fail(400);
    const std::uint32_t line_end = lf_pos - 1;  // excludes CRLF
    const std::uint32_t start = line_start_;
    line_start_ = scan_;

    int status;
    if (state_ == State::request_line) {
      status = parse_request_line(base, start, line_end);
      state_ = State::fields;
    } else if (line_end == start) {
      head_.head_len = scan_;
      status = finish_head();
      if (status == 0) {
        state_ = State::done;
        return ParseStatus::done;
      }
    } else {
      status = parse_field_line(base, start, line_end);
    }
    if (status != 0) return fail(status);
  }

  if (avail >= limits_.max_head) {
    // The head does not fit: a request line that is still open means the
    // target is too long; otherwise the field section is.
    if (state_ == State::request_line || state_ == State::leading) return fail(method_done_ ? 414 : 400);
    return fail(431);
  }
  return ParseStatus::need_more;
}

int RequestHeadParser::parse_request_line(const char* base, std::uint32_t start, std::uint32_t end) noexcept {
  std::string_view line(base + start, end - start);
  std::size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return 400;
  std::size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return 400;  // HTTP/0.9 or garbage
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method)) return 400;

  // HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 9112 §2.3).
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !has_class(version[5], kDigit) ||
      version[6] != '.' || !has_class(version[7], kDigit))
    return 400;
  if (version[5] != '1') return 505;
  // RFC 9110 §2.5: a higher minor version of a major we implement is
  // processed as the highest minor we implement, so HTTP/1.2+ acts as 1.1.
  head_.minor = version[7] == '0' ? 0 : 1;

  head_.method = {start, u32(sp1)};
  head_.target = {start + u32(sp1 + 1), u32(target.size())};
  // CONNECT asks for a tunnel, which an application server does not offer
  // (and its authority-form target means nothing to us).
  if (method == "CONNECT") return 501;
  return parse_target(method, target, head_.target.off, head_);
}

int RequestHeadParser::parse_field_line(const char* base, std::uint32_t start, std::uint32_t end) noexcept {
  const char* p = base + start;
  const std::uint32_t len = end - start;
  // A line starting with whitespace is obs-fold (or whitespace before the
  // first field): both are refused, RFC 9112 §5.2 / §2.2.
  if (is_ows(p[0])) return 400;
  std::uint32_t i = 0;
  while (i < len && is_tchar(p[i])) ++i;
  // Anything but ':' right after the name (whitespace, control, NUL) is 400.
  if (i == 0 || i == len || p[i] != ':') return 400;
  const std::uint32_t name_len = i;
  ++i;
  while (i < len && is_ows(p[i])) ++i;
  std::uint32_t value_start = i;
  std::uint32_t value_end = len;
  for (std::uint32_t j = i; j < len; ++j)
    if (!has_class(p[j], kFieldValue)) return 400;  // CTL, NUL, bare CR
  while (value_end > value_start && is_ows(p[value_end - 1])) --value_end;

  if (head_.fields.size() >= limits_.max_fields) return 431;
  FieldSlice f{{start, name_len}, {start + value_start, value_end - value_start}};
  head_.fields.push_back(f);
  return note_known_field({p, name_len}, {p + value_start, value_end - value_start}, f.value);
}

int RequestHeadParser::note_known_field(std::string_view name, std::string_view value, Slice value_slice) noexcept {
  switch (name.size()) {
    case 4:
      if (iequals(name, "host")) {
        ++head_.host_count;
        head_.host = value_slice;
        if (!valid_host(value)) return 400;
      }
      return 0;
    case 6:
      if (iequals(name, "expect")) {
        // Expect is a list (RFC 9110 §10.1.1) and repeated lines add to it:
        // each element is noted on its own, so "100-continue," expects 100
        // and an Expect of nothing but commas expects nothing.
        for_each_listed(value, [&](std::string_view element) {
          if (iequals(element, "100-continue")) head_.expect_continue = true;
          else head_.expect_other = true;
        });
      }
      return 0;
    case 10:
      if (iequals(name, "connection")) {
        // Unknown connection options are ignored; an empty element is not
        // worth a 400 here because Connection never affects body framing.
        for (std::size_t pos = 0; pos <= value.size();) {
          std::size_t comma = value.find(',', pos);
          if (comma == std::string_view::npos) comma = value.size();
          std::string_view opt = trim_ows(value.substr(pos, comma - pos));
          if (iequals(opt, "close")) head_.conn_close = true;
          else if (iequals(opt, "keep-alive")) head_.conn_keep_alive = true;
          pos = comma + 1;
        }
      }
      return 0;
    case 14:
      if (iequals(name, "content-length")) {
        // RFC 9112 §6.3: a list of identical values may be taken as one;
        // anything else (signs, hex, spaces inside, different values) is a
        // smuggling attempt or a broken client.
        bool ok = for_each_element(value, [&](std::string_view element) {
          std::int64_t v;
          if (!parse_decimal(element, v)) return false;
          if (head_.cl_seen && v != head_.content_length) return false;
          head_.cl_seen = true;
          head_.content_length = v;
          return true;
        });
        return ok ? 0 : 400;
      }
      return 0;
    case 17:
      if (iequals(name, "transfer-encoding")) {
        head_.te_seen = true;
        bool ok = for_each_element(value, [&](std::string_view element) {
          std::string_view coding = trim_ows(element.substr(0, element.find(';')));
          if (!is_token(coding)) return false;
          bool chunked = iequals(coding, "chunked");
          if (chunked) {
            if (coding.size() != element.size()) return false;  // chunked takes no parameters
            ++head_.te_chunked_count;
          } else {
            head_.te_unknown = true;  // gzip & co. are not decoded here
          }
          head_.te_last_chunked = chunked;
          return true;
        });
        return ok ? 0 : 400;
      }
      return 0;
    default:
      return 0;
  }
}

int RequestHeadParser::finish_head() noexcept {
  RequestHead& h = head_;
  // RFC 9112 §3.2: exactly one Host in HTTP/1.1, never more than one.
  if (h.host_count > 1 || (h.minor == 1 && h.host_count == 0)) return 400;
  if (h.te_seen) {
    // Transfer-Encoding did not exist in HTTP/1.0: a 1.0 message carrying
    // it is the classic smuggling vector (RFC 9112 §6.1).
    if (h.minor == 0) return 400;
    if (h.cl_seen) return 400;
    if (!h.te_last_chunked || h.te_chunked_count != 1) return 400;
    if (h.te_unknown) return 501;
    h.body = BodyKind::chunked;
  } else if (h.cl_seen && h.content_length > 0) {
    h.body = BodyKind::length;
  }
  // RFC 9110 §10.1.1: an HTTP/1.0 client cannot expect 100; ignore it.
  if (h.minor == 0) {
    h.expect_continue = false;
    h.expect_other = false;
  }
  if (h.expect_other) return 417;
  if (h.body == BodyKind::length && limits_.max_body != 0 &&
      static_cast<std::uint64_t>(h.content_length) > limits_.max_body)
    return 413;
  if (h.body == BodyKind::none) h.expect_continue = false;
  h.keep_alive = h.minor == 1 ? !h.conn_close : (h.conn_keep_alive && !h.conn_close);
  return 0;
}

}  // namespace trellis::http
