#include "net/address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <charconv>
#include <stdexcept>

namespace trellis::net {

namespace {
bool valid_port(std::string_view p) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
  return !p.empty() && ec == std::errc() && end == p.data() + p.size() && value <= 65535;
}
}  // namespace

Address parse_address(std::string_view text) {
  Address a;
  a.text = std::string(text);
  auto fail = [&](const char* why) {
    throw std::invalid_argument("invalid address '" + a.text + "': " + why);
  };
  if (text.empty()) fail("empty");
  if (text.front() == '/' || text.front() == '.' || text.find(':') == std::string_view::npos) {
    if (text.front() == '@') {
      a.kind = Address::Kind::unix_abstract;
      a.path = std::string(text.substr(1));
    } else {
      a.kind = Address::Kind::unix_path;
      a.path = std::string(text);
    }
    if (a.path.empty()) fail("empty socket path");
    if (a.path.size() >= sizeof(sockaddr_un{}.sun_path)) fail("socket path too long");
    return a;
  }
  if (text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) fail("missing ']'");
    a.host = std::string(text.substr(1, close - 1));
    auto rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') fail("expected ':port' after ']'");
    a.port = std::string(rest.substr(1));
  } else {
    auto colon = text.rfind(':');
    a.host = std::string(text.substr(0, colon));
    a.port = std::string(text.substr(colon + 1));
    if (a.host.find(':') != std::string::npos) fail("IPv6 addresses need brackets: [::1]:8080");
  }
  if (!valid_port(a.port)) fail("bad port");
  return a;
}

void format_sockaddr(const sockaddr* sa, std::string& host, std::string& port) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (sa->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    host = buf;
    port = std::to_string(ntohs(in->sin_port));
  } else if (sa->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
    host = buf;
    // An IPv4 client on a dual-stack socket: show it as plain IPv4.
    if (host.rfind("::ffff:", 0) == 0 && host.find('.') != std::string::npos) host = host.substr(7);
    port = std::to_string(ntohs(in6->sin6_port));
  } else {
    host.clear();
    port.clear();
  }
}

}  // namespace trellis::net
