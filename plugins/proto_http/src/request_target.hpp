// Request-target and Host syntax (RFC 9112 §3.2, RFC 3986), and PATH_INFO
// percent-decoding.
//
// Accepted targets: origin form ("/p?q"), absolute form
// ("http://host:port/p?q", scheme http or https) and "*" (OPTIONS only).
// Bytes must be visible ASCII other than '#', or >= 0x80 (raw UTF-8 some
// clients send): stricter URI grammar buys nothing for framing and breaks
// real clients. Percent escapes must be well formed, and "%00" is refused in
// the path because PATH_INFO ends up in C strings.
#pragma once

#include <cstddef>
#include <string_view>

#include "request_head.hpp"

namespace trellis::http {

// Splits and validates `target` (its offset in the request is target_off)
// into head.form/authority/path/query. Returns 0 or the status to answer.
int parse_target(std::string_view method, std::string_view target, std::uint32_t target_off,
                 RequestHead& head) noexcept;

// uri-host [ ":" port ]: reg-name, IPv4 or an IP-literal in brackets. An
// empty value is valid syntax (the caller decides whether it is allowed).
bool valid_host(std::string_view value) noexcept;

// Splits a valid host value into name and port ("" when absent).
void split_host(std::string_view value, std::string_view& name, std::string_view& port) noexcept;

// Decodes %XX escapes of an already validated path into `out` (which has
// room for in.size() bytes); returns the decoded length.
std::size_t percent_decode(std::string_view in, char* out) noexcept;

}  // namespace trellis::http
