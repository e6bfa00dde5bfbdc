#include "error_reply.hpp"

#include "http_date.hpp"

namespace trellis::http {

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 400: return "Bad Request";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
  }
}

void build_error_reply(int status, std::string& out, bool with_body) {
  std::string_view reason = reason_phrase(status);
  std::string code = std::to_string(status);
  out.clear();
  out.append("HTTP/1.1 ").append(code).append(" ").append(reason);
  out.append("\r\nServer: trellis\r\nDate: ").append(http_date_now());
  out.append("\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ");
  out.append(std::to_string(reason.size() + 1));
  out.append("\r\nConnection: close\r\n\r\n");
  // A reply to HEAD carries no content (RFC 9110 9.3.2), only its length.
  if (with_body) out.append(reason).append("\n");
}

}  // namespace trellis::http
