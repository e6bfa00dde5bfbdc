// JSON text for the stats document and JSON request-log lines. Strings are
// escaped so that any bytes, even hostile or not UTF-8, give valid JSON on
// one line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace trellis::core::json {

// Appends `s` as a quoted JSON string: '"' and '\' escaped, control
// characters as \u00XX, and every byte that is not part of a well-formed
// UTF-8 sequence as \u00XX (its Latin-1 reading), so the result is valid
// JSON and never contains a raw newline.
void append_string(std::string& out, std::string_view s);

// A small streaming writer: commas are placed for the caller.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  Writer& begin_object();
  Writer& end_object();
  Writer& begin_array();
  Writer& end_array();
  Writer& key(std::string_view k);
  Writer& value(std::string_view v);
  Writer& value(const char* v) { return value(std::string_view(v)); }
  Writer& value(std::int64_t v);
  Writer& value(std::uint64_t v);
  Writer& value(int v) { return value(static_cast<std::int64_t>(v)); }
  Writer& value(bool v);
  // A value already in JSON form (digits of a number), written as is.
  Writer& raw_value(std::string_view json_text);
  template <typename T>
  Writer& field(std::string_view k, T v) {
    key(k);
    return value(v);
  }

 private:
  void separate();
  std::string& out_;
  bool need_comma_ = false;
};

}  // namespace trellis::core::json
