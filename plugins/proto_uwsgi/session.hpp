// One uwsgi connection: one packet in, one HTTP-style response out, close.
//
// The session is both the connection's protocol state (sdk::Session) and
// the sink of the one stream it opens (sdk::StreamSink): the core calls
// both on the loop thread, never one from inside the other.
#pragma once

#include <string>

#include "limits.hpp"
#include "packet_reader.hpp"
#include "response_writer.hpp"
#include "trellis/host.hpp"
#include "trellis/protocol.hpp"

namespace trellis::uwsgi {

class UwsgiSession final : public sdk::Session, public sdk::StreamSink {
 public:
  UwsgiSession(sdk::Connection connection, const sdk::Host& host, const Limits& limits);

  // sdk::Session
  std::span<char> read_space() noexcept override;
  void on_received(std::size_t n) noexcept override;
  void on_eof() noexcept override;
  // Every uwsgi connection already ends after its response.
  void on_drain() noexcept override {}
  sdk::Phase phase() const noexcept override;
  void release() noexcept override { delete this; }

  // sdk::StreamSink
  sdk::Status on_start(const sdk::ResponseHead& head) noexcept override;
  sdk::Status on_data(std::span<const trellis_chunk> chunks, bool last) noexcept override;
  sdk::Status on_finish(sdk::FieldList trailers) noexcept override;
  void on_abort() noexcept override;
  void on_body_wanted() noexcept override;

  sdk::ResponseSummary summary() const noexcept { return writer_.summary(); }

 private:
  ~UwsgiSession() = default;  // only release() frees a session

  // Acts on the reader's events, from `first` on, until it needs more bytes.
  void process(Verdict first);
  bool open_stream();
  void deliver(std::string_view bytes);
  void end_body();
  // Ends the exchange for `reason`, logged in one line: the stream (if any)
  // is reset with `why`, the peer gets `status` (0: nothing) if nothing of
  // the response went out yet, and the connection closes.
  void fail(int status, const std::string& reason, sdk::Status why);
  // The stream is done: close it with what was sent, then the connection.
  void finish_exchange(sdk::CloseMode how) noexcept;
  void close(sdk::CloseMode how) noexcept;
  void pause(bool paused) noexcept;
  std::string peer() const;

  sdk::Connection connection_;
  sdk::Host host_;
  PacketReader reader_;
  UwsgiResponseWriter writer_;
  sdk::ProtocolStream stream_;
  bool paused_ = false;        // reading stopped until on_body_wanted()
  bool drop_body_ = false;     // nobody reads the body any more: drain it
  bool peer_done_ = false;     // the peer sent its EOF
  bool closing_ = false;       // Connection::close() was called
};

// The short reply sent before closing on a refused packet.
std::string error_reply(int status);

}  // namespace trellis::uwsgi
