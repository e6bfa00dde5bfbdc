#include "net/listener.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <stdexcept>

namespace trellis::net {

namespace {

[[noreturn]] void fail(const Address& a, const std::string& what, int err) {
  throw std::runtime_error("cannot " + what + " " + a.text + ": " + std::strerror(err));
}

sockaddr_un unix_sockaddr(const Address& a, socklen_t& len) {
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  if (a.kind == Address::Kind::unix_abstract) {
    std::memcpy(sun.sun_path + 1, a.path.data(), a.path.size());
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + a.path.size());
  } else {
    std::memcpy(sun.sun_path, a.path.data(), a.path.size());
    len = static_cast<socklen_t>(sizeof sun);
  }
  return sun;
}

// A socket file left by a previous run is removed, but never one that a
// live server still answers on.
void remove_stale_unix_socket(const Address& a) {
  struct stat st{};
  if (a.kind != Address::Kind::unix_path || lstat(a.path.c_str(), &st) != 0) return;
  if (!S_ISSOCK(st.st_mode)) throw std::runtime_error("cannot bind " + a.text + ": a file that is not a socket is in the way");
  int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  socklen_t len = 0;
  auto sun = unix_sockaddr(a, len);
  bool alive = probe >= 0 && connect(probe, reinterpret_cast<sockaddr*>(&sun), len) == 0;
  if (probe >= 0) close(probe);
  if (alive) throw std::runtime_error("cannot bind " + a.text + ": another server is listening there");
  unlink(a.path.c_str());
}

ListenSocket bind_unix(const Address& a, const BindOptions& o) {
  remove_stale_unix_socket(a);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(a, "create a socket for", errno);
  socklen_t len = 0;
  auto sun = unix_sockaddr(a, len);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sun), len) != 0) {
    int err = errno;
    close(fd);
    fail(a, "bind", err);
  }
  if (!o.chmod.empty() && a.kind == Address::Kind::unix_path) {
    char* end = nullptr;
    long mode = std::strtol(o.chmod.c_str(), &end, 8);
    if (!end || *end || mode < 0 || mode > 07777)
      throw std::runtime_error("invalid --chmod-socket '" + o.chmod + "': expected octal like 660");
    if (chmod(a.path.c_str(), static_cast<mode_t>(mode)) != 0) fail(a, "chmod", errno);
  }
  ListenSocket s;
  s.fd = fd;
  s.address = a;
  return s;
}

ListenSocket bind_tcp(const Address& a, const BindOptions& o) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  // ":port" means every IPv4 interface, as in uWSGI.
  const char* host = a.host.empty() ? "0.0.0.0" : a.host.c_str();
  int rc = getaddrinfo(host, a.port.c_str(), &hints, &found);
  if (rc != 0) throw std::runtime_error("cannot resolve " + a.text + ": " + gai_strerror(rc));
  int last_err = 0;
  for (auto* ai = found; ai; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_err = errno;
      continue;
    }
    // Each of these changes how the server behaves (a restart that cannot
    // bind, workers that do not share a port, delayed small responses):
    // one that fails is a start-up error, not a quiet difference.
    int one = 1;
    int seconds = 1;  // TCP_DEFER_ACCEPT
    const char* failed = nullptr;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) failed = "set SO_REUSEADDR on";
    else if (o.reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
      failed = "set SO_REUSEPORT on";
    else if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) failed = "set TCP_NODELAY on";
    else if (o.defer_accept && setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &seconds, sizeof seconds) != 0)
      failed = "set TCP_DEFER_ACCEPT on";
    if (failed) {
      int err = errno;
      close(fd);
      freeaddrinfo(found);
      fail(a, failed, err);
    }
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      freeaddrinfo(found);
      ListenSocket s;
      s.fd = fd;
      s.address = a;
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
      format_sockaddr(reinterpret_cast<sockaddr*>(&ss), s.local_host, s.local_port);
      return s;
    }
    last_err = errno;
    close(fd);
  }
  freeaddrinfo(found);
  fail(a, "bind", last_err);
}

}  // namespace

ListenSocket bind_listener(const Address& a, const BindOptions& o) {
  ListenSocket s;
  int inherited = take_inherited_socket(a);
  if (inherited >= 0) {
    s.fd = inherited;
    s.address = a;
    s.inherited = true;
  } else {
    s = a.is_unix() ? bind_unix(a, o) : bind_tcp(a, o);
  }
  if (a.is_unix()) {
    s.local_host = a.text;
    s.local_port = "";
  } else if (s.inherited) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    getsockname(s.fd, reinterpret_cast<sockaddr*>(&ss), &len);
    format_sockaddr(reinterpret_cast<sockaddr*>(&ss), s.local_host, s.local_port);
  }
  if (listen(s.fd, o.backlog) != 0) {
    int err = errno;
    close(s.fd);
    fail(a, "listen on", err);
  }
  // Workers poll and accept without blocking.
  int flags = fcntl(s.fd, F_GETFL);
  if (flags < 0 || fcntl(s.fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    int err = errno;
    if (!s.inherited) close(s.fd);
    fail(a, "make non-blocking", err);
  }
  return s;
}

int kernel_somaxconn() {
  std::ifstream in("/proc/sys/net/core/somaxconn");
  int value = -1;
  if (in >> value) return value;
  return -1;
}

int take_inherited_socket(const Address& a) {
  static std::set<int> taken;
  const char* pid = std::getenv("LISTEN_PID");
  const char* fds = std::getenv("LISTEN_FDS");
  if (!pid || !fds || std::atoi(pid) != getpid()) return -1;
  int count = std::atoi(fds);
  for (int fd = 3; fd < 3 + count; ++fd) {
    if (taken.count(fd)) continue;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) continue;
    bool match = false;
    if (ss.ss_family == AF_UNIX) {
      auto* sun = reinterpret_cast<sockaddr_un*>(&ss);
      std::string path = sun->sun_path[0] ? std::string(sun->sun_path)
                                          : std::string(sun->sun_path + 1, len - offsetof(sockaddr_un, sun_path) - 1);
      match = a.is_unix() && path == a.path;
    } else if (!a.is_unix()) {
      std::string host, port;
      format_sockaddr(reinterpret_cast<sockaddr*>(&ss), host, port);
      match = port == a.port && (a.host.empty() || a.host == host || a.host == "0.0.0.0" || a.host == "::");
    }
    if (match) {
      // Kept out of application subprocesses; a descriptor systemd handed
      // over that refuses the flag is still served.
      if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)
        spdlog::warn("cannot set close-on-exec on inherited socket {}: {}", fd, std::strerror(errno));
      taken.insert(fd);
      return fd;
    }
  }
  return -1;
}

}  // namespace trellis::net
