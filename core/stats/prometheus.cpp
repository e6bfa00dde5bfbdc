#include "stats/prometheus.hpp"

#include <cstdio>

namespace trellis::core {

namespace {

void family(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

template <typename T>
void sample(std::string& out, std::string_view name, std::string_view labels, T value) {
  out += name;
  if (!labels.empty()) {
    out += '{';
    out += labels;
    out += '}';
  }
  out += ' ';
  out += std::to_string(value);
  out += '\n';
}

std::string seconds(std::uint64_t us) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6f", static_cast<double>(us) / 1e6);
  return buf;
}

std::string bound(std::int64_t us) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", static_cast<double>(us) / 1e6);
  return buf;
}

}  // namespace

std::string prometheus_label_value(std::string_view v) {
  std::string out;
  for (char ch : v) {
    if (ch == '\\')
      out += "\\\\";
    else if (ch == '"')
      out += "\\\"";
    else if (ch == '\n')
      out += "\\n";
    else
      out += ch;
  }
  return out;
}

std::string prometheus_metrics(const Snapshot& s) {
  std::string out;
  const Counters& t = s.totals;

  family(out, "trellis_requests_total", "counter", "Requests answered by the application, by status class.");
  static const char* kClasses[kStatusClasses] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
  for (std::size_t i = 1; i < kStatusClasses; ++i)
    sample(out, "trellis_requests_total", std::string("status=\"") + kClasses[i] + "\"", t.status_class[i]);
  sample(out, "trellis_requests_total", "status=\"other\"", t.status_class[0]);

  family(out, "trellis_refused_requests_total", "counter",
         "Requests the protocol answered itself, before any application (malformed, too large), by status class.");
  for (std::size_t i = 4; i <= 5; ++i)
    sample(out, "trellis_refused_requests_total", std::string("status=\"") + kClasses[i] + "\"", t.refused_class[i]);

  family(out, "trellis_request_duration_seconds", "histogram", "Time from a complete request to the response.");
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < kDurationBoundsUs.size(); ++i) {
    cumulative += t.duration_bucket[i];
    sample(out, "trellis_request_duration_seconds_bucket", "le=\"" + bound(kDurationBoundsUs[i]) + "\"", cumulative);
  }
  cumulative += t.duration_bucket[kDurationBoundsUs.size()];
  sample(out, "trellis_request_duration_seconds_bucket", "le=\"+Inf\"", cumulative);
  out += "trellis_request_duration_seconds_sum " + seconds(t.running_time_us) + "\n";
  sample(out, "trellis_request_duration_seconds_count", "", cumulative);

  family(out, "trellis_requests_in_flight", "gauge", "Requests the application is handling now.");
  sample(out, "trellis_requests_in_flight", "", s.in_flight);

  family(out, "trellis_exceptions_total", "counter", "Requests where the application failed.");
  sample(out, "trellis_exceptions_total", "", t.exceptions);

  family(out, "trellis_response_bytes_total", "counter", "Bytes sent in responses, headers included.");
  sample(out, "trellis_response_bytes_total", "", t.tx_bytes);

  int idle = 0, busy = 0;
  for (auto& w : s.workers) (w.busy ? busy : idle)++;
  family(out, "trellis_workers", "gauge", "Worker processes, by state.");
  sample(out, "trellis_workers", "state=\"idle\"", idle);
  sample(out, "trellis_workers", "state=\"busy\"", busy);

  family(out, "trellis_worker_respawns_total", "counter", "Workers started again after one ended.");
  sample(out, "trellis_worker_respawns_total", "", s.master.respawns);

  family(out, "trellis_harakiri_kills_total", "counter", "Workers killed for exceeding --harakiri.");
  sample(out, "trellis_harakiri_kills_total", "", s.master.harakiri_kills);

  family(out, "trellis_listen_queue", "gauge", "Connections waiting in a socket's accept queue.");
  for (auto& sock : s.sockets) sample(out, "trellis_listen_queue", "socket=\"" + prometheus_label_value(sock.name) + "\"", sock.queue);
  family(out, "trellis_listen_queue_max", "gauge", "The accept queue's limit (listen backlog).");
  for (auto& sock : s.sockets)
    sample(out, "trellis_listen_queue_max", "socket=\"" + prometheus_label_value(sock.name) + "\"", sock.max_queue);

  family(out, "trellis_reload_generation", "gauge", "The generation new workers join; each reload adds one.");
  sample(out, "trellis_reload_generation", "", s.master.generation);

  family(out, "trellis_ready", "gauge", "1 when the workers accept requests and no stop has begun.");
  sample(out, "trellis_ready", "", s.master.ready ? 1 : 0);
  return out;
}

}  // namespace trellis::core
