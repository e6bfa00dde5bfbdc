#include "response_writer.hpp"

#include <trellis/http_rules.hpp>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <new>
#include <vector>

#include "http_head.hpp"

namespace trellis::uwsgi {

using sdk::Status;

// The chunks of one write: two slots for the head (status line and fields,
// then the blank line with any added Content-Length) and the body's, on the
// stack unless the runtime passed many.
class UwsgiResponseWriter::Parts {
 public:
  static constexpr std::size_t kHeadSlots = 2;
  bool reserve(std::size_t body_chunks) noexcept {
    std::size_t n = body_chunks + kHeadSlots;
    if (n <= kInline) return true;
    try {
      heap_.resize(n);
    } catch (const std::bad_alloc&) {
      return false;
    }
    return true;
  }
  trellis_chunk* data() noexcept { return heap_.empty() ? inline_ : heap_.data(); }
  void set_head(std::string_view head, std::string_view tail) noexcept {
    data()[0] = sdk::bytes_chunk(head);
    data()[1] = sdk::bytes_chunk(tail);
    has_head_ = true;
  }
  void push(const trellis_chunk& c) noexcept { data()[kHeadSlots + body_++] = c; }
  std::span<const trellis_chunk> all() noexcept {
    trellis_chunk* d = data();
    return has_head_ ? std::span<const trellis_chunk>(d, kHeadSlots + body_)
                     : std::span<const trellis_chunk>(d + kHeadSlots, body_);
  }

 private:
  static constexpr std::size_t kInline = 16;
  trellis_chunk inline_[kInline];
  std::vector<trellis_chunk> heap_;
  std::size_t body_ = 0;
  bool has_head_ = false;
};

void UwsgiResponseWriter::begin(std::string_view method, std::string_view protocol,
                                sdk::FieldList headers) noexcept {
  protocol_ = response_protocol(protocol);
  head_request_ = method == "HEAD";
  conditional_method_ = head_request_ ? "HEAD" : method == "GET" ? "GET" : "";
  if_modified_since_.clear();
  if_none_match_ = false;
  if (conditional_method_.empty()) return;
  for (const sdk::Field f : headers) {
    if (sdk::field_name_is(f.name, "if-modified-since")) {
      try {
        if_modified_since_.assign(f.value);
      } catch (...) {
        if_modified_since_.clear();  // no 304 then: the full answer is never wrong
      }
    } else if (sdk::field_name_is(f.name, "if-none-match")) {
      if_none_match_ = true;
    }
  }
}

Status UwsgiResponseWriter::usable() const noexcept {
  if (aborted_ || broken_) return Status::closed;
  if (finished_) return Status::unsupported;
  if (!started()) return Status::invalid_argument;
  return Status::ok;
}

Status UwsgiResponseWriter::start(const sdk::ResponseHead& head) noexcept {
  if (head_sent_ || finished_) return Status::unsupported;
  if (aborted_ || broken_) return Status::closed;
  // The core refused anything check_head refuses before it got here; asked
  // again because a bad head would break the framing, not just the answer.
  HeadFacts facts;
  // Checked by the core already (check_head): only read here.
  if (check_response_head(head, &facts, nullptr, /*validate=*/false) != Status::ok) return Status::invalid_argument;
  // Conditional GET, the same rule as the HTTP plugin's (http_rules.hpp):
  // a 200 whose Last-Modified is the request's If-Modified-Since goes out
  // as a 304 with the fields a 304 keeps.
  std::string_view last_modified;
  if (!if_modified_since_.empty())
    for (const sdk::Field f : head.headers)
      if (sdk::field_name_is(f.name, "last-modified")) last_modified = f.value;
  if (sdk::answers_not_modified(conditional_method_, if_modified_since_, if_none_match_, facts.code, last_modified)) {
    try {
      head_.clear();
      head_.append(protocol_).append(" 304 Not Modified\r\n");
      for (const sdk::Field f : head.headers)
        if (sdk::kept_in_not_modified(f.name)) head_.append(f.name).append(": ").append(f.value).append("\r\n");
    } catch (const std::bad_alloc&) {
      return Status::internal_error;
    }
    status_code_ = 304;
    declared_length_ = std::nullopt;
    return Status::ok;
  }
  const bool zero_length = sdk::status_needs_zero_length(facts.code);
  const bool drop_length = sdk::status_forbids_length(facts.code) || zero_length;
  try {
    // Into the writer's own string: its capacity serves the next response.
    head_.clear();
    append_head(head_, protocol_, head.status, head.headers,
                zero_length ? std::optional<std::int64_t>(0) : std::nullopt, drop_length);
    head_.resize(head_.size() - 2);  // the blank line goes out in send()
  } catch (const std::bad_alloc&) {
    return Status::internal_error;
  }
  status_code_ = facts.code;
  declared_length_ = drop_length ? std::nullopt : facts.content_length;
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

std::uint64_t UwsgiResponseWriter::room(std::uint64_t pending) const noexcept {
  if (!declared_length_) return std::numeric_limits<std::uint64_t>::max();
  auto declared = static_cast<std::uint64_t>(*declared_length_);
  std::uint64_t used = body_bytes_ + pending;
  return used >= declared ? 0 : declared - used;
}

Status UwsgiResponseWriter::send(Parts& parts, std::uint64_t body_size, std::optional<std::uint64_t> total,
                                 bool last) noexcept {
  char tail[64];
  std::size_t tail_len = 0;
  if (!head_sent_) {
    int n = total ? std::snprintf(tail, sizeof tail, "Content-Length: %llu\r\n\r\n",
                                  static_cast<unsigned long long>(*total))
                  : std::snprintf(tail, sizeof tail, "\r\n");
    if (n < 0 || static_cast<std::size_t>(n) >= sizeof tail) return Status::internal_error;
    tail_len = static_cast<std::size_t>(n);
    parts.set_head(head_, std::string_view(tail, tail_len));
  }
  auto all = parts.all();
  if (all.empty() && !last) return Status::ok;
  Status s = last ? connection_.write_last(all) : connection_.write(all);
  if (s != Status::ok) {
    broken_ = true;
    return s;
  }
  ended_ = last;
  if (!head_sent_) wire_bytes_ += head_.size() + tail_len;
  head_sent_ = true;
  body_bytes_ += body_size;
  wire_bytes_ += body_size;
  return Status::ok;
}

Status UwsgiResponseWriter::write(std::string_view data, bool last) noexcept {
  trellis_chunk c = sdk::bytes_chunk(data);
  return write(std::span<const trellis_chunk>(&c, 1), last);
}

Status UwsgiResponseWriter::write(std::span<const trellis_chunk> chunks, bool last) noexcept {
  if (Status s = usable(); s != Status::ok) return s;
  if (ended_) return Status::unsupported;  // a write with last=true came before
  std::uint64_t offered = 0;
  for (const auto& c : chunks) offered += c.len;
  // Headers go out with the first non-empty write (or at finish()).
  if (!head_sent_ && offered == 0 && !last) return Status::ok;
  Parts parts;
  if (!parts.reserve(chunks.size())) return Status::internal_error;
  std::uint64_t size = 0;
  // HEAD, 1xx, 204, 205, 304: the body is swallowed.
  if (body_allowed()) {
    for (const auto& c : chunks) {
      if (c.len == 0) continue;
      trellis_chunk part = c;  // a FILE chunk stays one: the core sendfile()s it
      std::uint64_t left = room(size);
      if (part.len > left) {
        if (!warned_overflow_) {
          warned_overflow_ = true;
          host_.logf(sdk::LogLevel::warn,
                     part.kind == TRELLIS_CHUNK_FILE
                         ? "uwsgi: application sent a file past its Content-Length %lld; truncated"
                         : "uwsgi: application wrote more than its Content-Length %lld; extra bytes dropped",
                     static_cast<long long>(*declared_length_));
        }
        part.len = static_cast<std::size_t>(left);
      }
      if (part.len == 0) break;
      parts.push(part);
      size += part.len;
    }
  }
  std::optional<std::uint64_t> total;
  if (!head_sent_ && last && may_add_length()) total = size;
  return send(parts, size, total, last);
}

Status UwsgiResponseWriter::finish() noexcept {
  if (finished_) return Status::ok;
  if (Status s = usable(); s != Status::ok) return s;
  // The head if still due, and the end of the stream if not yet sent.
  if (!ended_) {
    std::optional<std::uint64_t> total;
    if (!head_sent_ && may_add_length()) total = 0;
    Parts none;
    if (Status s = send(none, 0, total, true); s != Status::ok) return s;
  }
  finished_ = true;
  if (declared_length_ && body_allowed() && body_bytes_ < static_cast<std::uint64_t>(*declared_length_)) {
    // The end of the stream tells the peer the body is short.
    host_.logf(sdk::LogLevel::warn, "uwsgi: response ended after %llu of its %lld Content-Length bytes",
               static_cast<unsigned long long>(body_bytes_), static_cast<long long>(*declared_length_));
  }
  return Status::ok;
}

}  // namespace trellis::uwsgi
