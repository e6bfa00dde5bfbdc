#include "response_writer.hpp"

#include <sys/stat.h>

#include <trellis/http_rules.hpp>

#include <algorithm>
#include <new>

#include "http_head.hpp"

namespace trellis::uwsgi {

using sdk::Status;

void UwsgiResponseWriter::begin(const sdk::Request& request) {
  protocol_ = response_protocol(request.protocol);
  head_request_ = request.method == "HEAD";
}

Status UwsgiResponseWriter::usable() const noexcept {
  if (aborted_ || broken_) return Status::closed;
  if (finished_) return Status::unsupported;
  if (!started()) return Status::invalid_argument;
  return Status::ok;
}

Status UwsgiResponseWriter::start(std::string_view status, std::span<const sdk::Field> headers) noexcept {
  if (head_sent_ || finished_) return Status::unsupported;
  auto code = parse_status(status);
  // A WSGI-style application cannot send an interim response: a 1xx as the
  // final status would leave the peer waiting for the real one.
  if (!code || *code < 200) return Status::invalid_argument;
  const bool zero_length = sdk::status_needs_zero_length(*code);
  const bool drop_length = sdk::status_forbids_length(*code) || zero_length;
  std::optional<std::int64_t> length;
  for (const auto& h : headers) {
    if (!valid_header_name(h.name) || !valid_header_value(h.value)) return Status::invalid_argument;
    // The server frames the body; hop-by-hop fields are the server's (PEP
    // 3333), and a Transfer-Encoding would contradict the framing.
    if (sdk::is_hop_by_hop_field(h.name)) {
      host_.logf(sdk::LogLevel::error, "uwsgi: refusing the application's response: hop-by-hop header field %.*s",
                 static_cast<int>(h.name.size()), h.name.data());
      return Status::invalid_argument;
    }
    if (iequals_ascii(h.name, "Content-Length")) {
      auto n = parse_length_value(h.value);
      // Two different lengths would let the peer pick either framing.
      if (!n || (length && *length != *n)) return Status::invalid_argument;
      length = n;
    }
  }
  try {
    std::string head;
    append_head(head, protocol_, status, headers, zero_length ? std::optional<std::int64_t>(0) : std::nullopt,
                drop_length);
    head.resize(head.size() - 2);  // the blank line goes out in send()
    head_ = std::move(head);
  } catch (const std::bad_alloc&) {
    return Status::internal_error;
  }
  status_code_ = *code;
  declared_length_ = drop_length ? std::nullopt : length;
  return Status::ok;
}

bool UwsgiResponseWriter::body_allowed() const noexcept {
  return !head_request_ && !sdk::status_forbids_content(status_code_);
}

bool UwsgiResponseWriter::may_add_length() const noexcept {
  // No body may follow these, so a length would be wrong (1xx, 204) or
  // describe another representation (304, HEAD).
  if (!body_allowed()) return false;
  return !declared_length_;
}

std::string_view UwsgiResponseWriter::clamp(std::string_view data) noexcept {
  if (!body_allowed()) return {};  // HEAD/204/304: the body is swallowed
  if (!declared_length_) return data;
  auto left = static_cast<std::uint64_t>(*declared_length_) - std::min<std::uint64_t>(body_bytes_, *declared_length_);
  if (data.size() <= left) return data;
  if (!warned_overflow_) {
    warned_overflow_ = true;
    host_.logf(sdk::LogLevel::warn, "uwsgi: application wrote more than its Content-Length %lld; extra bytes dropped",
               static_cast<long long>(*declared_length_));
  }
  return data.substr(0, static_cast<std::size_t>(left));
}

Status UwsgiResponseWriter::send(std::string_view body, std::optional<std::int64_t> total, bool last) noexcept {
  struct iovec parts[3];
  int count = 0;
  std::string tail;
  if (!head_sent_) {
    try {
      if (total) tail = "Content-Length: " + std::to_string(*total) + "\r\n";
      tail += "\r\n";
    } catch (const std::bad_alloc&) {
      return Status::internal_error;
    }
    parts[count++] = {head_.data(), head_.size()};
    parts[count++] = {tail.data(), tail.size()};
  }
  if (!body.empty()) parts[count++] = {const_cast<char*>(body.data()), body.size()};
  if (count == 0 && !last) return Status::ok;
  std::span<const struct iovec> all(parts, static_cast<std::size_t>(count));
  Status s = last ? transport_.write_last(all) : transport_.write(all);
  if (s != Status::ok) {
    broken_ = true;
    return s;
  }
  ended_ = last;
  if (!head_sent_) wire_bytes_ += head_.size() + tail.size();
  head_sent_ = true;
  body_bytes_ += body.size();
  wire_bytes_ += body.size();
  return Status::ok;
}

Status UwsgiResponseWriter::write(std::string_view data, bool last) noexcept {
  if (Status s = usable(); s != Status::ok) return s;
  if (ended_) return Status::unsupported;  // a write with last=true came before
  std::string_view body = clamp(data);
  // Headers go out with the first non-empty write (or at finish()).
  if (!head_sent_ && data.empty() && !last) return Status::ok;
  std::optional<std::int64_t> total;
  if (!head_sent_ && last && may_add_length()) total = static_cast<std::int64_t>(body.size());
  return send(body, total, last);
}

Status UwsgiResponseWriter::send_file(int fd, std::int64_t offset, std::int64_t count) noexcept {
  if (Status s = usable(); s != Status::ok) return s;
  if (ended_) return Status::unsupported;
  if (offset < 0) return Status::invalid_argument;
  if (count < 0) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return Status::io_error;
    count = std::max<std::int64_t>(0, st.st_size - offset);
  }
  if (!body_allowed()) count = 0;
  if (declared_length_) {
    auto left = *declared_length_ - std::min<std::int64_t>(static_cast<std::int64_t>(body_bytes_), *declared_length_);
    if (count > left) {
      if (!warned_overflow_) {
        warned_overflow_ = true;
        host_.logf(sdk::LogLevel::warn, "uwsgi: application sent a file past its Content-Length %lld; truncated",
                   static_cast<long long>(*declared_length_));
      }
      count = left;
    }
  }
  if (!head_sent_) {
    if (Status s = send({}, std::nullopt, false); s != Status::ok) return s;
  }
  if (count == 0) return Status::ok;
  Status s = transport_.send_file(fd, offset, count);
  if (s != Status::ok) {
    broken_ = true;
    return s;
  }
  body_bytes_ += static_cast<std::uint64_t>(count);
  wire_bytes_ += static_cast<std::uint64_t>(count);
  return Status::ok;
}

Status UwsgiResponseWriter::finish() noexcept {
  if (finished_) return Status::ok;
  if (Status s = usable(); s != Status::ok) return s;
  std::optional<std::int64_t> total;
  if (!head_sent_ && may_add_length()) total = 0;
  // The head if still due, and the end of the stream if not yet sent.
  if (!ended_) {
    if (Status s = send({}, total, true); s != Status::ok) return s;
  }
  finished_ = true;
  if (declared_length_ && body_allowed() && body_bytes_ < static_cast<std::uint64_t>(*declared_length_)) {
    // The close that follows tells the peer the body is short.
    host_.logf(sdk::LogLevel::warn, "uwsgi: response ended after %llu of its %lld Content-Length bytes",
               static_cast<unsigned long long>(body_bytes_), static_cast<long long>(*declared_length_));
  }
  return Status::ok;
}

void UwsgiResponseWriter::abort() noexcept {
  // The session reports Progress::close at once; the transport resets the
  // connection so nginx sees a broken upstream response, not a short one.
  aborted_ = true;
  transport_.abort();
}

}  // namespace trellis::uwsgi
