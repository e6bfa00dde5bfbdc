// The reading half of HttpSession: buffering, head parsing, handing the
// body on, refusals, and the end of the connection. The request head the
// core copies is built in http_session_head.cpp, the response side (the
// StreamSink) is in http_session_sink.cpp.
#include "http_session.hpp"

#include <cstring>
#include <new>

#include "error_reply.hpp"

namespace trellis::http {

using sdk::CloseMode;
using sdk::Status;

namespace {
// Smallest read worth making; below it the buffer is compacted or grown.
constexpr std::size_t kMinRead = 2048;
// A fresh connection's buffer: a typical head and a small body fit.
constexpr std::size_t kInitialCap = 8192;
}  // namespace

HttpSession* HttpSession::create(sdk::Connection conn, const SessionConfig& config) noexcept {
  try {
    return new HttpSession(conn, config);
  } catch (...) {
    return nullptr;
  }
}

HttpSession::HttpSession(sdk::Connection conn, const SessionConfig& config)
    : conn_(conn), cfg_(config), parser_(config.parse), response_(conn, config.host) {
  cap_ = cfg_.parse.max_head < kInitialCap ? cfg_.parse.max_head : kInitialCap;
  if (cap_ < 512) cap_ = 512;
  buf_ = std::make_unique_for_overwrite<char[]>(cap_);
  fields_.reserve(cfg_.parse.max_fields);
}

// ---- reading ---------------------------------------------------------------

bool HttpSession::reading_wanted() const noexcept {
  if (state_ == State::head || state_ == State::upgraded) return true;
  return state_ == State::body && !go_ahead_wait_ && !body_paused_;
}

void HttpSession::update_reading() noexcept {
  // Between a complete request and the end of its response nothing is read
  // (pipelined bytes wait in the kernel), nor while the body waits for the
  // runtime.
  if (state_ == State::closed) return;  // the core stops reading itself
  const bool pause = !reading_wanted();
  if (pause == reading_paused_) return;
  reading_paused_ = pause;
  conn_.pause_reading(pause);
}

std::span<char> HttpSession::read_space() noexcept {
  // Room is made after every step (make_room), where a failure can still be
  // answered; here there is nothing left to decide.
  if (!reading_wanted()) return {};
  return {buf_.get() + end_, cap_ - end_};
}

void HttpSession::on_received(std::size_t n) noexcept {
  end_ += n;
  switch (state_) {
    case State::head: parse_head(); break;
    case State::body: pump_body(); break;
    case State::upgraded: deliver_upgraded(); break;
    // Read before the pause took effect: kept for after the response.
    case State::complete:
    case State::closed: break;
  }
  make_room();
}

void HttpSession::on_eof() noexcept {
  switch (state_) {
    case State::head:
      // Between requests this is the normal end; mid-head the client gave
      // up and nobody is left to read an error reply.
      close(CloseMode::after_write);
      break;
    case State::body: {
      // A body cut short is said in the log (nothing is lost silently), as
      // the uwsgi plugin does.
      sdk::ConnectionInfo ci = conn_.info();
      if (decoder_.kind() == BodyKind::length)
        cfg_.host.logf(sdk::LogLevel::warn,
                       "http: client %.*s closed the connection after %llu of %llu request body bytes",
                       static_cast<int>(ci.remote_addr.size()), ci.remote_addr.data(),
                       static_cast<unsigned long long>(decoder_.decoded()),
                       static_cast<unsigned long long>(decoder_.decoded() + decoder_.remaining()));
      else
        cfg_.host.logf(sdk::LogLevel::warn,
                       "http: client %.*s closed the connection after %llu bytes of a chunked request body",
                       static_cast<int>(ci.remote_addr.size()), ci.remote_addr.data(),
                       static_cast<unsigned long long>(decoder_.decoded()));
      stream_.reset(Status::closed);
      // A response already under way must not look complete.
      close(response_.headers_sent() ? CloseMode::abort : CloseMode::after_write);
      break;
    }
    case State::complete:
      // A half-close is not a disconnect: the request is served, then the
      // connection ends (end_exchange).
      peer_eof_ = true;
      break;
    case State::upgraded:
      // The other protocol's peer is gone: so is the stream.
      stream_.reset(Status::closed);
      close(CloseMode::after_write);
      break;
    case State::closed: break;
  }
}

void HttpSession::deliver_upgraded() noexcept {
  if (begin_ == end_) return;
  Status st = stream_.message(TRELLIS_MESSAGE_BINARY | TRELLIS_MESSAGE_FINAL,
                              std::string_view(buf_.get() + begin_, end_ - begin_));
  begin_ = end_ = 0;
  if (st != Status::ok) {
    stream_.reset(st);
    close(CloseMode::abort);
  }
}

sdk::Phase HttpSession::phase() const noexcept {
  switch (state_) {
    case State::head: return end_ > begin_ ? sdk::Phase::head : sdk::Phase::idle;
    // Waiting for the runtime (go-ahead, or it holds all the body it may)
    // is no client's slowness.
    case State::body: return go_ahead_wait_ || body_paused_ ? sdk::Phase::busy : sdk::Phase::body;
    case State::complete:
    case State::upgraded: return sdk::Phase::busy;  // the other protocol keeps its own time
    case State::closed: return sdk::Phase::idle;
  }
  return sdk::Phase::idle;
}

void HttpSession::parse_head() noexcept {
  switch (parser_.parse(buf_.get() + begin_, end_ - begin_)) {
    case ParseStatus::need_more: return;
    case ParseStatus::error: return refuse(parser_.error_status());
    case ParseStatus::done: return open_stream();
  }
}

void HttpSession::open_stream() noexcept {
  const RequestHead& h = parser_.head();
  try {
    build_head();
  } catch (...) {
    return refuse(500);
  }
  ResponseContext ctx;
  ctx.head_request = head_request_;
  ctx.http10 = h.minor == 0;
  ctx.client_keep_alive = h.keep_alive;
  ctx.method = conditional_method_;
  ctx.if_modified_since = if_modified_since_;
  ctx.if_none_match = if_none_match_;
  ctx.upgrade_offered = (head_.flags & TRELLIS_REQUEST_UPGRADE_OFFERED) != 0;
  response_.begin(ctx);
  go_ahead_wait_ = body_paused_ = body_discard_ = false;

  stream_ = conn_.open_stream(head_, *this);
  if (!stream_) return refuse(500);  // no runtime serves it, or out of memory (the core logged which)
  // The core copied the head: its bytes are free from here on.
  begin_ += h.head_len;
  decoder_.reset(h.body, static_cast<std::uint64_t>(h.content_length), cfg_.parse.max_body, cfg_.parse.max_head);
  if (h.body == BodyKind::none) {
    body_complete();
    return;
  }
  state_ = State::body;
  go_ahead_wait_ = h.expect_continue;
  pump_body();
  update_reading();
}

void HttpSession::pump_body() noexcept {
  if (state_ != State::body || go_ahead_wait_ || body_paused_ || begin_ == end_) return;
  std::size_t used = 0, produced = 0;
  char* at = buf_.get() + begin_;
  // In place: decoded bytes land at or before the encoded ones.
  DecodeStatus st = decoder_.consume(at, end_ - begin_, at, SIZE_MAX, used, produced);
  begin_ += used;
  if (produced != 0 && !body_discard_) {
    switch (Status r = stream_.body({at, produced})) {
      case Status::ok: break;
      case Status::again: body_paused_ = true; break;
      case Status::closed: body_discard_ = true; break;  // nobody reads it: drain to the end, keep the connection
      case Status::too_large: return body_failed(413, r);
      default: return body_failed(500, r);
    }
  }
  if (st == DecodeStatus::error)
    return body_failed(decoder_.error_status(), decoder_.error_status() == 413 ? Status::too_large : Status::protocol_error);
  if (begin_ == end_) begin_ = end_ = 0;  // everything consumed: the space is free again
  if (st == DecodeStatus::done) body_complete();
  update_reading();
}

void HttpSession::body_complete() noexcept {
  state_ = State::complete;
  go_ahead_wait_ = body_paused_ = false;
  // Trailers were checked and dropped by the decoder.
  if (!body_discard_) (void)stream_.body_end();
  update_reading();
}

// ---- the end of an exchange ------------------------------------------------

void HttpSession::end_exchange() noexcept {
  stream_.close({response_.status(), response_.body_bytes(), response_.wire_bytes()});
  const bool body_done = state_ == State::complete;
  // Only what the response head announced counts: a drain that began after
  // the head went out with keep-alive must not close under the client,
  // which may be sending its next request already. That request is
  // answered with "Connection: close".
  if (!response_.reusable() || !body_done) {
    // The client may still be sending: bytes already here after this
    // request (a pipelined request, an extra CRLF), a body not read to its
    // end, or a next request sent in the belief that the connection stays
    // open. Closing with unread bytes makes the kernel reset the
    // connection, which destroys the end of the response still in flight
    // (RFC 9112 §9.6): a graceful close half-closes and reads until the
    // client is done instead. A client that asked to close and sent
    // nothing more gets the plain close.
    const bool client_may_send = !peer_eof_ && (begin_ < end_ || !body_done || client_keep_alive_);
    return close(client_may_send ? CloseMode::graceful : CloseMode::after_write);
  }
  // The next request starts where this one's body ended.
  if (begin_ == end_) begin_ = end_ = 0;
  parser_.reset();
  state_ = State::head;
  // After a big head the buffer shrinks back, so a keep-alive connection
  // does not pin a buffer-size allocation forever.
  if (cap_ > 8 * kInitialCap && end_ - begin_ <= kInitialCap / 2) reallocate(kInitialCap);
  update_reading();
  if (begin_ < end_) parse_head();
  // The client sends nothing more: what is buffered was all there was.
  if (peer_eof_ && state_ == State::head) return close(CloseMode::after_write);
  make_room();
}

void HttpSession::refuse(int status) noexcept {
  // Whatever else is wrong with it, a request line starting "HEAD " asked
  // for no content.
  std::string_view raw(buf_.get() + begin_, end_ - begin_);
  while (raw.starts_with("\r\n")) raw.remove_prefix(2);
  const bool head = state_ == State::head ? raw.starts_with("HEAD ") : head_request_;
  cfg_.host.logf(sdk::LogLevel::debug, "http: refused a request with %d", status);
  conn_.refused(status);  // counted apart in the stats
  try {
    build_error_reply(status, error_reply_, !head);
    (void)conn_.write(error_reply_);
  } catch (...) {
    // Out of memory: close without a reply.
  }
  close(CloseMode::graceful);
}

void HttpSession::body_failed(int status, Status why) noexcept {
  stream_.reset(why);
  if (!response_.headers_sent()) return refuse(status);
  // The answer is under way: there is no other to give, and it must not
  // look complete.
  cfg_.host.logf(sdk::LogLevel::debug, "http: request body failed with %d after the response started", status);
  close(CloseMode::abort);
}

void HttpSession::connection_lost() noexcept {
  stream_.reset(Status::closed);
  close(CloseMode::abort);
}

void HttpSession::close(CloseMode how) noexcept {
  if (state_ == State::closed) return;
  state_ = State::closed;
  conn_.close(how);
}

// ---- the buffer --------------------------------------------------------------

void HttpSession::make_room() noexcept {
  if (state_ == State::closed || !reading_wanted() || ensure_space()) return;
  if (state_ == State::head) return refuse(500);
  body_failed(500, Status::internal_error);
}

bool HttpSession::ensure_space() noexcept {
  std::size_t want = kMinRead;
  if (cap_ - end_ >= want) return true;
  move_to_front();
  if (cap_ - end_ >= want) return true;
  std::size_t limit;  // the most this phase may ever need
  if (state_ == State::head) {
    // The parser fails once max_head bytes are buffered, so any free byte
    // is progress; grow only up to the head limit.
    if (cap_ >= cfg_.parse.max_head) return cap_ > end_;
    limit = cfg_.parse.max_head;
  } else {
    // A body is handed on as it arrives: only bytes in flight are here.
    limit = end_ + want;
  }
  std::size_t target = cap_ * 2;
  if (target > limit) target = limit;
  if (target < end_ + want) target = end_ + want;
  return reallocate(target);
}

bool HttpSession::reallocate(std::size_t new_cap) noexcept {
  // Only [begin_, end_) is live: copy that to the front of the new buffer.
  const std::size_t live = end_ - begin_;
  if (new_cap < live) return false;
  std::unique_ptr<char[]> nb(new (std::nothrow) char[new_cap]);
  if (!nb) return false;
  if (live) std::memcpy(nb.get(), buf_.get() + begin_, live);
  buf_ = std::move(nb);
  cap_ = new_cap;
  end_ = live;
  begin_ = 0;
  return true;
}

void HttpSession::move_to_front() noexcept {
  if (begin_ == 0) return;
  const std::size_t live = end_ - begin_;
  std::memmove(buf_.get(), buf_.get() + begin_, live);
  end_ = live;
  begin_ = 0;
}

}  // namespace trellis::http
