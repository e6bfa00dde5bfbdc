// Listening addresses as operators write them: "host:port", ":port",
// "[::1]:port", "0.0.0.0:8080", or a UNIX socket path ("/run/app.sock",
// "@abstract" for Linux abstract sockets).
#pragma once

#include <sys/socket.h>

#include <string>
#include <string_view>

namespace trellis::net {

struct Address {
  enum class Kind { tcp, unix_path, unix_abstract } kind = Kind::tcp;
  std::string host;  // empty for ":port" (all IPv4 interfaces, as uWSGI)
  std::string port;
  std::string path;  // UNIX socket path (without the '@' for abstract)
  std::string text;  // as the operator wrote it, for messages

  bool is_unix() const { return kind != Kind::tcp; }
};

// Throws std::invalid_argument with a message naming the bad address.
Address parse_address(std::string_view text);

// "127.0.0.1" / "50312" from a socket address.
void format_sockaddr(const sockaddr* sa, std::string& host, std::string& port);

}  // namespace trellis::net
