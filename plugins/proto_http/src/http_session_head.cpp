// The application-facing half of HttpSession: the Request handed to the
// runtime and the BodyReader it reads the body through.
#include <cstdio>
#include <cstring>

#include "char_class.hpp"
#include "http_session.hpp"
#include "request_target.hpp"

namespace trellis::http {

using sdk::Progress;
using sdk::Status;

namespace {
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
}  // namespace

Progress HttpSession::hand_over() noexcept {
  try {
    build_request();
  } catch (...) {
    return fail(500);
  }
  const RequestHead& h = parser_.head();
  ResponseContext ctx;
  ctx.head_request = request_.method == "HEAD";
  ctx.http10 = h.minor == 0;
  ctx.client_keep_alive = h.keep_alive;
  response_.begin(ctx, &body_done_, &draining_);
  error_summary_ = {};
  state_ = State::app;
  return Progress::request_ready;
}

void HttpSession::build_request() {
  const RequestHead& h = parser_.head();
  const char* base = buf_.get() + begin_;
  // Decoded path and joined values are never longer than the head they
  // come from, so this reserve means no reallocation below: views taken
  // into arena_ stay valid.
  arena_.clear();
  arena_.reserve(2 * static_cast<std::size_t>(h.head_len) + 16);

  sdk::Request& r = request_;
  r = sdk::Request{};
  r.method = h.method.in(base);
  r.uri = h.target.in(base);
  r.protocol = h.minor == 0 ? "HTTP/1.0" : "HTTP/1.1";
  r.scheme = "http";

  if (h.form == TargetForm::asterisk) {
    r.path = "*";
  } else if (h.path.empty()) {
    r.path = "/";  // "http://host" and "http://host?q" mean the root
  } else if (!h.path_has_percent) {
    r.path = h.path.in(base);
  } else {
    std::size_t at = arena_.size();
    arena_.resize(at + h.path.len);
    std::size_t n = percent_decode(h.path.in(base), arena_.data() + at);
    arena_.resize(at + n);
    r.path = std::string_view(arena_.data() + at, n);
  }
  if (h.has_query) r.query = h.query.in(base);

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
    fields_.push_back({name, value});
  }
  r.headers = fields_;

  const sdk::ConnectionInfo& ci = transport_.info();
  r.remote_addr = ci.remote_addr;
  r.remote_port = ci.remote_port;
  std::string_view host_value;
  if (h.form == TargetForm::absolute) host_value = h.authority.in(base);
  else if (h.host_count) host_value = h.host.in(base);
  std::string_view name, port;
  if (!host_value.empty()) split_host(host_value, name, port);
  r.server_name = !name.empty() ? name : ci.local_addr;
  r.server_port = !port.empty() ? port : (!ci.local_port.empty() ? ci.local_port : std::string_view("80"));

  switch (h.body) {
    case BodyKind::none: r.content_length = 0; break;
    case BodyKind::length: r.content_length = h.content_length; break;
    case BodyKind::chunked: r.content_length = -1; break;
  }
  r.body_terminated = true;
  r.body = this;
}

Status HttpSession::read(char* buf, std::size_t size, std::size_t& got) noexcept {
  got = 0;
  if (size == 0) return Status::ok;
  if (streaming_) return read_streaming(buf, size, got);
  if (spool_.is_open()) {
    if (body_read_ >= spool_.size()) return Status::ok;
    ssize_t n = spool_.read_at(buf, size, body_read_);
    if (n < 0) return Status::io_error;
    got = static_cast<std::size_t>(n);
    body_read_ += got;
    return Status::ok;
  }
  const std::size_t have = body_end_ - body_start_;
  std::size_t left = have - static_cast<std::size_t>(body_read_);
  std::size_t n = size < left ? size : left;
  if (n) std::memcpy(buf, buf_.get() + body_start_ + body_read_, n);
  body_read_ += n;
  got = n;
  return Status::ok;
}

Status HttpSession::read_streaming(char* buf, std::size_t size, std::size_t& got) noexcept {
  if (body_error_ != Status::ok) return body_error_;
  while (!body_done_) {
    if (raw_pos_ < end_) {
      std::size_t used = 0, produced = 0;
      DecodeStatus st = decoder_.consume(buf_.get() + raw_pos_, end_ - raw_pos_, buf, size, used, produced);
      raw_pos_ += used;
      if (st == DecodeStatus::error) {
        body_error_ = decoder_.error_status() == 413 ? Status::too_large : Status::protocol_error;
        // Hand over what was decoded before the error; the next read reports it.
        if (produced) {
          got = produced;
          return Status::ok;
        }
        return body_error_;
      }
      if (st == DecodeStatus::done) body_done_ = true;
      // Consumed everything: reuse the space for the next socket read.
      else if (raw_pos_ == end_) raw_pos_ = end_ = body_start_;
      if (produced || body_done_) {
        got = produced;
        return Status::ok;
      }
      continue;
    }
    if (continue_pending_) {
      // The application wants the body: now the client may send it. Never
      // after the final response head, though (RFC 9110 15.2): a 1xx there
      // would land inside the body; the client sends its body anyway once
      // it stops waiting for the 100.
      continue_pending_ = false;
      if (!response_.headers_sent()) {
        struct iovec part = {const_cast<char*>(kContinue.data()), kContinue.size()};
        if (Status st = transport_.write({&part, 1}); st != Status::ok) return body_error_ = st;
      }
    }
    std::size_t n = 0;
    if (Status st = transport_.read(buf_.get() + end_, cap_ - end_, n); st != Status::ok) return body_error_ = st;
    if (n == 0) return body_error_ = Status::closed;  // truncated body
    end_ += n;
  }
  return Status::ok;
}

}  // namespace trellis::http
