#include "worker/request_log.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

namespace trellis::core {

namespace {
// Control characters in a URI must not break the line: show them escaped.
std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char ch : s) {
    if (ch < 0x20 || ch == 0x7f || ch == '"' || ch == '\\' || ch >= 0x80) {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", ch);
      out += buf;
    } else {
      out += static_cast<char>(ch);
    }
  }
  return out;
}
}  // namespace

void note_request_line(CoreSlot& core, const sdk::Request& request) {
  // Written by this thread only, read by the master for messages: a torn
  // read shows a garbled line at worst, never touches freed memory.
  size_t cap = sizeof core.request_line - 1;
  size_t m = std::min(request.method.size(), cap);
  std::memcpy(core.request_line, request.method.data(), m);
  size_t pos = m;
  if (pos < cap) core.request_line[pos++] = ' ';
  size_t u = std::min(request.uri.size(), cap - pos);
  std::memcpy(core.request_line + pos, request.uri.data(), u);
  core.request_line[pos + u] = '\0';
}

void log_request(int worker_id, const sdk::Request& request, const sdk::ResponseSummary& summary,
                 const RequestTimer& timer) {
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - timer.start)
                    .count();
  (void)worker_id;
  spdlog::info("{} {} {} => {} ({} bytes) in {}.{:03} ms",
               request.remote_addr.empty() ? "-" : request.remote_addr, printable(request.method),
               printable(request.uri), summary.status, summary.body_bytes, micros / 1000, micros % 1000);
}

}  // namespace trellis::core
