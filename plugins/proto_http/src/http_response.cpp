#include "http_response.hpp"

#include <trellis/http_rules.hpp>

#include "http_date.hpp"

namespace trellis::http {

using sdk::Status;

namespace {
constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kLastChunk = "0\r\n\r\n";
constexpr std::string_view kInternalError = "Internal Server Error\n";
}  // namespace

HttpResponse::HttpResponse(sdk::Connection conn, sdk::Host host) : conn_(conn), host_(host) {
  head_.reserve(512);
  parts_.reserve(16);
}

void HttpResponse::begin(const ResponseContext& ctx) noexcept {
  ctx_ = ctx;
  info_ = ResponseStartInfo{};
  framing_ = Framing::none;
  remaining_ = body_bytes_ = wire_bytes_ = 0;
  started_ = headers_sent_ = finished_ = aborted_ = broken_ = keep_alive_ = ended_ = overflow_logged_ = false;
}

Status HttpResponse::start(const sdk::ResponseHead& head) noexcept {
  if (headers_sent_ || aborted_) return Status::unsupported;
  started_ = false;
  // The core asked check_head before (abi.h): only read what it asks for;
  // what is structural (a status to frame by) is still checked.
  if (const char* problem = check_response_start(head.status, head.headers, info_, /*validate=*/false)) {
    host_.logf(sdk::LogLevel::error, "http: refusing the application's response: %s", problem);
    return Status::invalid_argument;
  }
  if (info_.switching && !ctx_.upgrade_offered) {
    host_.log(sdk::LogLevel::error, "http: refusing a 101 response: the client offered no upgrade");
    return Status::invalid_argument;
  }
  try {
    if (sdk::answers_not_modified(ctx_.method, ctx_.if_modified_since, ctx_.if_none_match, info_.status,
                                  find_field(head.headers, "last-modified")))
      render_not_modified(head.headers, info_, head_);
    else
      render_response_start(head.status, head.headers, info_, head_);
  } catch (...) {
    return Status::internal_error;
  }
  started_ = true;
  return Status::ok;
}

Status HttpResponse::send_switch() noexcept {
  if (!started_ || !info_.switching || headers_sent_) return Status::invalid_argument;
  try {
    if (!info_.has_server) head_.append("Server: trellis\r\n");
    if (!info_.has_date) head_.append("Date: ").append(http_date_now()).append("\r\n");
    head_.append("\r\n");
  } catch (...) {
    return Status::internal_error;
  }
  headers_sent_ = finished_ = true;
  Status st = conn_.write(head_);
  if (st != Status::ok) broken_ = true;
  wire_bytes_ += head_.size();
  return st;
}

Status HttpResponse::data(std::span<const trellis_chunk> chunks, bool last, bool keep_allowed) noexcept {
  if (aborted_ || finished_) return Status::unsupported;
  if (broken_) return Status::closed;
  if (!started_ || info_.switching) return Status::invalid_argument;  // a 101 goes out by send_switch only
  return send(chunks, last, {}, keep_allowed);
}

Status HttpResponse::finish(sdk::FieldList trailers, bool keep_allowed) noexcept {
  if (aborted_) return Status::unsupported;
  if (broken_) return Status::closed;
  if (!started_) {
    // The runtime promises to answer; if it did not, the client still gets
    // a well-formed reply rather than a hang.
    host_.log(sdk::LogLevel::error, "http: the runtime finished without a response; sending 500");
    sdk::ResponseHead h{"500 Internal Server Error", {}};
    if (Status st = start(h); st != Status::ok) return st;
    trellis_chunk body = sdk::bytes_chunk(kInternalError);
    return send({&body, 1}, true, {}, keep_allowed);
  }
  if (info_.switching && !headers_sent_) return Status::invalid_argument;  // a 101 without the switch
  if (finished_) {
    // The last chunk went out with the last bytes (on_data's `last`).
    if (!trailers.empty()) host_.log(sdk::LogLevel::debug, "http: trailers after the end of the body dropped");
    return Status::ok;
  }
  Status st = send({}, true, trailers, keep_allowed);
  if (st == Status::ok && !trailers.empty() && framing_ != Framing::chunked)
    host_.log(sdk::LogLevel::debug, "http: trailers dropped: the response is not chunked");
  return st;
}

Status HttpResponse::send(std::span<const trellis_chunk> chunks, bool last, sdk::FieldList trailers,
                          bool keep_allowed) noexcept {
  std::uint64_t total = 0;
  for (const trellis_chunk& c : chunks) total += c.len;
  std::uint64_t body = 0;
  try {
    parts_.clear();
    if (!headers_sent_) {
      // Nothing reaches the wire before the first body bytes or the end.
      if (total == 0 && !last) return Status::ok;
      complete_head(total, last, !trailers.empty(), keep_allowed);
      headers_sent_ = true;
      parts_.push_back(sdk::bytes_chunk(head_));
    }
    body = frame_body(chunks, total, last, trailers);
  } catch (...) {
    // Out of memory half way through a head or a frame: the framing can no
    // longer be trusted.
    broken_ = true;
    return Status::internal_error;
  }
  if (last) finished_ = true;
  // Nothing to frame: only the end of a connection that closes may be due.
  if (parts_.empty() && !ends_stream()) return Status::ok;
  Status st = emit();
  if (st == Status::ok) body_bytes_ += body;
  return st;
}

void HttpResponse::complete_head(std::uint64_t total, bool last, bool want_trailers, bool keep_allowed) {
  bool keep = ctx_.client_keep_alive && !info_.conn_close && keep_allowed;
  if (info_.no_body || ctx_.head_request) {
    framing_ = Framing::none;
    // A HEAD answer may announce the length a GET would have had.
    if (ctx_.head_request && !info_.no_body && info_.content_length < 0 && last && total > 0)
      append_content_length(head_, total);
  } else if (info_.content_length >= 0) {
    framing_ = Framing::length;
    remaining_ = static_cast<std::uint64_t>(info_.content_length);
  } else if (last && (!want_trailers || ctx_.http10)) {
    // The whole body is known: a Content-Length beats chunking (unless
    // there are trailers to carry, which only chunking can).
    framing_ = Framing::length;
    remaining_ = total;
    append_content_length(head_, total);
  } else if (!ctx_.http10) {
    framing_ = Framing::chunked;
    head_.append("Transfer-Encoding: chunked\r\n");
  } else {
    framing_ = Framing::close;  // HTTP/1.0 without a length: EOF ends it
    keep = false;
  }
  if (!keep) head_.append("Connection: close\r\n");
  else if (ctx_.http10) head_.append("Connection: keep-alive\r\n");
  if (!info_.has_server) head_.append("Server: trellis\r\n");
  if (!info_.has_date) head_.append("Date: ").append(http_date_now()).append("\r\n");
  head_.append(kCrlf);
  keep_alive_ = keep;
}

void HttpResponse::warn_overflow() noexcept {
  if (overflow_logged_) return;
  overflow_logged_ = true;
  host_.log(sdk::LogLevel::warn, "http: application sent more bytes than its Content-Length; extra dropped");
}

std::uint64_t HttpResponse::frame_body(std::span<const trellis_chunk> chunks, std::uint64_t total, bool last,
                                       sdk::FieldList trailers) {
  switch (framing_) {
    case Framing::none: return 0;  // HEAD/204/304: the body is swallowed
    case Framing::length: {
      std::uint64_t taken = 0;
      for (const trellis_chunk& c : chunks) {
        if (c.len == 0) continue;
        std::uint64_t n = c.len < remaining_ - taken ? c.len : remaining_ - taken;
        if (n < c.len) warn_overflow();
        if (n == 0) break;
        trellis_chunk part = c;
        part.len = static_cast<std::size_t>(n);
        parts_.push_back(part);
        taken += n;
      }
      remaining_ -= taken;
      return taken;
    }
    case Framing::chunked:
      if (total != 0) {
        parts_.push_back(sdk::bytes_chunk({size_line_, format_chunk_size(size_line_, total)}));
        for (const trellis_chunk& c : chunks)
          if (c.len != 0) parts_.push_back(c);
        parts_.push_back(sdk::bytes_chunk(kCrlf));
      }
      if (last) {
        if (trailers.empty()) {
          parts_.push_back(sdk::bytes_chunk(kLastChunk));
        } else {
          tail_.assign("0\r\n");
          if (std::size_t dropped = render_trailers(trailers, tail_))
            host_.logf(sdk::LogLevel::warn, "http: %zu trailer field(s) that must not be trailers dropped", dropped);
          tail_.append(kCrlf);
          parts_.push_back(sdk::bytes_chunk(tail_));
        }
      }
      return total;
    case Framing::close:
      for (const trellis_chunk& c : chunks)
        if (c.len != 0) parts_.push_back(c);
      return total;
  }
  return 0;
}

bool HttpResponse::ends_stream() const noexcept {
  if (keep_alive_ || ended_) return false;
  return finished_ || (framing_ == Framing::length && remaining_ == 0);
}

Status HttpResponse::emit() noexcept {
  const bool last = ends_stream();
  Status st = last ? conn_.write_last(parts_) : conn_.write(parts_);
  // Connection::write queues and never blocks; `again` would only say the
  // queue is long, which the core tells the runtime itself.
  if (st != Status::ok && st != Status::again) {
    broken_ = true;
    return st;
  }
  ended_ = last;
  for (const trellis_chunk& p : parts_) wire_bytes_ += p.len;
  return Status::ok;
}

bool HttpResponse::reusable() const noexcept {
  if (!headers_sent_ || !finished_ || aborted_ || broken_ || !keep_alive_) return false;
  if (framing_ == Framing::close) return false;
  // Fewer bytes than the announced Content-Length: the client is waiting
  // for the rest, so only closing the connection ends the response.
  if (framing_ == Framing::length && remaining_ != 0) return false;
  return true;
}

}  // namespace trellis::http
