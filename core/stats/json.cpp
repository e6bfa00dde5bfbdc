#include "stats/json.hpp"

#include <cstdio>

namespace trellis::core::json {

namespace {

void escape_byte(std::string& out, unsigned char ch) {
  static const char kHex[] = "0123456789abcdef";
  out += "\\u00";
  out += kHex[ch >> 4];
  out += kHex[ch & 0xf];
}

// Length of the well-formed UTF-8 sequence starting at s[i], or 0.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  auto cont = [&](std::size_t k) { return i + k < s.size() && (b(k) & 0xc0) == 0x80; };
  unsigned char c = b(0);
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xe0 && b(1) < 0xa0) return 0;   // overlong
    if (c == 0xed && b(1) >= 0xa0) return 0;  // UTF-16 surrogates
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xf0 && b(1) < 0x90) return 0;   // overlong
    if (c == 0xf4 && b(1) >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

void append_string(std::string& out, std::string_view s) {
  out.reserve(out.size() + s.size() + 2);
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    auto ch = static_cast<unsigned char>(s[i]);
    if (ch < 0x80) {
      if (ch == '"' || ch == '\\') {
        out += '\\';
        out += static_cast<char>(ch);
      } else if (ch < 0x20 || ch == 0x7f) {
        escape_byte(out, ch);
      } else {
        out += static_cast<char>(ch);
      }
      ++i;
      continue;
    }
    std::size_t n = utf8_sequence(s, i);
    if (n == 0) {
      escape_byte(out, ch);
      ++i;
    } else {
      out.append(s.data() + i, n);
      i += n;
    }
  }
  out += '"';
}

void Writer::separate() {
  if (need_comma_) out_ += ',';
  need_comma_ = true;
}

Writer& Writer::begin_object() {
  separate();
  out_ += '{';
  need_comma_ = false;
  return *this;
}

Writer& Writer::end_object() {
  out_ += '}';
  need_comma_ = true;
  return *this;
}

Writer& Writer::begin_array() {
  separate();
  out_ += '[';
  need_comma_ = false;
  return *this;
}

Writer& Writer::end_array() {
  out_ += ']';
  need_comma_ = true;
  return *this;
}

Writer& Writer::key(std::string_view k) {
  separate();
  append_string(out_, k);
  out_ += ':';
  need_comma_ = false;  // the value follows without a comma
  return *this;
}

Writer& Writer::value(std::string_view v) {
  separate();
  append_string(out_, v);
  return *this;
}

Writer& Writer::value(std::int64_t v) {
  separate();
  out_ += std::to_string(v);
  return *this;
}

Writer& Writer::value(std::uint64_t v) {
  separate();
  out_ += std::to_string(v);
  return *this;
}

Writer& Writer::raw_value(std::string_view json_text) {
  separate();
  out_ += json_text;
  return *this;
}

Writer& Writer::value(bool v) {
  separate();
  out_ += v ? "true" : "false";
  return *this;
}

}  // namespace trellis::core::json
