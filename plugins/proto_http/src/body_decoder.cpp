#include "body_decoder.hpp"

#include <cstring>

#include "char_class.hpp"

namespace trellis::http {
namespace {

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// qdtext / quoted-pair payload: HTAB, SP, VCHAR except '"' and '\', obs-text.
bool is_qdtext(char c) noexcept { return c != '"' && c != '\\' && has_class(c, kFieldValue); }

// 15 significant hex digits = 60 bits: far beyond any body, and no
// overflow to check. Leading zeros are not counted: chunk-size is 1*HEXDIG
// (RFC 9112 §7.1) and only its value is bounded, not its spelling.
constexpr int kMaxSizeDigits = 15;

}  // namespace

void BodyDecoder::reset(BodyKind kind, std::uint64_t length, std::uint64_t max_body,
                        std::size_t max_trailer) noexcept {
  kind_ = kind;
  max_body_ = max_body;
  max_trailer_ = max_trailer;
  decoded_ = 0;
  line_bytes_ = 0;
  size_digits_ = 0;
  size_seen_ = false;
  error_ = 0;
  remaining_ = 0;
  switch (kind) {
    case BodyKind::none: state_ = State::done; break;
    case BodyKind::length:
      remaining_ = length;
      state_ = length == 0 ? State::done : State::length_data;
      break;
    case BodyKind::chunked: state_ = State::size; break;
  }
}

DecodeStatus BodyDecoder::fail(int status) noexcept {
  state_ = State::error;
  error_ = status;
  return DecodeStatus::error;
}

DecodeStatus BodyDecoder::consume(const char* in, std::size_t in_len, char* out, std::size_t out_cap,
                                  std::size_t& used, std::size_t& produced) noexcept {
  std::size_t i = 0;
  produced = 0;
  auto copy_data = [&]() {
    std::size_t n = in_len - i;
    if (n > remaining_) n = static_cast<std::size_t>(remaining_);
    if (n > out_cap - produced) n = out_cap - produced;
    if (n != 0 && out + produced != in + i) std::memmove(out + produced, in + i, n);
    produced += n;
    i += n;
    remaining_ -= n;
    decoded_ += n;
  };

  while (i < in_len) {
    if (state_ == State::length_data) {
      copy_data();
      if (remaining_ == 0) state_ = State::done;
      break;  // done, input exhausted, or output full
    }
    if (state_ == State::data) {
      if (produced == out_cap) break;
      copy_data();
      if (remaining_ == 0) state_ = State::data_cr;
      continue;
    }
    if (state_ == State::done || state_ == State::error) break;

    const char c = in[i++];
    if (state_ >= State::trailer_start && state_ <= State::final_lf && ++line_bytes_ > max_trailer_)
      return used = i, fail(431);
    switch (state_) {
      case State::size: {
        int d = hex_digit(c);
        if (d >= 0) {
          size_seen_ = true;
          // A zero before any non-zero digit adds nothing to the value; the
          // line budget still bounds them, or a stream of zeros would hold
          // the request open without ever making progress.
          if (remaining_ == 0 && d == 0) {
            if (++line_bytes_ > max_trailer_) return used = i, fail(400);
            break;
          }
          if (++size_digits_ > kMaxSizeDigits) return used = i, fail(400);
          remaining_ = remaining_ * 16 + static_cast<unsigned>(d);
          break;
        }
        if (!size_seen_) return used = i, fail(400);
        line_bytes_ = 0;
        if (c == '\r') state_ = State::size_lf;
        else if (c == ';') state_ = State::ext_before_name;
        else if (is_ows(c)) state_ = State::size_ws;
        else return used = i, fail(400);
        break;
      }
      case State::size_lf: {
        if (c != '\n') return used = i, fail(400);
        size_digits_ = 0;
        size_seen_ = false;
        if (remaining_ == 0) {
          state_ = State::trailer_start;
          line_bytes_ = 0;
          break;
        }
        // limit-post is checked on the announced size, before the data.
        if (max_body_ != 0 && decoded_ + remaining_ > max_body_) return used = i, fail(413);
        state_ = State::data;
        break;
      }
      case State::data_cr:
        if (c != '\r') return used = i, fail(400);
        state_ = State::data_lf;
        break;
      case State::data_lf:
        if (c != '\n') return used = i, fail(400);
        line_bytes_ = 0;  // a fresh chunk-size line, with a fresh budget
        state_ = State::size;
        break;

      case State::trailer_start:
        if (c == '\r') state_ = State::final_lf;
        else if (is_tchar(c)) state_ = State::trailer_name;
        else return used = i, fail(400);  // obs-fold, whitespace, garbage
        break;
      case State::trailer_name:
        if (c == ':') state_ = State::trailer_value;
        else if (!is_tchar(c)) return used = i, fail(400);
        break;
      case State::trailer_value:
        if (c == '\r') state_ = State::trailer_lf;
        else if (!has_class(c, kFieldValue)) return used = i, fail(400);
        break;
      case State::trailer_lf:
        if (c != '\n') return used = i, fail(400);
        state_ = State::trailer_start;
        break;
      case State::final_lf:
        if (c != '\n') return used = i, fail(400);
        state_ = State::done;
        used = i;
        return DecodeStatus::done;

      default: {
        // Chunk extensions: parsed only to be skipped, but parsed strictly.
        if (++line_bytes_ > max_trailer_) return used = i, fail(400);
        switch (state_) {
          case State::size_ws:
            if (c == ';') state_ = State::ext_before_name;
            else if (!is_ows(c)) return used = i, fail(400);
            break;
          case State::ext_before_name:
            if (is_tchar(c)) state_ = State::ext_name;
            else if (!is_ows(c)) return used = i, fail(400);
            break;
          case State::ext_name:
            if (c == '=') state_ = State::ext_before_value;
            else if (c == ';') state_ = State::ext_before_name;
            else if (c == '\r') state_ = State::size_lf;
            else if (is_ows(c)) state_ = State::ext_after_name;
            else if (!is_tchar(c)) return used = i, fail(400);
            break;
          case State::ext_after_name:
            if (c == '=') state_ = State::ext_before_value;
            else if (c == ';') state_ = State::ext_before_name;
            else if (!is_ows(c)) return used = i, fail(400);
            break;
          case State::ext_before_value:
            if (c == '"') state_ = State::ext_quoted;
            else if (is_tchar(c)) state_ = State::ext_token;
            else if (!is_ows(c)) return used = i, fail(400);
            break;
          case State::ext_token:
            if (c == ';') state_ = State::ext_before_name;
            else if (c == '\r') state_ = State::size_lf;
            else if (is_ows(c)) state_ = State::ext_ws;
            else if (!is_tchar(c)) return used = i, fail(400);
            break;
          case State::ext_quoted:
            if (c == '"') state_ = State::ext_after_value;
            else if (c == '\\') state_ = State::ext_quoted_escape;
            else if (!is_qdtext(c)) return used = i, fail(400);
            break;
          case State::ext_quoted_escape:
            if (!has_class(c, kFieldValue)) return used = i, fail(400);
            state_ = State::ext_quoted;
            break;
          case State::ext_after_value:
            if (c == ';') state_ = State::ext_before_name;
            else if (c == '\r') state_ = State::size_lf;
            else if (is_ows(c)) state_ = State::ext_ws;
            else return used = i, fail(400);
            break;
          case State::ext_ws:
            if (c == ';') state_ = State::ext_before_name;
            else if (!is_ows(c)) return used = i, fail(400);
            break;
          default:
            return used = i, fail(400);
        }
        break;
      }
    }
  }
  used = i;
  if (state_ == State::error) return DecodeStatus::error;
  if (state_ == State::done) return DecodeStatus::done;
  return DecodeStatus::need_more;
}

}  // namespace trellis::http
