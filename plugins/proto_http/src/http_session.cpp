// The event-loop half of HttpSession: buffering, head parsing, body
// reception, and what happens between two requests. The application-thread
// half (Request construction, BodyReader) is in http_session_app.cpp.
#include "http_session.hpp"

#include <algorithm>

#include <cstring>
#include <new>

#include "error_reply.hpp"

namespace trellis::http {

using sdk::Progress;

namespace {
// Smallest read worth making; below it the buffer is compacted or grown.
constexpr std::size_t kMinRead = 2048;
// A fresh connection's buffer: a typical head and a small body fit.
constexpr std::size_t kInitialCap = 8192;
// After a big body the buffer shrinks back when idle, so a keep-alive
// connection does not pin a post-buffering sized allocation forever.
constexpr std::size_t kShrinkAbove = 64 * 1024;
// Room the 100-continue reader needs after the head for socket reads.
constexpr std::size_t kStreamSpace = 16 * 1024;
// A spooled body is written to its file in pieces of at most this size.
constexpr std::size_t kSpoolChunk = 64 * 1024;
// Every session's buffer capacity in this process (the worker), for the cap
// in body_memory_allows().
std::atomic<std::size_t> g_buffer_bytes{0};
constexpr std::uint64_t kBodyMemoryFactor = 64;
}  // namespace

HttpSession* HttpSession::create(sdk::Transport& transport, const SessionConfig& config) noexcept {
  try {
    return new HttpSession(transport, config);
  } catch (...) {
    return nullptr;
  }
}

HttpSession::HttpSession(sdk::Transport& transport, const SessionConfig& config)
    : transport_(transport), cfg_(config), parser_(config.parse), response_(transport, config.host) {
  cap_ = cfg_.parse.max_head < kInitialCap ? cfg_.parse.max_head : kInitialCap;
  if (cap_ < 512) cap_ = 512;
  buf_ = std::make_unique_for_overwrite<char[]>(cap_);
  g_buffer_bytes.fetch_add(cap_, std::memory_order_relaxed);
  fields_.reserve(cfg_.parse.max_fields);
  joined_.reserve(cfg_.parse.max_fields);
}

HttpSession::~HttpSession() { g_buffer_bytes.fetch_sub(cap_, std::memory_order_relaxed); }

bool HttpSession::body_memory_allows(std::size_t more) const noexcept {
  std::uint64_t limit = cfg_.post_buffering * kBodyMemoryFactor;
  return g_buffer_bytes.load(std::memory_order_relaxed) + more <= limit;
}

std::span<char> HttpSession::read_space() noexcept {
  // Room is made at the end of every on_received (ensure_space), where a
  // failure can still be answered; here there is nothing left to decide.
  if (state_ != State::head && state_ != State::body) return {};
  return {buf_.get() + end_, cap_ - end_};
}

Progress HttpSession::on_received(std::size_t n) noexcept {
  end_ += n;
  switch (state_) {
    case State::head: return parse_head();
    case State::body: return continue_body();
    default: return Progress::close;  // the core should not read now
  }
}

Progress HttpSession::on_eof() noexcept {
  // Between requests this is the normal end; mid-request the client gave
  // up and nobody is left to read an error reply. A body cut short is said
  // in the log (nothing is lost silently), as the uwsgi plugin does.
  if (state_ == State::body && cfg_.host) {
    const auto& ci = transport_.info();
    if (decoder_.kind() == BodyKind::length)
      cfg_.host->logf(sdk::LogLevel::warn,
                      "http: client %.*s closed the connection after %llu of %llu request body bytes",
                      static_cast<int>(ci.remote_addr.size()), ci.remote_addr.data(),
                      static_cast<unsigned long long>(decoder_.decoded()),
                      static_cast<unsigned long long>(decoder_.decoded() + decoder_.remaining()));
    else
      cfg_.host->logf(sdk::LogLevel::warn,
                      "http: client %.*s closed the connection after %llu bytes of a chunked request body",
                      static_cast<int>(ci.remote_addr.size()), ci.remote_addr.data(),
                      static_cast<unsigned long long>(decoder_.decoded()));
  }
  state_ = State::closed;
  return Progress::close;
}

sdk::Phase HttpSession::phase() const noexcept {
  switch (state_) {
    case State::head: return end_ > begin_ ? sdk::Phase::head : sdk::Phase::idle;
    case State::body:
    case State::app: return sdk::Phase::body;
    default: return sdk::Phase::idle;
  }
}

sdk::ResponseSummary HttpSession::summary() const noexcept {
  if (error_summary_.status != 0) return error_summary_;
  return {response_.status(), response_.body_bytes(), response_.wire_bytes()};
}

Progress HttpSession::fail(int status) noexcept {
  state_ = State::closed;
  // Whatever else is wrong with it, a request line starting "HEAD " asked
  // for no content.
  std::string_view raw(buf_.get() + begin_, end_ - begin_);
  while (raw.starts_with("\r\n")) raw.remove_prefix(2);
  bool head = raw.starts_with("HEAD ");
  try {
    build_error_reply(status, error_reply_, !head);
  } catch (...) {
    error_reply_.clear();  // out of memory: close without a reply
  }
  error_summary_ = {status, 0, error_reply_.size()};
  if (cfg_.host) cfg_.host->logf(sdk::LogLevel::debug, "http: refused a request with %d", status);
  return Progress::respond_and_close;
}

Progress HttpSession::need_more() noexcept {
  if (!ensure_space()) return fail(500);
  return Progress::need_more;
}

Progress HttpSession::parse_head() noexcept {
  switch (parser_.parse(buf_.get() + begin_, end_ - begin_)) {
    case ParseStatus::need_more: return need_more();
    case ParseStatus::error: return fail(parser_.error_status());
    case ParseStatus::done: return start_body();
  }
  return fail(500);
}

Progress HttpSession::start_body() noexcept {
  const RequestHead& h = parser_.head();
  body_start_ = body_end_ = raw_pos_ = begin_ + h.head_len;
  body_read_ = 0;
  body_done_ = false;
  streaming_ = false;
  continue_pending_ = false;
  body_error_ = sdk::Status::ok;
  decoder_.reset(h.body, static_cast<std::uint64_t>(h.content_length), cfg_.parse.max_body, cfg_.parse.max_head);

  if (h.body == BodyKind::none) {
    body_done_ = true;
    return hand_over();
  }
  if (h.expect_continue) {
    // The views handed to the app must not move, so make room for the
    // body reader's socket reads now, before they are created.
    streaming_ = true;
    continue_pending_ = end_ == body_start_;  // no body byte sent yet
    if (cap_ - body_start_ < kStreamSpace && !reallocate(body_start_ - begin_ + (end_ - body_start_) + kStreamSpace))
      return fail(500);
    return hand_over();
  }
  const bool spool = cfg_.post_buffering == 0 ||
                     (h.body == BodyKind::length &&
                      (static_cast<std::uint64_t>(h.content_length) > cfg_.post_buffering ||
                       !body_memory_allows(static_cast<std::size_t>(h.content_length))));
  if (spool && !start_spool()) return fail(500);
  if (!spool && h.body == BodyKind::length) {
    // Room for the whole body now, so it counts against the worker's
    // total before the next connection asks (the pages are only touched
    // as bytes arrive).
    std::size_t need = std::max(body_start_ - begin_ + static_cast<std::size_t>(h.content_length), end_ - begin_);
    if (cap_ - begin_ < need && !reallocate(need)) return fail(500);
  }
  state_ = State::body;
  return continue_body();
}

Progress HttpSession::continue_body() noexcept {
  std::size_t used = 0, produced = 0;
  char* base = buf_.get();
  DecodeStatus st = decoder_.consume(base + raw_pos_, end_ - raw_pos_, base + body_end_, SIZE_MAX, used, produced);
  raw_pos_ += used;
  body_end_ += produced;
  if (st == DecodeStatus::error) return fail(decoder_.error_status());
  if (spool_.is_open() && !flush_to_spool()) return fail(500);
  if (st == DecodeStatus::done) {
    body_done_ = true;
    return hand_over();
  }
  // Everything received was consumed: the chunk framing between decoded
  // bytes and the read position is free again.
  raw_pos_ = end_ = body_end_;
  return need_more();
}

bool HttpSession::start_spool() noexcept {
  if (!spool_.open()) {
    if (cfg_.host) cfg_.host->logf(sdk::LogLevel::error, "http: cannot create a temp file for a request body: %s", std::strerror(errno));
    return false;
  }
  return flush_to_spool();
}

bool HttpSession::flush_to_spool() noexcept {
  if (body_end_ == body_start_) return true;
  if (!spool_.append(buf_.get() + body_start_, body_end_ - body_start_)) {
    if (cfg_.host) cfg_.host->logf(sdk::LogLevel::error, "http: cannot spool a request body: %s", std::strerror(errno));
    return false;
  }
  // Keep pipelined bytes that followed the body, if any; otherwise the
  // space is free again.
  if (raw_pos_ == end_) raw_pos_ = end_ = body_start_;
  body_end_ = body_start_;
  return true;
}

bool HttpSession::reallocate(std::size_t new_cap) noexcept {
  // Only [begin_, end_) is live: copy that to the front of the new buffer.
  const std::size_t live = end_ - begin_;
  if (new_cap < live) return false;
  std::unique_ptr<char[]> nb(new (std::nothrow) char[new_cap]);
  if (!nb) return false;
  if (live) std::memcpy(nb.get(), buf_.get() + begin_, live);
  buf_ = std::move(nb);
  g_buffer_bytes.fetch_add(new_cap, std::memory_order_relaxed);
  g_buffer_bytes.fetch_sub(cap_, std::memory_order_relaxed);
  cap_ = new_cap;
  body_start_ -= begin_ <= body_start_ ? begin_ : body_start_;
  body_end_ -= begin_ <= body_end_ ? begin_ : body_end_;
  raw_pos_ -= begin_ <= raw_pos_ ? begin_ : raw_pos_;
  end_ = live;
  begin_ = 0;
  return true;
}

void HttpSession::move_to_front() noexcept {
  if (begin_ == 0) return;
  const std::size_t live = end_ - begin_;
  std::memmove(buf_.get(), buf_.get() + begin_, live);
  body_start_ -= begin_ <= body_start_ ? begin_ : body_start_;
  body_end_ -= begin_ <= body_end_ ? begin_ : body_end_;
  raw_pos_ -= begin_ <= raw_pos_ ? begin_ : raw_pos_;
  end_ = live;
  begin_ = 0;
}

bool HttpSession::ensure_space() noexcept {
  std::size_t want = kMinRead;
  if (state_ == State::body && decoder_.kind() == BodyKind::length && decoder_.remaining() < want)
    want = static_cast<std::size_t>(decoder_.remaining());
  if (want == 0) want = 1;
  if (cap_ - end_ >= want) return true;
  move_to_front();
  if (cap_ - end_ >= want) return true;

  std::size_t limit;  // the most this phase may ever need
  if (state_ == State::head) {
    // The parser fails once max_head bytes are buffered, so any free byte
    // is progress; grow only up to the head limit.
    if (cap_ >= cfg_.parse.max_head) return cap_ > end_;
    limit = cfg_.parse.max_head;
  } else if (spool_.is_open()) {
    limit = body_start_ + kSpoolChunk;
  } else if (decoder_.kind() == BodyKind::length) {
    limit = body_start_ + static_cast<std::size_t>(decoder_.remaining() + decoder_.decoded());
  } else {
    // Chunked in memory: past post-buffering (or the worker's total) the
    // rest goes to a file.
    if (body_end_ - body_start_ + want > cfg_.post_buffering || !body_memory_allows(cap_)) {
      if (!start_spool()) return false;
      if (cap_ - end_ >= want) return true;
      limit = body_start_ + kSpoolChunk;
    } else {
      limit = body_start_ + static_cast<std::size_t>(cfg_.post_buffering) + kMinRead;
    }
  }
  std::size_t target = cap_ * 2;
  if (target < end_ + want) target = end_ + want;
  if (target > limit) target = limit;
  if (target < end_ + want) target = end_ + want;
  return reallocate(target);
}

Progress HttpSession::finish_request() noexcept {
  if (state_ != State::app) return Progress::close;
  response_.complete();
  spool_.close();
  // Only what the response head announced counts: a drain that began after
  // the head went out with keep-alive must not close under the client,
  // which may be sending its next request already. That request is
  // answered with "Connection: close".
  const bool keep = response_.reusable() && body_done_ && body_error_ == sdk::Status::ok;
  if (!keep) {
    state_ = State::closed;
    // The client may still be sending: bytes already here after this
    // request (a pipelined request, an extra CRLF), a body the application
    // left unread, or a next request sent in the belief that the connection
    // stays open. Closing with unread bytes makes the kernel reset the
    // connection, which destroys the end of the response still in flight
    // (RFC 9112 §9.6): the core half-closes and reads until the client is
    // done instead (respond_and_close with nothing left to send). A client
    // that asked to close and sent nothing more gets the plain close.
    // An aborted response must end in a reset, never in a clean FIN.
    const bool client_may_send = raw_pos_ < end_ || !body_done_ || parser_.head().keep_alive;
    if (client_may_send && !response_.aborted() && !response_.broken()) return Progress::respond_and_close;
    return Progress::close;
  }
  // The next request starts where this one's body ended.
  begin_ = raw_pos_;
  if (begin_ == end_) begin_ = end_ = 0;
  parser_.reset();
  state_ = State::head;
  if (cap_ > kShrinkAbove && end_ - begin_ <= kInitialCap / 2) reallocate(kInitialCap);
  if (begin_ < end_) return parse_head();
  return need_more();
}

}  // namespace trellis::http
