#include "stats/stats_server.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "stats/listen_queue.hpp"
#include "stats/prometheus.hpp"
#include "stats/uwsgi_json.hpp"

namespace trellis::core {

namespace {

constexpr std::size_t kMaxConnections = 64;
constexpr std::size_t kMaxRequestHead = 8192;
constexpr std::int64_t kConnectionTimeoutMs = 5000;
constexpr std::int64_t kQueueSampleMs = 1000;

std::int64_t unix_ms() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

std::string http_response(int code, const char* reason, std::string_view type, std::string_view body,
                          bool head_only) {
  std::string r = "HTTP/1.1 " + std::to_string(code) + " " + reason + "\r\nContent-Type: ";
  r += type;
  r += "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n";
  if (!head_only) r += body;
  return r;
}

}  // namespace

StatsServer::StatsServer(StatsSettings settings) : settings_(std::move(settings)) {
  net::Address address = net::parse_address(settings_.address);
  net::BindOptions bind;
  // Plain stats clients connect and wait for the document: never defer.
  bind.defer_accept = false;
  bind.backlog = 64;
  listener_ = std::make_unique<net::ListenSocket>(net::bind_listener(address, bind));
  // The master's loop must never wait in accept().
  int fl = fcntl(listener_->fd, F_GETFL);
  if (fl < 0 || fcntl(listener_->fd, F_SETFL, fl | O_NONBLOCK) != 0)
    throw std::runtime_error(std::string("cannot make the stats socket non-blocking: ") + std::strerror(errno));
}

StatsServer::~StatsServer() {
  for (auto& c : conns_) close(c.fd);
  if (listener_ && listener_->fd >= 0) close(listener_->fd);
}

void StatsServer::close_in_child() {
  for (auto& c : conns_) close(c.fd);
  conns_.clear();
  if (listener_ && listener_->fd >= 0) close(listener_->fd);
  listener_->fd = -1;
}

void StatsServer::add_poll_fds(std::vector<pollfd>& fds) {
  listener_polled_ = conns_.size() < kMaxConnections;
  if (listener_polled_) fds.push_back({listener_->fd, POLLIN, 0});
  for (auto& c : conns_) fds.push_back({c.fd, static_cast<short>(c.writing ? POLLOUT : POLLIN), 0});
  conns_polled_ = conns_.size();
}

void StatsServer::on_poll(const pollfd* fds, std::size_t count, const MasterStatus& status) {
  std::int64_t now = monotonic_ms();
  std::size_t at = 0;
  bool accept_ready = false;
  if (listener_polled_ && at < count) accept_ready = fds[at++].revents & POLLIN;
  std::vector<bool> done(conns_.size(), false);
  for (std::size_t i = 0; i < conns_polled_ && at < count; ++i, ++at) {
    if (!fds[at].revents) continue;
    Conn& c = conns_[i];
    if (c.writing)
      done[i] = !flush(c);
    else
      read_request(c, status), done[i] = c.fd < 0 || (c.writing && c.sent == c.out.size());
  }
  for (std::size_t i = 0; i < conns_.size(); ++i)
    if (!done[i] && now >= conns_[i].deadline_ms) done[i] = true;
  std::size_t keep = 0;
  for (std::size_t i = 0; i < conns_.size(); ++i) {
    if (done[i]) {
      if (conns_[i].fd >= 0) close(conns_[i].fd);
      continue;
    }
    conns_[keep++] = std::move(conns_[i]);
  }
  conns_.resize(keep);
  if (accept_ready) accept_new(status);
  if (now >= next_sample_ms_) sample_queues(now);
}

void StatsServer::accept_new(const MasterStatus& status) {
  for (int budget = 16; budget > 0 && conns_.size() < kMaxConnections; --budget) {
    int fd = accept4(listener_->fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    Conn c;
    c.fd = fd;
    c.deadline_ms = monotonic_ms() + kConnectionTimeoutMs;
    if (settings_.http)
      read_request(c, status);  // often already there
    else
      respond(c, status);
    bool finished = c.fd < 0 || (c.writing && !flush(c));
    if (finished) {
      if (c.fd >= 0) close(c.fd);
      continue;
    }
    conns_.push_back(std::move(c));
  }
}

void StatsServer::read_request(Conn& c, const MasterStatus& status) {
  char buf[2048];
  for (;;) {
    ssize_t n = recv(c.fd, buf, sizeof buf, 0);
    if (n > 0) {
      c.in.append(buf, static_cast<std::size_t>(n));
      if (c.in.find("\r\n\r\n") != std::string::npos || c.in.find("\n\n") != std::string::npos) {
        respond(c, status);
        if (!flush(c)) c.sent = c.out.size();  // finished either way
        return;
      }
      if (c.in.size() > kMaxRequestHead) {
        c.out = http_response(431, "Request Header Fields Too Large", "text/plain", "request head too large\n", false);
        c.writing = true;
        if (!flush(c)) c.sent = c.out.size();
        return;
      }
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    close(c.fd);  // EOF or error before a complete request
    c.fd = -1;
    return;
  }
}

void StatsServer::respond(Conn& c, const MasterStatus& status) {
  c.writing = true;
  if (!settings_.http) {
    c.out = uwsgi_stats_json(snapshot(status), TRELLIS_VERSION);
    return;
  }
  std::string_view head = c.in;
  std::string_view line = head.substr(0, head.find_first_of("\r\n"));
  std::size_t sp1 = line.find(' ');
  std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos) {
    c.out = http_response(400, "Bad Request", "text/plain", "bad request\n", false);
    return;
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  target = target.substr(0, target.find('?'));
  bool head_only = method == "HEAD";
  if (method != "GET" && !head_only) {
    c.out = http_response(405, "Method Not Allowed", "text/plain", "only GET and HEAD\n", false);
    return;
  }
  if (target == "/") {
    c.out = http_response(200, "OK", "application/json", uwsgi_stats_json(snapshot(status), TRELLIS_VERSION),
                          head_only);
  } else if (target == "/metrics") {
    c.out = http_response(200, "OK", kPrometheusContentType, prometheus_metrics(snapshot(status)), head_only);
  } else if (target == "/ready") {
    if (status.ready)
      c.out = http_response(200, "OK", "text/plain", "ready\n", head_only);
    else
      c.out = http_response(503, "Service Unavailable", "text/plain", status.stopping ? "stopping\n" : "starting\n",
                            head_only);
  } else {
    c.out = http_response(404, "Not Found", "text/plain", "not found: try /, /metrics or /ready\n", head_only);
  }
}

bool StatsServer::flush(Conn& c) {
  while (c.sent < c.out.size()) {
    ssize_t n = send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return true;  // wait for POLLOUT
    return false;
  }
  return false;  // all sent: the connection is done
}

void StatsServer::worker_exited(int slot) {
  if (scoreboard_) retired_.add(read_counters(scoreboard_->worker(slot)));
  last_requests_.erase(slot);
}

void StatsServer::sample_queues(std::int64_t now) {
  next_sample_ms_ = now + kQueueSampleMs;
  for (auto& s : settings_.sockets) {
    QueueDepth d = listen_queue_depth(s.socket->fd);
    if (d.known && d.max_queue > 0 && d.queue >= d.max_queue) {
      listen_queue_errors_++;
      spdlog::warn("listen queue of socket {} is full ({} connections waiting): raise --listen or add workers",
                   s.socket->address.text, d.queue);
    }
  }
}

Snapshot StatsServer::snapshot(const MasterStatus& status) {
  Snapshot s;
  s.master = status;
  s.pid = getpid();
  s.uid = getuid();
  s.gid = getgid();
  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof cwd)) s.cwd = cwd;
  s.listen_queue_errors = listen_queue_errors_;
  for (auto& sock : settings_.sockets) {
    QueueDepth d = listen_queue_depth(sock.socket->fd);
    s.sockets.push_back({sock.socket->address.text, sock.proto, d.queue, d.max_queue});
  }
  for (int m : settings_.runtime_modifiers) s.runtimes.push_back({m});

  std::int64_t mono = monotonic_ms(), wall = unix_ms();
  s.totals = retired_;
  int slots = scoreboard_ ? scoreboard_->workers() : 0;
  for (int slot = 1; slot <= slots; ++slot) {
    if (scoreboard_->worker(slot).pid.load(std::memory_order_relaxed) == 0) continue;
    WorkerStats w = read_worker(*scoreboard_, slot, mono, wall);
    auto& last = last_requests_[slot];
    w.delta_requests = last.first == w.pid ? w.counters.requests - std::min(last.second, w.counters.requests)
                                           : w.counters.requests;
    last = {w.pid, w.counters.requests};
    s.totals.add(w.counters);
    for (auto& c : w.cores) s.in_flight += c.in_request;
    s.workers.push_back(std::move(w));
  }
  std::sort(s.workers.begin(), s.workers.end(), [](const WorkerStats& a, const WorkerStats& b) {
    return a.id != b.id ? a.id < b.id : a.generation < b.generation;
  });
  return s;
}

}  // namespace trellis::core
