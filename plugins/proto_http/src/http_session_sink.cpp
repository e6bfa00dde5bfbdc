// The response half of HttpSession: the StreamSink of the current stream.
// The core calls it on the loop thread, never while a session callback
// runs, so it may end the exchange, parse the next pipelined request and
// open its stream, or close the connection.
#include "http_session.hpp"

namespace trellis::http {

using sdk::CloseMode;
using sdk::Status;

namespace {
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
}  // namespace

Status HttpSession::on_start(const sdk::ResponseHead& head) noexcept {
  if (state_ == State::closed || !stream_) return Status::closed;
  return response_.start(head);
}

Status HttpSession::on_upgrade() noexcept {
  if (state_ != State::complete || !stream_ || !response_.switching())
    return Status::unsupported;
  if (Status st = response_.send_switch(); st != Status::ok) {
    connection_lost();
    return st;
  }
  state_ = State::upgraded;
  // Bytes the client sent right after its request are the new protocol's.
  deliver_upgraded();
  if (state_ == State::closed) return Status::closed;
  update_reading();
  make_room();
  return Status::ok;
}

Status HttpSession::on_message(std::uint32_t flags, std::span<const trellis_chunk> chunks) noexcept {
  if (state_ != State::upgraded || !stream_) return state_ == State::closed ? Status::closed : Status::unsupported;
  if (!chunks.empty()) {
    Status st = conn_.write(chunks);
    if (st != Status::ok) {
      connection_lost();
      return st;
    }
  }
  if (flags & TRELLIS_MESSAGE_CLOSE) {
    stream_.close({response_.status(), response_.body_bytes(), response_.wire_bytes()});
    close(CloseMode::graceful);
  }
  return Status::ok;
}

Status HttpSession::on_data(std::span<const trellis_chunk> chunks, bool last) noexcept {
  if (state_ == State::closed || !stream_) return Status::closed;
  Status st = response_.data(chunks, last, keep_allowed());
  if (response_.broken()) connection_lost();
  return st;
}

Status HttpSession::on_finish(sdk::FieldList trailers) noexcept {
  if (state_ == State::closed || !stream_) return Status::closed;
  if (state_ == State::upgraded) {
    // The runtime is done with the other protocol: the connection ends.
    stream_.close({response_.status(), response_.body_bytes(), response_.wire_bytes()});
    close(CloseMode::graceful);
    return Status::ok;
  }
  Status st = response_.finish(trailers, keep_allowed());
  if (response_.broken()) {
    connection_lost();
    return st;
  }
  if (st != Status::ok) {
    // Nothing went out (no valid head could be made): a reset tells the
    // client as much.
    stream_.reset(st);
    close(CloseMode::abort);
    return st;
  }
  end_exchange();
  return Status::ok;
}

void HttpSession::on_abort() noexcept {
  if (state_ == State::closed || !stream_) return;
  // Nothing more is written: no terminating chunk, no missing bytes. Once
  // the head went out the connection is reset, so even a close-delimited
  // HTTP/1.0 body never looks complete; before, the client simply sees the
  // connection close without an answer.
  // (An upgraded connection's other protocol is cut the same way.)
  const bool sent = response_.headers_sent();
  response_.abort();
  stream_.close({response_.status(), response_.body_bytes(), response_.wire_bytes()});
  close(sent ? CloseMode::abort : CloseMode::after_write);
}

void HttpSession::on_body_wanted() noexcept {
  if (state_ != State::body) return;
  if (go_ahead_wait_) {
    go_ahead_wait_ = false;
    // Now the client may send the body, unless it did not wait. Never
    // after the final response head, though (RFC 9110 §15.2): a 1xx there
    // would land inside its body; the client sends its body anyway once it
    // stops waiting for the 100.
    if (begin_ == end_ && !response_.headers_sent()) {
      if (Status st = conn_.write(kContinue); st != Status::ok && st != Status::again) return connection_lost();
    }
  }
  body_paused_ = false;
  pump_body();
  update_reading();
  make_room();
}

}  // namespace trellis::http
