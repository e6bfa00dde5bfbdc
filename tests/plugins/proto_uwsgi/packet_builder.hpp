// Builds uwsgi packets byte for byte, as nginx would send them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace trellis::uwsgi::test {

using Vars = std::vector<std::pair<std::string, std::string>>;

inline void put_u16(std::string& out, std::size_t v) {
  out.push_back(static_cast<char>(v & 0xff));
  out.push_back(static_cast<char>((v >> 8) & 0xff));
}

inline std::string vars_block(const Vars& vars) {
  std::string block;
  for (const auto& [k, v] : vars) {
    put_u16(block, k.size());
    block += k;
    put_u16(block, v.size());
    block += v;
  }
  return block;
}

// header + vars + body; `datasize` overrides the header's length field.
inline std::string packet(const Vars& vars, const std::string& body = {}, std::uint8_t modifier1 = 0,
                          std::optional<std::size_t> datasize = std::nullopt, std::uint8_t modifier2 = 0) {
  std::string block = vars_block(vars);
  std::string out;
  out.push_back(static_cast<char>(modifier1));
  put_u16(out, datasize.value_or(block.size()));
  out.push_back(static_cast<char>(modifier2));
  return out + block + body;
}

// What nginx sends for "GET /hello?x=1" with the stock uwsgi_params
// (/etc/nginx/uwsgi_params) and the usual browser headers.
inline Vars nginx_get_vars() {
  return {
      {"QUERY_STRING", "x=1"},
      {"REQUEST_METHOD", "GET"},
      {"CONTENT_TYPE", ""},
      {"CONTENT_LENGTH", ""},
      {"REQUEST_URI", "/hello?x=1"},
      {"PATH_INFO", "/hello"},
      {"DOCUMENT_ROOT", "/usr/share/nginx/html"},
      {"SERVER_PROTOCOL", "HTTP/1.1"},
      {"REQUEST_SCHEME", "http"},
      {"REMOTE_ADDR", "192.0.2.10"},
      {"REMOTE_PORT", "51234"},
      {"SERVER_PORT", "80"},
      {"SERVER_NAME", "example.org"},
      {"HTTP_HOST", "example.org"},
      {"HTTP_USER_AGENT", "curl/7.88.1"},
      {"HTTP_ACCEPT", "*/*"},
  };
}

}  // namespace trellis::uwsgi::test
