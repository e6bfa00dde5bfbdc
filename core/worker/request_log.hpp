// One line per request. The default line is uWSGI-like; --log-format takes
// uWSGI's %(name) variables, or "json" for one JSON object per line. The
// format is compiled once at start-up (before fork) into a list of parts,
// so a request only appends them.
#pragma once

#include <trellis/protocol.hpp>
#include <trellis/request.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "process/scoreboard.hpp"

namespace trellis::core {

struct RequestTimer {
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  std::chrono::system_clock::time_point wall = std::chrono::system_clock::now();
  std::int64_t micros() const {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
  }
};

// Everything a line may show, gathered once the request was answered.
struct RequestRecord {
  const sdk::Request* request = nullptr;
  sdk::ResponseSummary summary;
  int pid = 0;
  int worker_id = 0;
  std::uint64_t worker_requests = 0;  // this worker's count, this request included
  std::int64_t micros = 0;            // duration
  std::int64_t start_unix_us = 0;     // wall-clock start
};

class LogFormat {
 public:
  enum class Var {
    literal, uri, method, status, addr, host, proto, uagent, referer, size, rsize, msecs, micros, ms,
    pid, wid, reqs, time, ltime, header_var,
  };
  struct Part {
    Var var = Var::literal;
    std::string text;  // the literal text, or NAME of %(var.NAME)
  };

  // "" gives the default line; "json" one JSON object per line. Throws
  // std::invalid_argument naming an unknown variable or an unclosed "%(".
  static LogFormat compile(std::string_view spec);

  bool is_json() const { return json_; }
  bool is_default() const { return default_; }
  const std::vector<Part>& parts() const { return parts_; }
  // Appends the line, without a newline.
  void render(const RequestRecord& r, std::string& out) const;

 private:
  std::vector<Part> parts_;
  bool json_ = false;
  bool default_ = false;
};

// A request header or CGI variable by its CGI name: variables first (uwsgi),
// then the request's own fields (REQUEST_METHOD, QUERY_STRING, ...), then
// HTTP_X_NAME matched against header "X-Name". Empty when absent.
std::string_view find_request_var(const sdk::Request& request, std::string_view name);

// Text safe on one log line: control bytes, DEL, '"', '\' and non-ASCII
// bytes become \xNN.
void append_printable(std::string& out, std::string_view s);

// Compiles --log-format for every process forked after this call. Throws
// std::invalid_argument on a bad format.
void configure_request_log(std::string_view spec);

// Records "METHOD URI" in the scoreboard for harakiri messages and stats.
void note_request_line(CoreSlot& core, std::string_view method, std::string_view uri);

// Writes the line: the default one through the logger, a --log-format line
// as is with one write(2) to the log's descriptor (a line never interleaves
// with another process's, and the worker waits for one write at most).
void log_request(const RequestRecord& record);

}  // namespace trellis::core
