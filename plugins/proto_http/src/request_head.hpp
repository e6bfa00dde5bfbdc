// What the head parser extracts from a request head. Everything is stored as
// offsets from the first byte of the request, never as pointers: the session
// may move (compact) or grow its buffer between two reads, and offsets stay
// valid across both. Views are made once, when the request is handed over.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace trellis::http {

struct Slice {
  std::uint32_t off = 0;
  std::uint32_t len = 0;
  std::string_view in(const char* base) const noexcept { return {base + off, len}; }
  bool empty() const noexcept { return len == 0; }
};

struct FieldSlice {
  Slice name;
  Slice value;  // without surrounding whitespace
};

enum class TargetForm : std::uint8_t { origin, absolute, asterisk };
enum class BodyKind : std::uint8_t { none, length, chunked };

struct RequestHead {
  Slice method;
  Slice target;     // raw request-target
  Slice authority;  // absolute form only: "host:port" from the target
  Slice path;       // raw (still percent-encoded) path, empty for "*"
  Slice query;      // after '?'
  TargetForm form = TargetForm::origin;
  bool has_query = false;
  bool path_has_percent = false;
  int minor = 1;  // HTTP/1.<minor> as processed: 0 or 1 (1.2+ is treated as 1.1)

  std::vector<FieldSlice> fields;  // capacity reserved once per session

  // Framing and connection facts gathered while the fields were parsed.
  int host_count = 0;
  Slice host;  // value of the Host field
  bool cl_seen = false;
  std::int64_t content_length = -1;
  bool te_seen = false;
  bool te_last_chunked = false;
  bool te_unknown = false;
  int te_chunked_count = 0;
  bool conn_close = false;
  bool conn_keep_alive = false;
  bool expect_continue = false;
  bool expect_other = false;

  // Results, valid once the head is complete.
  std::uint32_t head_len = 0;  // bytes from the request start through the empty line
  BodyKind body = BodyKind::none;
  bool keep_alive = true;

  void clear() noexcept {
    auto keep = std::move(fields);
    keep.clear();
    *this = RequestHead{};
    fields = std::move(keep);
  }
};

}  // namespace trellis::http
