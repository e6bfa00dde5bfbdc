#include "http_response.hpp"

#include <sys/stat.h>
#include <sys/uio.h>

#include "http_date.hpp"

namespace trellis::http {

using sdk::Status;

namespace {
constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kLastChunk = "0\r\n\r\n";

struct iovec iov(std::string_view s) noexcept {
  return {const_cast<char*>(s.data()), s.size()};
}
}  // namespace

HttpResponse::HttpResponse(sdk::Transport& transport, sdk::Host* host) : transport_(transport), host_(host) {
  head_.reserve(512);
}

void HttpResponse::begin(const ResponseContext& ctx, const bool* body_done,
                         const std::atomic<bool>* draining) noexcept {
  ctx_ = ctx;
  body_done_ = body_done;
  draining_ = draining;
  info_ = ResponseStartInfo{};
  framing_ = Framing::none;
  remaining_ = body_bytes_ = wire_bytes_ = 0;
  started_ = headers_sent_ = finished_ = aborted_ = broken_ = keep_alive_ = ended_ = overflow_logged_ = false;
}

Status HttpResponse::start(std::string_view status, std::span<const sdk::Field> headers) noexcept {
  if (headers_sent_) return Status::unsupported;
  started_ = false;
  const char* problem;
  try {
    problem = encode_response_start(status, headers, head_, info_);
  } catch (...) {
    return Status::internal_error;
  }
  if (problem) {
    if (host_) host_->logf(sdk::LogLevel::error, "http: refusing the application's response: %s", problem);
    return Status::invalid_argument;
  }
  started_ = true;
  return Status::ok;
}

bool HttpResponse::ends_stream() const noexcept {
  if (keep_alive_ || ended_) return false;
  return finished_ || (framing_ == Framing::length && remaining_ == 0);
}

Status HttpResponse::emit(const struct iovec* parts, int count) noexcept {
  std::size_t total = 0;
  for (int i = 0; i < count; ++i) total += parts[i].iov_len;
  std::span<const struct iovec> all(parts, static_cast<std::size_t>(count));
  const bool last = ends_stream();
  Status st = last ? transport_.write_last(all) : transport_.write(all);
  if (st != Status::ok) {
    broken_ = true;
    return st;
  }
  ended_ = last;
  wire_bytes_ += total;
  return Status::ok;
}

Status HttpResponse::send_head(std::string_view data, bool last) noexcept {
  bool keep = ctx_.client_keep_alive && !info_.conn_close && (!body_done_ || *body_done_) &&
              !(draining_ && draining_->load(std::memory_order_relaxed));
  try {
    if (info_.no_body || ctx_.head_request) {
      framing_ = Framing::none;
      // A HEAD answer may announce the length a GET would have had.
      if (ctx_.head_request && !info_.no_body && info_.content_length < 0 && last && !data.empty())
        append_content_length(head_, data.size());
    } else if (info_.content_length >= 0) {
      framing_ = Framing::length;
      remaining_ = static_cast<std::uint64_t>(info_.content_length);
    } else if (last) {
      // The whole body is known: a Content-Length beats chunking.
      framing_ = Framing::length;
      remaining_ = data.size();
      append_content_length(head_, data.size());
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
  } catch (...) {
    return Status::internal_error;
  }
  keep_alive_ = keep;
  headers_sent_ = true;

  // One writev: head, then the first body bytes in their framing.
  struct iovec parts[5];
  int n = 0;
  parts[n++] = iov(head_);
  char size_line[24];
  std::uint64_t body = frame_body(data, last, parts, n, size_line);
  if (last) finished_ = true;
  Status st = emit(parts, n);
  if (st == Status::ok) body_bytes_ += body;
  return st;
}

std::uint64_t HttpResponse::frame_body(std::string_view data, bool last, struct iovec* parts, int& n,
                                       char (&size_line)[24]) noexcept {
  switch (framing_) {
    case Framing::none: return 0;  // HEAD/204/304: the body is swallowed
    case Framing::length: {
      std::size_t take = data.size() < remaining_ ? data.size() : static_cast<std::size_t>(remaining_);
      if (take < data.size() && host_ && !overflow_logged_) {
        overflow_logged_ = true;
        host_->log(sdk::LogLevel::warn, "http: application sent more bytes than its Content-Length; extra dropped");
      }
      if (take) parts[n++] = iov(data.substr(0, take));
      remaining_ -= take;
      return take;
    }
    case Framing::chunked:
      if (!data.empty()) {
        parts[n++] = iov({size_line, format_chunk_size(size_line, data.size())});
        parts[n++] = iov(data);
        parts[n++] = iov(kCrlf);
      }
      if (last) parts[n++] = iov(kLastChunk);
      return data.size();
    case Framing::close:
      if (!data.empty()) parts[n++] = iov(data);
      return data.size();
  }
  return 0;
}

Status HttpResponse::send_body(std::string_view data, bool last) noexcept {
  struct iovec parts[4];
  int n = 0;
  char size_line[24];
  std::uint64_t body = frame_body(data, last, parts, n, size_line);
  if (last) finished_ = true;
  // Nothing to frame: only the end of a connection that closes may be due.
  if (n == 0 && !ends_stream()) return Status::ok;
  Status st = emit(parts, n);
  if (st == Status::ok) body_bytes_ += body;
  return st;
}

Status HttpResponse::write(std::string_view data, bool last) noexcept {
  if (aborted_ || finished_) return Status::unsupported;
  if (broken_) return Status::io_error;
  if (!started_) return Status::invalid_argument;
  if (!headers_sent_) {
    // Nothing reaches the wire before the first non-empty write.
    if (data.empty() && !last) return Status::ok;
    return send_head(data, last);
  }
  return send_body(data, last);
}

Status HttpResponse::send_file(int fd, std::int64_t offset, std::int64_t count) noexcept {
  if (aborted_ || finished_) return Status::unsupported;
  if (broken_) return Status::io_error;
  if (!started_) return Status::invalid_argument;
  if (offset < 0) return Status::invalid_argument;
  if (count < 0) {
    // The chunk size must be known before the bytes go out.
    struct stat st;
    if (::fstat(fd, &st) != 0) return Status::io_error;
    count = st.st_size > offset ? st.st_size - offset : 0;
  }
  if (!headers_sent_) {
    if (Status st = send_head({}, false); st != Status::ok) return st;
  }
  std::uint64_t n = static_cast<std::uint64_t>(count);
  if (framing_ == Framing::none || n == 0) return Status::ok;
  if (framing_ == Framing::length && n > remaining_) {
    n = remaining_;
    if (host_ && !overflow_logged_) {
      overflow_logged_ = true;
      host_->log(sdk::LogLevel::warn, "http: application sent more bytes than its Content-Length; extra dropped");
    }
    if (n == 0) return Status::ok;
  }
  char size_line[24];
  if (framing_ == Framing::chunked) {
    struct iovec line = iov({size_line, format_chunk_size(size_line, static_cast<std::size_t>(n))});
    if (Status st = emit(&line, 1); st != Status::ok) return st;
  }
  Status st = transport_.send_file(fd, offset, static_cast<std::int64_t>(n));
  if (st != Status::ok) {
    // Part of the file may have gone out: the framing can no longer be
    // trusted, so the connection must end.
    broken_ = true;
    return st;
  }
  wire_bytes_ += n;
  body_bytes_ += n;
  if (framing_ == Framing::length) remaining_ -= n;
  if (framing_ == Framing::chunked) {
    struct iovec crlf = iov(kCrlf);
    return emit(&crlf, 1);
  }
  return Status::ok;
}

Status HttpResponse::finish() noexcept {
  if (aborted_) return Status::unsupported;
  if (finished_) return Status::ok;
  if (broken_) return Status::io_error;
  if (!started_) return Status::invalid_argument;
  if (!headers_sent_) return send_head({}, true);
  return send_body({}, true);
}

void HttpResponse::abort() noexcept {
  // Nothing more is written: no terminating chunk, no missing bytes. The
  // session reports Progress::close; the transport resets the connection, so
  // even a close-delimited HTTP/1.0 body never looks complete.
  aborted_ = true;
  if (headers_sent_) transport_.abort();
}

void HttpResponse::complete() noexcept {
  if (aborted_ || finished_ || broken_) return;
  if (!started_) {
    // The runtime promises to answer; if it did not, the client still gets
    // a well-formed reply rather than a hang.
    if (host_) host_->log(sdk::LogLevel::error, "http: the runtime returned without a response; sending 500");
    if (start("500 Internal Server Error", {}) != Status::ok) return;
    write("Internal Server Error\n", true);
    return;
  }
  finish();
}

bool HttpResponse::reusable() const noexcept {
  if (!headers_sent_ || !finished_ || aborted_ || broken_ || !keep_alive_) return false;
  if (framing_ == Framing::close) return false;
  // Fewer bytes than the announced Content-Length: the client is waiting
  // for the rest, so only closing the connection ends the response.
  if (framing_ == Framing::length && remaining_ != 0) return false;
  // 1xx as a final status is not a complete exchange for the client.
  if (info_.status < 200) return false;
  return true;
}

}  // namespace trellis::http
