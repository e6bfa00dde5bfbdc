#include "session.hpp"

#include <new>

namespace trellis::uwsgi {

using sdk::LogLevel;
using sdk::Progress;

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

UwsgiSession::UwsgiSession(sdk::Transport& transport, sdk::Host& host, const Limits& limits)
    : transport_(transport),
      host_(host),
      reader_(limits, [h = &host](std::uint8_t m) { return h->runtime_available(m); }),
      writer_(transport, host) {}

std::span<char> UwsgiSession::read_space() noexcept {
  try {
    return reader_.read_space();
  } catch (const std::bad_alloc&) {
    // No room to read into: the connection stalls until the core's head
    // timeout closes it, which is the right end for an unservable request.
    host_.log(LogLevel::error, "uwsgi: out of memory growing a request buffer");
    return {};
  }
}

Progress UwsgiSession::on_received(std::size_t n) noexcept {
  try {
    return decide(reader_.on_received(n));
  } catch (const std::bad_alloc&) {
    host_.log(LogLevel::error, "uwsgi: out of memory reading a request; closing the connection");
    return Progress::close;
  }
}

Progress UwsgiSession::on_eof() noexcept {
  try {
    Progress p = decide(reader_.on_eof());
    // The peer has stopped sending: an unanswered refusal has nothing to
    // linger for.
    return p == Progress::respond_and_close && pending_.empty() ? Progress::close : p;
  } catch (const std::bad_alloc&) {
    return Progress::close;
  }
}

Progress UwsgiSession::decide(Verdict verdict) noexcept {
  switch (verdict) {
    case Verdict::need_more: return Progress::need_more;
    case Verdict::closed: return Progress::close;
    case Verdict::refused: return refuse();
    case Verdict::ready: break;
  }
  writer_.begin(reader_.request());
  if (reader_.trailing_bytes() > 0) {
    host_.logf(LogLevel::debug, "uwsgi: ignored %zu bytes after the request body from %s", reader_.trailing_bytes(),
               peer().c_str());
  }
  return Progress::request_ready;
}

Progress UwsgiSession::refuse() noexcept {
  const Refusal& r = reader_.refusal();
  refused_status_ = r.status;
  // One line per refused packet; a body spool failure is ours, not theirs.
  host_.logf(r.status >= 500 && r.status != 501 ? LogLevel::error : LogLevel::warn,
             "uwsgi: refused request from %s: %s", peer().c_str(), r.reason.c_str());
  // Not answered (status 0), but closed lingering like an answer: the peer
  // may still be sending the rest of the packet, and a plain close with
  // those bytes unread would reset the connection instead of ending it.
  if (r.status == 0) return Progress::respond_and_close;
  try {
    pending_ = error_reply(r.status);
  } catch (const std::bad_alloc&) {
    return Progress::close;
  }
  return Progress::respond_and_close;
}

std::string UwsgiSession::peer() const {
  const auto& info = transport_.info();
  if (info.unix_socket || info.remote_addr.empty()) return "unix socket " + std::string(info.socket_name);
  return std::string(info.remote_addr) + ":" + std::string(info.remote_port) + " on " + std::string(info.socket_name);
}

Progress UwsgiSession::finish_request() noexcept {
  if (writer_.aborted() || writer_.broken() || writer_.finished()) return Progress::close;
  if (!writer_.started()) {
    // A runtime must answer (a 500 at worst); complete it rather than close
    // with nothing, which nginx would report as a bare 502.
    host_.log(LogLevel::error, "uwsgi: the runtime returned without starting a response; answering 500");
    if (writer_.start("500 Internal Server Error", {}) != sdk::Status::ok) return Progress::close;
  }
  (void)writer_.finish();
  return Progress::close;  // one request per uwsgi connection
}

sdk::Phase UwsgiSession::phase() const noexcept {
  switch (reader_.stage()) {
    case PacketReader::Stage::head: return sdk::Phase::head;
    case PacketReader::Stage::body: return sdk::Phase::body;
    case PacketReader::Stage::done: break;
  }
  return sdk::Phase::idle;  // nothing more is read from this connection
}

sdk::ResponseSummary UwsgiSession::summary() const noexcept {
  if (refused_status_ != 0) return {refused_status_, 0, pending_.size()};
  return writer_.summary();
}

}  // namespace trellis::uwsgi
