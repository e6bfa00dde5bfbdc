#include "session.hpp"

#include <new>

namespace trellis::uwsgi {

using sdk::CloseMode;
using sdk::LogLevel;
using sdk::Status;

namespace {

const char* reason_phrase(int status) noexcept {
  switch (status) {
    case 400: return "Bad Request";
    case 413: return "Content Too Large";
    case 501: return "Not Implemented";
    default: return "Internal Server Error";
  }
}

}  // namespace

std::string error_reply(int status) {
  std::string body = std::string(reason_phrase(status)) + "\n";
  return "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) +
         "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

UwsgiSession::UwsgiSession(sdk::Connection connection, const sdk::Host& host, const Limits& limits)
    : connection_(connection),
      host_(host),
      reader_(limits, [h = host](std::string_view name) { return h.runtime_available(name); }),
      writer_(connection, host) {}

std::span<char> UwsgiSession::read_space() noexcept {
  if (closing_) return {};
  try {
    return reader_.read_space();
  } catch (const std::bad_alloc&) {
    // No room to read into: the connection stalls until the core's timeout
    // for the phase closes it, which is the right end for it.
    host_.log(LogLevel::error, "uwsgi: out of memory growing a request buffer");
    return {};
  }
}

void UwsgiSession::on_received(std::size_t n) noexcept {
  if (closing_) return;
  try {
    process(reader_.on_received(n));
  } catch (const std::bad_alloc&) {
    host_.log(LogLevel::error, "uwsgi: out of memory reading a request; closing the connection");
    if (stream_) stream_.reset(Status::internal_error);
    close(writer_.head_sent() && !writer_.ended() ? CloseMode::abort : CloseMode::after_write);
  }
}

void UwsgiSession::on_eof() noexcept {
  peer_done_ = true;
  if (closing_) return;
  // The whole packet is in: a half-close is not a disconnect. The response
  // goes out and the connection closes after it.
  if (reader_.stage() == PacketReader::Stage::done && stream_) return;
  try {
    process(reader_.on_eof());
  } catch (const std::bad_alloc&) {
    if (stream_) stream_.reset(Status::closed);
    close(writer_.head_sent() && !writer_.ended() ? CloseMode::abort : CloseMode::after_write);
  }
}

void UwsgiSession::process(Verdict v) {
  for (; !closing_; v = reader_.next()) {
    switch (v) {
      case Verdict::need_more: return;
      case Verdict::head:
        if (!open_stream()) return;
        break;
      case Verdict::body: deliver(reader_.body()); break;
      case Verdict::end: end_body(); return;
      case Verdict::refused: {
        const Refusal& r = reader_.refusal();
        fail(r.status, r.reason, Status::closed);
        return;
      }
      case Verdict::closed:
        // Connected and left without a byte: nothing to report.
        if (stream_) stream_.reset(Status::closed);
        close(CloseMode::after_write);
        return;
    }
  }
}

bool UwsgiSession::open_stream() {
  const trellis_request_head& head = reader_.head();
  writer_.begin(sdk::from_c(head.method), sdk::from_c(head.protocol), sdk::FieldList(head.headers, head.header_count));
  stream_ = connection_.open_stream(head, *this);
  if (!stream_) {
    // The runtime was there when the header named it: out of memory, most
    // likely (the core logged why). A well-formed request gets an answer.
    fail(500, "the core could not hand the request to a runtime", Status::internal_error);
    return false;
  }
  return true;
}

void UwsgiSession::deliver(std::string_view bytes) {
  if (drop_body_ || !stream_) return;
  switch (Status s = stream_.body(bytes)) {
    case Status::ok: return;
    case Status::again:
      // Kept, but the runtime holds all the unread body it may: read on
      // once it wants more (on_body_wanted).
      pause(true);
      return;
    case Status::closed:
      // Nobody reads the body any more: drain it, so that the peer can
      // finish sending and read the response.
      drop_body_ = true;
      return;
    case Status::too_large:
      fail(413, "body exceeds a limit of the server after " + std::to_string(reader_.body_received()) +
                    " of " + std::to_string(reader_.body_length()) + " bytes",
           Status::too_large);
      return;
    default:
      fail(500, std::string("the core refused body bytes: ") + sdk::to_string(s), s);
      return;
  }
}

void UwsgiSession::end_body() {
  if (reader_.trailing_bytes() > 0) {
    host_.logf(LogLevel::debug, "uwsgi: ignored %zu bytes after the request body from %s", reader_.trailing_bytes(),
               peer().c_str());
  }
  if (drop_body_ || !stream_) return;
  // Only closed could come back (the runtime is gone): nothing to do then.
  (void)stream_.body_end();
}

void UwsgiSession::fail(int status, const std::string& reason, Status why) {
  // One line per refused request; a failure of ours is an error, the
  // peer's a warning.
  host_.logf(status >= 500 && status != 501 ? LogLevel::error : LogLevel::warn, "uwsgi: refused request from %s: %s",
             peer().c_str(), reason.c_str());
  if (stream_) stream_.reset(why);
  // A response cut short must never look complete.
  if (writer_.head_sent() && !writer_.ended()) return close(CloseMode::abort);
  if (!writer_.head_sent() && status != 0) {
    connection_.refused(status);  // counted apart in the stats
    std::string reply = error_reply(status);
    trellis_chunk c = sdk::bytes_chunk(reply);
    (void)connection_.write_last(std::span<const trellis_chunk>(&c, 1));
  }
  // Not answered (status 0), or answered: either way closed lingering, as
  // after a response. The peer may still be sending the rest of the packet,
  // and a plain close with those bytes unread would reset the connection
  // instead of ending it. A peer that sent its EOF has nothing left to wait
  // for.
  close(peer_done_ ? CloseMode::after_write : CloseMode::graceful);
}

void UwsgiSession::finish_exchange(CloseMode how) noexcept {
  sdk::ResponseSummary s = writer_.summary();
  stream_.close(s);
  // One request per uwsgi connection. Bytes the peer may still send (a body
  // the runtime never read) are drained by the graceful close.
  close(how == CloseMode::graceful && peer_done_ ? CloseMode::after_write : how);
}

void UwsgiSession::close(CloseMode how) noexcept {
  if (closing_) return;
  closing_ = true;
  // A graceful close reads what the peer still sends (a body the runtime
  // stopped taking, say): reading must not stay paused for a runtime that
  // is done with it.
  if (how == CloseMode::graceful) pause(false);
  connection_.close(how);
}

void UwsgiSession::pause(bool paused) noexcept {
  if (paused_ == paused) return;
  paused_ = paused;
  connection_.pause_reading(paused);
}

sdk::Phase UwsgiSession::phase() const noexcept {
  if (closing_) return sdk::Phase::idle;
  switch (reader_.stage()) {
    case PacketReader::Stage::head: return sdk::Phase::head;
    // Paused for the runtime, not waiting for the peer: no read timeout.
    case PacketReader::Stage::body: return paused_ ? sdk::Phase::busy : sdk::Phase::body;
    case PacketReader::Stage::done: break;
  }
  return stream_ ? sdk::Phase::busy : sdk::Phase::idle;
}

Status UwsgiSession::on_start(const sdk::ResponseHead& head) noexcept { return writer_.start(head); }

Status UwsgiSession::on_data(std::span<const trellis_chunk> chunks, bool last) noexcept {
  return writer_.write(chunks, last);
}

Status UwsgiSession::on_finish(sdk::FieldList trailers) noexcept {
  (void)trailers;  // an HTTP/1.x response without chunked framing has no trailers
  if (!writer_.started() && !writer_.aborted() && !writer_.broken()) {
    // A runtime must answer (a 500 at worst); complete it rather than close
    // with nothing, which nginx would report as a bare 502.
    host_.log(LogLevel::error, "uwsgi: the runtime finished without starting a response; answering 500");
    trellis_str status = sdk::to_c("500 Internal Server Error");
    trellis_response_head h{sizeof h, 0, status, nullptr, 0};
    (void)writer_.start(sdk::ResponseHead::from(&h));
  }
  Status s = writer_.finish();
  // A failed write means the connection is already closing; a body short
  // of the application's Content-Length ends with the stream, which tells
  // the peer (the writer logged it).
  // With the whole packet in, a plain close after the response (the core
  // still lingers if the peer sent more, unasked); with body bytes still
  // to come, a graceful close that drains them.
  CloseMode how = reader_.stage() == PacketReader::Stage::done ? CloseMode::after_write : CloseMode::graceful;
  finish_exchange(s == Status::ok ? how : CloseMode::abort);
  return s;
}

void UwsgiSession::on_abort() noexcept {
  writer_.abort();
  finish_exchange(CloseMode::abort);
}

void UwsgiSession::on_body_wanted() noexcept {
  if (!closing_) pause(false);
}

std::string UwsgiSession::peer() const {
  sdk::ConnectionInfo info = connection_.info();
  if (info.unix_socket || info.remote_addr.empty()) return "unix socket " + std::string(info.socket_name);
  return std::string(info.remote_addr) + ":" + std::string(info.remote_port) + " on " + std::string(info.socket_name);
}

}  // namespace trellis::uwsgi
