#include "worker/request_log.hpp"

#include <time.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "logging/log.hpp"
#include "stats/json.hpp"

namespace trellis::core {

namespace {

using Var = LogFormat::Var;

constexpr std::pair<std::string_view, Var> kVars[] = {
    {"uri", Var::uri},         {"method", Var::method},   {"status", Var::status}, {"addr", Var::addr},
    {"host", Var::host},       {"proto", Var::proto},     {"uagent", Var::uagent}, {"referer", Var::referer},
    {"size", Var::size},       {"rsize", Var::rsize},     {"msecs", Var::msecs},   {"micros", Var::micros},
    {"ms", Var::ms},           {"pid", Var::pid},         {"wid", Var::wid},       {"reqs", Var::reqs},
    {"time", Var::time},       {"ltime", Var::ltime},
};

// The default line, uWSGI-like: who served it, then what and how.
constexpr std::string_view kDefaultFormat =
    "[pid: %(pid)|worker: %(wid)|req: %(reqs)] %(addr) %(method) %(uri) => %(status), %(size) bytes in %(ms) ms";

// The fields of --log-format json, in this order.
constexpr Var kJsonFields[] = {Var::time,   Var::ltime,  Var::pid,  Var::wid,   Var::reqs,
                               Var::addr,   Var::method, Var::uri,  Var::proto, Var::host,
                               Var::status, Var::size,   Var::rsize, Var::msecs, Var::micros,
                               Var::uagent, Var::referer};

std::string_view var_name(Var v) {
  for (auto& [name, var] : kVars)
    if (var == v) return name;
  return "";
}

bool is_number(Var v) {
  switch (v) {
    case Var::status: case Var::size: case Var::rsize: case Var::msecs: case Var::micros:
    case Var::pid: case Var::wid: case Var::reqs: case Var::time:
      return true;
    default:
      return false;
  }
}

bool iequals_cgi(std::string_view header, std::string_view cgi) {
  // "X-Request-Id" matches "X_REQUEST_ID".
  if (header.size() != cgi.size()) return false;
  for (std::size_t i = 0; i < header.size(); ++i) {
    char h = header[i], c = cgi[i];
    if (h == '-') h = '_';
    if (h >= 'a' && h <= 'z') h = static_cast<char>(h - 'a' + 'A');
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (h != c) return false;
  }
  return true;
}

std::string_view header(const sdk::Request& r, std::string_view cgi_name) {
  for (const sdk::Field f : r.headers)
    if (iequals_cgi(f.name, cgi_name)) return f.value;
  return {};
}

std::string local_time(std::int64_t unix_us) {
  time_t t = static_cast<time_t>(unix_us / 1000000);
  tm parts{};
  localtime_r(&t, &parts);
  char buf[64];
  std::size_t n = strftime(buf, sizeof buf, "%d/%b/%Y:%H:%M:%S %z", &parts);
  return std::string(buf, n);
}

std::string millis_text(std::int64_t micros) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld.%03lld", static_cast<long long>(micros / 1000),
                static_cast<long long>(micros % 1000));
  return buf;
}

// A variable's value as text (numbers in decimal).
std::string value_of(const LogFormat::Part& p, const RequestRecord& rec) {
  const sdk::Request& r = *rec.request;
  switch (p.var) {
    case Var::literal: return p.text;
    case Var::uri: return std::string(r.uri);
    case Var::method: return std::string(r.method);
    case Var::status: return std::to_string(rec.summary.status);
    case Var::addr: return std::string(r.remote_addr);
    case Var::host: {
      std::string_view h = find_request_var(r, "HTTP_HOST");
      return std::string(h.empty() ? r.server_name : h);
    }
    case Var::proto: return std::string(r.protocol);
    case Var::uagent: return std::string(find_request_var(r, "HTTP_USER_AGENT"));
    case Var::referer: return std::string(find_request_var(r, "HTTP_REFERER"));
    case Var::size: return std::to_string(rec.summary.body_bytes);
    case Var::rsize: return std::to_string(rec.summary.wire_bytes);
    case Var::msecs: return std::to_string(rec.micros / 1000);
    case Var::micros: return std::to_string(rec.micros);
    case Var::ms: return millis_text(rec.micros);
    case Var::pid: return std::to_string(rec.pid);
    case Var::wid: return std::to_string(rec.worker_id);
    case Var::reqs: return std::to_string(rec.worker_requests);
    case Var::time: return std::to_string(rec.start_unix_us / 1000000);
    case Var::ltime: return local_time(rec.start_unix_us);
    case Var::header_var: return std::string(find_request_var(r, p.text));
  }
  return {};
}

LogFormat g_format = LogFormat::compile("");

}  // namespace

LogFormat LogFormat::compile(std::string_view spec) {
  LogFormat f;
  if (spec == "json") {
    f.json_ = true;
    for (Var v : kJsonFields) f.parts_.push_back({v, std::string(var_name(v))});
    return f;
  }
  if (spec.empty()) {
    f = compile(kDefaultFormat);
    f.default_ = true;
    return f;
  }
  std::string literal;
  for (std::size_t i = 0; i < spec.size();) {
    if (spec.compare(i, 2, "%(") != 0) {
      literal += spec[i++];
      continue;
    }
    std::size_t close = spec.find(')', i + 2);
    if (close == std::string_view::npos)
      throw std::invalid_argument("--log-format: '%(' at offset " + std::to_string(i) + " is never closed by ')'");
    std::string_view name = spec.substr(i + 2, close - i - 2);
    Part part;
    if (name.starts_with("var.") && name.size() > 4) {
      part.var = Var::header_var;
      part.text = std::string(name.substr(4));
    } else {
      auto it = std::find_if(std::begin(kVars), std::end(kVars), [&](auto& kv) { return kv.first == name; });
      if (it == std::end(kVars))
        throw std::invalid_argument("--log-format: unknown variable %(" + std::string(name) +
                                    "); known: uri, method, status, addr, host, proto, uagent, referer, size, rsize, "
                                    "msecs, micros, ms, pid, wid, reqs, time, ltime, var.NAME");
      part.var = it->second;
    }
    if (!literal.empty()) f.parts_.push_back({Var::literal, std::exchange(literal, {})});
    f.parts_.push_back(std::move(part));
    i = close + 1;
  }
  if (!literal.empty()) f.parts_.push_back({Var::literal, std::move(literal)});
  return f;
}

void LogFormat::render(const RequestRecord& rec, std::string& out) const {
  if (json_) {
    json::Writer w(out);
    w.begin_object();
    for (auto& p : parts_) {
      w.key(p.text);
      std::string v = value_of(p, rec);
      if (is_number(p.var))
        w.raw_value(v);  // digits only: no escaping needed
      else
        w.value(v);
    }
    w.end_object();
    return;
  }
  for (auto& p : parts_) {
    if (p.var == Var::literal) {
      out += p.text;  // from the operator, not from the request
      continue;
    }
    std::string v = value_of(p, rec);
    if (v.empty() && !is_number(p.var))
      out += '-';
    else
      append_printable(out, v);
  }
}

std::string_view find_request_var(const sdk::Request& r, std::string_view name) {
  for (const sdk::Field f : r.variables)
    if (f.name == name) return f.value;
  if (name == "REQUEST_METHOD") return r.method;
  if (name == "REQUEST_URI") return r.uri;
  if (name == "PATH_INFO") return r.path;
  if (name == "QUERY_STRING") return r.query;
  if (name == "SERVER_PROTOCOL") return r.protocol;
  if (name == "REMOTE_ADDR") return r.remote_addr;
  if (name == "REMOTE_PORT") return r.remote_port;
  if (name == "SERVER_NAME") return r.server_name;
  if (name == "SERVER_PORT") return r.server_port;
  if (name == "CONTENT_TYPE" || name == "CONTENT_LENGTH") return header(r, name);
  if (name.starts_with("HTTP_")) return header(r, name.substr(5));
  return {};
}

void append_printable(std::string& out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  for (unsigned char ch : s) {
    if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\') {
      out += "\\x";
      out += kHex[ch >> 4];
      out += kHex[ch & 0xf];
    } else {
      out += static_cast<char>(ch);
    }
  }
}

void configure_request_log(std::string_view spec) { g_format = LogFormat::compile(spec); }

void note_request_line(CoreSlot& core, std::string_view method, std::string_view uri) {
  // Written by this thread only, read by the master for messages: a torn
  // read shows a garbled line at worst, never touches freed memory.
  size_t cap = sizeof core.request_line - 1;
  size_t m = std::min(method.size(), cap);
  std::memcpy(core.request_line, method.data(), m);
  size_t pos = m;
  if (pos < cap) core.request_line[pos++] = ' ';
  size_t u = std::min(uri.size(), cap - pos);
  std::memcpy(core.request_line + pos, uri.data(), u);
  core.request_line[pos + u] = '\0';
}

void log_request(const RequestRecord& record) {
  if (!spdlog::default_logger_raw()->should_log(spdlog::level::info)) return;
  std::string line;
  line.reserve(256);
  g_format.render(record, line);
  if (g_format.is_default()) {
    spdlog::info("{}", line);
    return;
  }
  line += '\n';
  // One write: O_APPEND files and pipes keep a line whole against other
  // workers' lines; the descriptor survives SIGUSR1 reopens (dup3 in place).
  while (::write(log::output_fd(), line.data(), line.size()) < 0 && errno == EINTR) {
  }
}

}  // namespace trellis::core
