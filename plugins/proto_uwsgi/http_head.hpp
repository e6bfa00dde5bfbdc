// The HTTP response head a uwsgi peer expects back (nginx parses it with its
// HTTP status-line parser), and the checks that keep an application from
// breaking its framing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "trellis/request.hpp"
#include "trellis/status.hpp"
#include "trellis/strings.hpp"

namespace trellis::uwsgi {

// "200 OK" -> 200. nullopt unless three digits in 100..599, then nothing or
// a space and a reason free of control characters.
std::optional<int> parse_status(std::string_view status) noexcept;

// RFC 9110 token.
bool valid_header_name(std::string_view name) noexcept;
// No CR, LF, NUL or other control character but HTAB.
bool valid_header_value(std::string_view value) noexcept;

// A Content-Length value as an application may send it. nullopt if invalid.
std::optional<std::int64_t> parse_length_value(std::string_view value) noexcept;

// The protocol for the status line: the request's own HTTP/1.x version, else
// HTTP/1.1 (also for anything odd in SERVER_PROTOCOL, which is unchecked).
std::string_view response_protocol(std::string_view request_protocol) noexcept;

bool iequals_ascii(std::string_view a, std::string_view b) noexcept;

// What a head the framing accepts tells it.
struct HeadFacts {
  int code = 0;                                // the status code
  std::optional<std::int64_t> content_length;  // the application's, if it gave one
};

// Whether this protocol can send `head`: ok, or invalid_argument for a
// status line that is not a final status (a 1xx would leave the peer waiting
// for the real one), a field that could break the framing (bad name, CR/LF/NUL
// in a value), a hop-by-hop field (PEP 3333: the server's), or two different
// Content-Lengths. Pure: no log, no state, any thread (Protocol::check_head).
// `reason` (if given) names a refusal (static text). `validate` false: a
// head the core had checked already (Protocol::check_head), only read.
sdk::Status check_response_head(const sdk::ResponseHead& head, HeadFacts* facts = nullptr,
                                const char** reason = nullptr, bool validate = true) noexcept;

// Appends "<protocol> <status>\r\n", each "name: value\r\n" (but the
// application's Content-Length fields if `drop_content_length`), an optional
// extra Content-Length, and the blank line.
void append_head(std::string& out, std::string_view protocol, std::string_view status, sdk::FieldList headers,
                 std::optional<std::int64_t> add_content_length, bool drop_content_length = false);

}  // namespace trellis::uwsgi
