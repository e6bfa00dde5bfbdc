// Listening sockets. The master creates them once and keeps them for its
// whole life (reloads never close them); workers inherit them across fork.
#pragma once

#include <string>
#include <vector>

#include "net/address.hpp"

namespace trellis::net {

struct ListenSocket {
  int fd = -1;
  Address address;
  std::string protocol_option;  // which option named it: "http-socket", "socket"
  std::string local_host;       // where it is actually bound (port 0 resolved)
  std::string local_port;
  bool inherited = false;       // passed in by systemd socket activation
};

struct BindOptions {
  int backlog = 1024;
  std::string chmod;            // "" keeps the umask; octal text like "666"
  bool reuse_port = false;
  // TCP_DEFER_ACCEPT: a connection is handed over only once its first bytes
  // arrived (client-speaks-first protocols, as uWSGI does by default).
  bool defer_accept = true;
};

// Throws std::runtime_error with a message naming the address and errno.
ListenSocket bind_listener(const Address& address, const BindOptions& options);

// The kernel's net.core.somaxconn, or -1 if unreadable.
int kernel_somaxconn();

// Sockets passed by systemd (LISTEN_PID/LISTEN_FDS), matched to `address`
// by their bound name; -1 if none matches. Each fd is handed out once.
int take_inherited_socket(const Address& address);

}  // namespace trellis::net
