// One uwsgi connection: one packet in, one HTTP-style response out, close.
#pragma once

#include <string>

#include "limits.hpp"
#include "packet_reader.hpp"
#include "response_writer.hpp"
#include "trellis/host.hpp"
#include "trellis/protocol.hpp"

namespace trellis::uwsgi {

class UwsgiSession final : public sdk::Session {
 public:
  UwsgiSession(sdk::Transport& transport, sdk::Host& host, const Limits& limits);

  std::span<char> read_space() noexcept override;
  sdk::Progress on_received(std::size_t n) noexcept override;
  sdk::Progress on_eof() noexcept override;
  sdk::Request& request() noexcept override { return reader_.request(); }
  sdk::ResponseWriter& response() noexcept override { return writer_; }
  std::string_view pending_output() const noexcept override { return pending_; }
  sdk::Progress finish_request() noexcept override;
  // Every uwsgi connection already ends after its response.
  void close_after_response() noexcept override {}
  sdk::Phase phase() const noexcept override;
  sdk::ResponseSummary summary() const noexcept override;
  void release() noexcept override { delete this; }

 private:
  ~UwsgiSession() = default;  // only release() frees a session
  sdk::Progress decide(Verdict verdict) noexcept;
  sdk::Progress refuse() noexcept;
  std::string peer() const;

  sdk::Transport& transport_;
  sdk::Host& host_;
  PacketReader reader_;
  UwsgiResponseWriter writer_;
  std::string pending_;
  int refused_status_ = 0;
};

// The short reply sent before closing on a refused packet.
std::string error_reply(int status);

}  // namespace trellis::uwsgi
