// The non-blocking half of a uwsgi connection: reads one packet (header,
// vars block, body) from whatever pieces the event loop brings, and says
// what happened, one event at a time.
//
// It knows nothing about sockets, streams or logging, so tests and the
// fuzzer drive it exactly as the session does:
//
//   space = read_space(); copy n bytes into it;
//   for (v = on_received(n); v != Verdict::need_more; v = next()) act on v;
//
// The body is not kept: each body event views the bytes of the last read
// (or the ones that came with the head) until the next call on the reader.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "limits.hpp"
#include "request_mapper.hpp"
#include "trellis/abi.h"
#include "vars_parser.hpp"

namespace trellis::uwsgi {

enum class Verdict {
  need_more,  // nothing (more) to act on: read into read_space()
  head,       // the request head is complete: head() (once per packet)
  body,       // body bytes: body(), valid until the next call on the reader
  end,        // the body is complete (after every body event); nothing more is read
  refused,    // bad packet: see refusal(); nothing more is read
  closed,     // the peer left before sending anything, or after a whole packet
};

struct Refusal {
  int status = 0;      // HTTP status to answer with; 0 = just close
  std::string reason;  // one line, for the log
};

class PacketReader {
 public:
  enum class Stage { head, body, done };

  // `runtime_available` answers whether a runtime of that name is loaded
  // ("" = the default), asked once the header names the modifier1.
  PacketReader(const Limits& limits, std::function<bool(std::string_view)> runtime_available);

  // Empty once nothing more is to be read (done, refused).
  std::span<char> read_space();
  // `n` bytes were stored at the start of the last read_space(): the first
  // event they bring. next() gives the others.
  Verdict on_received(std::size_t n);
  Verdict next() noexcept;
  // The peer sends nothing more: refused if that cuts the packet short,
  // closed otherwise.
  Verdict on_eof();

  Stage stage() const noexcept { return stage_; }
  const Refusal& refusal() const noexcept { return refusal_; }
  const PacketHeader& header() const noexcept { return header_; }
  // After Verdict::head. Its strings view into this reader (the packet
  // head's buffer and the mapper), valid while it lives.
  const trellis_request_head& head() const noexcept { return head_; }
  // After Verdict::body.
  std::string_view body() const noexcept { return body_; }
  // Body bytes received so far and expected in all.
  std::int64_t body_received() const noexcept { return body_received_; }
  std::int64_t body_length() const noexcept { return body_length_; }
  // Bytes that followed the body in the same reads (ignored: one request
  // per uwsgi connection).
  std::size_t trailing_bytes() const noexcept { return trailing_; }

 private:
  Verdict advance_head();
  Verdict head_complete();
  Verdict refuse(int status, std::string reason);

  Limits limits_;
  std::function<bool(std::string_view)> runtime_available_;
  Stage stage_ = Stage::head;
  bool failed_ = false;
  Refusal refusal_;

  std::vector<char> packet_;  // header + vars (+ maybe early body bytes)
  std::size_t filled_ = 0;    // valid bytes in packet_
  bool have_header_ = false;
  PacketHeader header_;

  std::vector<sdk::Field> vars_;
  RequestMapper mapper_;
  trellis_request_head head_{};

  std::int64_t body_length_ = 0;
  std::int64_t body_received_ = 0;
  std::vector<char> body_buffer_;  // one read's worth, reused
  std::string_view body_;
  std::string_view pending_body_;  // came with the head: the event after it
  bool pending_end_ = false;
  std::size_t trailing_ = 0;
};

}  // namespace trellis::uwsgi
