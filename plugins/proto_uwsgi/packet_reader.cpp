#include "packet_reader.hpp"

#include <algorithm>
#include <utility>

namespace trellis::uwsgi {
namespace {

// First read buffer: nginx's vars block for an ordinary request is well
// under this, so one read usually brings the whole head.
constexpr std::size_t kInitialHead = 4096;

}  // namespace

PacketReader::PacketReader(const Limits& limits, std::function<bool(std::uint8_t)> has_runtime)
    : limits_(limits), has_runtime_(std::move(has_runtime)) {
  head_.resize(std::min<std::size_t>(kInitialHead, kHeaderSize + limits_.buffer_size));
  request_.body = &body_;
}

std::span<char> PacketReader::read_space() {
  if (failed_) return {};
  switch (stage_) {
    case Stage::head: return {head_.data() + filled_, head_.size() - filled_};
    case Stage::body: return body_.space();
    case Stage::done: return {};
  }
  return {};
}

Verdict PacketReader::on_received(std::size_t n) {
  if (failed_ || stage_ == Stage::done) return Verdict::closed;
  if (stage_ == Stage::head) {
    filled_ += std::min(n, head_.size() - filled_);
    return advance_head();
  }
  if (auto err = body_.commit(n); !err.empty()) return refuse(500, std::move(err));
  if (!body_.complete()) return Verdict::need_more;
  stage_ = Stage::done;
  return Verdict::ready;
}

Verdict PacketReader::on_eof() {
  if (failed_ || stage_ == Stage::done) return Verdict::closed;
  if (stage_ == Stage::head) {
    if (filled_ == 0) return Verdict::closed;  // connected and left: normal
    std::string expected = have_header_ ? std::to_string(kHeaderSize + header_.datasize) : std::string("4");
    return refuse(0, "connection closed inside the packet head after " + std::to_string(filled_) + " of " +
                         expected + " bytes");
  }
  return refuse(0, "connection closed after " + std::to_string(body_.received()) + " of " +
                       std::to_string(body_.length()) + " body bytes (CONTENT_LENGTH)");
}

Verdict PacketReader::advance_head() {
  if (!have_header_) {
    if (filled_ < kHeaderSize) return Verdict::need_more;
    header_ = parse_header(head_.data());
    have_header_ = true;
    // A malformed or unservable packet is not answered: the connection just
    // closes (nginx then reports 502 Bad Gateway, as with uWSGI), so no
    // status invented here can be mistaken for the application's.
    if (header_.datasize > limits_.buffer_size) {
      return refuse(0, "vars block of " + std::to_string(header_.datasize) + " bytes exceeds buffer-size " +
                             std::to_string(limits_.buffer_size));
    }
    // Modifier1 30 (manage PATH_INFO) is served by runtime 0, so it is
    // accepted exactly when 0 is; header() still reports the 30 sent.
    if (!has_runtime_ || !has_runtime_(runtime_modifier(header_.modifier1))) {
      return refuse(0, "no runtime serves modifier1 " + std::to_string(header_.modifier1));
    }
    // Room for the whole head. Nothing views into head_ yet, so it may move.
    std::size_t need = kHeaderSize + header_.datasize;
    if (head_.size() < need) head_.resize(need);
  }
  if (filled_ < kHeaderSize + header_.datasize) return Verdict::need_more;
  return head_complete();
}

Verdict PacketReader::head_complete() {
  std::size_t end = kHeaderSize + header_.datasize;
  std::string_view block(head_.data() + kHeaderSize, header_.datasize);
  if (auto err = parse_vars(block, vars_); !err.empty()) return refuse(0, "malformed vars block: " + err);
  if (auto err = mapper_.map(vars_, header_.modifier1, request_); !err.empty()) return refuse(0, std::move(err));
  request_.body = &body_;
  if (limits_.limit_post > 0 && request_.content_length > limits_.limit_post) {
    return refuse(413, "body of " + std::to_string(request_.content_length) + " bytes exceeds limit-post " +
                           std::to_string(limits_.limit_post));
  }
  if (auto err = body_.begin(request_.content_length, limits_.post_buffering); !err.empty()) {
    return refuse(500, std::move(err));
  }
  // Body bytes that came with the head are copied out: head_ now backs the
  // request's views and must not be read into again.
  std::size_t used = 0;
  if (auto err = body_.append(head_.data() + end, filled_ - end, used); !err.empty()) return refuse(500, std::move(err));
  trailing_ = filled_ - end - used;
  if (!body_.complete()) {
    stage_ = Stage::body;
    return Verdict::need_more;
  }
  stage_ = Stage::done;
  return Verdict::ready;
}

Verdict PacketReader::refuse(int status, std::string reason) {
  failed_ = true;
  refusal_ = Refusal{status, std::move(reason)};
  return Verdict::refused;
}

}  // namespace trellis::uwsgi
