#include "packet_reader.hpp"

#include <algorithm>
#include <utility>

#include "modifier1.hpp"

namespace trellis::uwsgi {
namespace {

// First read buffer: nginx's vars block for an ordinary request is well
// under this, so one read usually brings the whole head.
constexpr std::size_t kInitialHead = 4096;

// Body reads: the core copies what it is given, so one buffer of this size
// serves the whole body, however long.
constexpr std::size_t kBodyChunk = 64 * 1024;

}  // namespace

PacketReader::PacketReader(const Limits& limits, std::function<bool(std::string_view)> runtime_available)
    : limits_(limits), runtime_available_(std::move(runtime_available)) {
  packet_.resize(std::min<std::size_t>(kInitialHead, kHeaderSize + limits_.buffer_size));
}

std::span<char> PacketReader::read_space() {
  if (failed_) return {};
  switch (stage_) {
    case Stage::head: return {packet_.data() + filled_, packet_.size() - filled_};
    case Stage::body: {
      auto left = static_cast<std::uint64_t>(body_length_ - body_received_);
      // Memory grows with what actually arrives: a peer announcing a large
      // CONTENT_LENGTH and then stalling costs one chunk, not the length.
      if (body_buffer_.empty()) body_buffer_.resize(static_cast<std::size_t>(std::min<std::uint64_t>(left, kBodyChunk)));
      return {body_buffer_.data(), static_cast<std::size_t>(std::min<std::uint64_t>(left, body_buffer_.size()))};
    }
    case Stage::done: return {};
  }
  return {};
}

Verdict PacketReader::on_received(std::size_t n) {
  if (failed_ || stage_ == Stage::done) return Verdict::need_more;
  body_ = {};
  if (stage_ == Stage::head) {
    filled_ += std::min(n, packet_.size() - filled_);
    return advance_head();
  }
  auto left = static_cast<std::uint64_t>(body_length_ - body_received_);
  n = static_cast<std::size_t>(std::min<std::uint64_t>({n, left, body_buffer_.size()}));
  if (n == 0) return Verdict::need_more;
  body_received_ += static_cast<std::int64_t>(n);
  body_ = std::string_view(body_buffer_.data(), n);
  if (body_received_ == body_length_) {
    stage_ = Stage::done;
    pending_end_ = true;
  }
  return Verdict::body;
}

Verdict PacketReader::next() noexcept {
  if (failed_) return Verdict::need_more;
  if (!pending_body_.empty()) {
    body_ = pending_body_;
    pending_body_ = {};
    return Verdict::body;
  }
  if (pending_end_) {
    pending_end_ = false;
    return Verdict::end;
  }
  return Verdict::need_more;
}

Verdict PacketReader::on_eof() {
  if (failed_) return Verdict::closed;
  switch (stage_) {
    case Stage::head: {
      if (filled_ == 0) return Verdict::closed;  // connected and left: normal
      std::string expected = have_header_ ? std::to_string(kHeaderSize + header_.datasize) : std::string("4");
      return refuse(0, "connection closed inside the packet head after " + std::to_string(filled_) + " of " +
                           expected + " bytes");
    }
    case Stage::body:
      return refuse(0, "connection closed after " + std::to_string(body_received_) + " of " +
                           std::to_string(body_length_) + " body bytes (CONTENT_LENGTH)");
    case Stage::done: break;
  }
  return Verdict::closed;  // a half-close after the whole packet
}

Verdict PacketReader::advance_head() {
  if (!have_header_) {
    if (filled_ < kHeaderSize) return Verdict::need_more;
    header_ = parse_header(packet_.data());
    have_header_ = true;
    // A malformed or unservable packet is not answered: the connection just
    // closes (nginx then reports 502 Bad Gateway, as with uWSGI), so no
    // status invented here can be mistaken for the application's.
    if (header_.datasize > limits_.buffer_size) {
      return refuse(0, "vars block of " + std::to_string(header_.datasize) + " bytes exceeds buffer-size " +
                             std::to_string(limits_.buffer_size));
    }
    // Asked before the vars block is even read: a packet nobody can serve
    // costs four bytes. Modifier1 30 (manage PATH_INFO) is served by the
    // default runtime, so it is accepted exactly when 0 is.
    auto runtime = runtime_for_modifier(header_.modifier1);
    if (!runtime || !runtime_available_ || !runtime_available_(*runtime)) {
      std::string reason = "no runtime serves modifier1 " + std::to_string(header_.modifier1);
      if (runtime && !runtime->empty()) reason += " (" + std::string(*runtime) + ")";
      return refuse(0, std::move(reason));
    }
    // Room for the whole head. Nothing views into packet_ yet, so it may move.
    std::size_t need = kHeaderSize + header_.datasize;
    if (packet_.size() < need) packet_.resize(need);
  }
  if (filled_ < kHeaderSize + header_.datasize) return Verdict::need_more;
  return head_complete();
}

Verdict PacketReader::head_complete() {
  std::size_t end = kHeaderSize + header_.datasize;
  std::string_view block(packet_.data() + kHeaderSize, header_.datasize);
  if (auto err = parse_vars(block, vars_); !err.empty()) return refuse(0, "malformed vars block: " + err);
  if (auto err = mapper_.map(vars_, header_.modifier1, head_); !err.empty()) return refuse(0, std::move(err));
  // The vars block holds most of the head's strings: the core copies it whole.
  head_.storage = block.data();
  head_.storage_len = block.size();
  if (limits_.limit_post > 0 && head_.content_length > limits_.limit_post) {
    return refuse(413, "body of " + std::to_string(head_.content_length) + " bytes exceeds limit-post " +
                           std::to_string(limits_.limit_post));
  }
  body_length_ = std::max<std::int64_t>(head_.content_length, 0);
  // Body bytes that came with the head are the next event; packet_ backs
  // the head's views and is never read into again.
  std::size_t early = static_cast<std::size_t>(
      std::min<std::uint64_t>(filled_ - end, static_cast<std::uint64_t>(body_length_)));
  pending_body_ = std::string_view(packet_.data() + end, early);
  body_received_ = static_cast<std::int64_t>(early);
  trailing_ = filled_ - end - early;
  if (body_received_ == body_length_) {
    stage_ = Stage::done;
    pending_end_ = true;
  } else {
    stage_ = Stage::body;
  }
  return Verdict::head;
}

Verdict PacketReader::refuse(int status, std::string reason) {
  failed_ = true;
  pending_body_ = {};
  pending_end_ = false;
  refusal_ = Refusal{status, std::move(reason)};
  return Verdict::refused;
}

}  // namespace trellis::uwsgi
