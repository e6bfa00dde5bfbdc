// The non-blocking half of a uwsgi connection: collects one packet (header,
// vars block, body) from whatever pieces the event loop reads, and decides.
//
// It knows nothing about sockets or logging, so tests and the fuzzer drive
// it exactly as the event loop does: read_space(), copy, on_received(n).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "body_store.hpp"
#include "limits.hpp"
#include "request_mapper.hpp"
#include "trellis/request.hpp"
#include "vars_parser.hpp"

namespace trellis::uwsgi {

enum class Verdict {
  need_more,  // keep reading into read_space()
  ready,      // request() is complete, body included
  refused,    // bad packet: see refusal()
  closed,     // the peer left before sending anything: nothing to report
};

struct Refusal {
  int status = 0;      // HTTP status to answer with; 0 = just close
  std::string reason;  // one line, for the log
};

class PacketReader {
 public:
  enum class Stage { head, body, done };

  // `has_runtime` answers whether some runtime serves a modifier1 (asked
  // about 0 for a packet sent with 30, see runtime_modifier()).
  PacketReader(const Limits& limits, std::function<bool(std::uint8_t)> has_runtime);

  // Never empty while the last verdict was need_more.
  std::span<char> read_space();
  Verdict on_received(std::size_t n);
  Verdict on_eof();

  Stage stage() const noexcept { return stage_; }
  const Refusal& refusal() const noexcept { return refusal_; }
  const PacketHeader& header() const noexcept { return header_; }
  // Valid after Verdict::ready; views stay valid while the reader lives.
  sdk::Request& request() noexcept { return request_; }
  // Bytes that followed the body in the same reads (ignored: one request
  // per uwsgi connection).
  std::size_t trailing_bytes() const noexcept { return trailing_; }

 private:
  Verdict advance_head();
  Verdict head_complete();
  Verdict refuse(int status, std::string reason);

  Limits limits_;
  std::function<bool(std::uint8_t)> has_runtime_;
  Stage stage_ = Stage::head;
  bool failed_ = false;
  Refusal refusal_;

  std::vector<char> head_;   // header + vars (+ maybe early body bytes)
  std::size_t filled_ = 0;   // valid bytes in head_
  bool have_header_ = false;
  PacketHeader header_;

  std::vector<sdk::Field> vars_;
  RequestMapper mapper_;
  sdk::Request request_;
  BodyStore body_;
  std::size_t trailing_ = 0;
};

}  // namespace trellis::uwsgi
