#include "stats/listen_queue.hpp"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace trellis::core {

namespace {

QueueDepth tcp_depth(int fd) {
  QueueDepth d;
  tcp_info info{};
  socklen_t len = sizeof info;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return d;
  // On a listening socket the kernel reports the accept queue here.
  d.queue = info.tcpi_unacked;
  d.max_queue = info.tcpi_sacked;
  d.known = true;
  return d;
}

QueueDepth unix_depth(int fd) {
  QueueDepth d;
  struct stat st{};
  if (fstat(fd, &st) != 0) return d;
  int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (nl < 0) return d;
  struct {
    nlmsghdr nlh;
    unix_diag_req req;
  } msg{};
  msg.nlh.nlmsg_len = sizeof msg;
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST;
  msg.req.sdiag_family = AF_UNIX;
  msg.req.udiag_states = ~0u;
  msg.req.udiag_ino = static_cast<__u32>(st.st_ino);
  msg.req.udiag_show = UDIAG_SHOW_RQLEN;
  msg.req.udiag_cookie[0] = INET_DIAG_NOCOOKIE;
  msg.req.udiag_cookie[1] = INET_DIAG_NOCOOKIE;
  alignas(nlmsghdr) char buf[4096];
  // The kernel answers a single-socket query while handling send().
  if (send(nl, &msg, sizeof msg, 0) == static_cast<ssize_t>(sizeof msg)) {
    ssize_t n = recv(nl, buf, sizeof buf, MSG_DONTWAIT);
    auto* h = reinterpret_cast<nlmsghdr*>(buf);
    if (n > 0 && NLMSG_OK(h, static_cast<unsigned>(n)) && h->nlmsg_type == SOCK_DIAG_BY_FAMILY) {
      auto* m = static_cast<unix_diag_msg*>(NLMSG_DATA(h));
      auto* attr = reinterpret_cast<rtattr*>(m + 1);
      int left = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof *m));
      for (; RTA_OK(attr, left); attr = RTA_NEXT(attr, left)) {
        if (attr->rta_type != UNIX_DIAG_RQLEN) continue;
        unix_diag_rqlen q{};
        std::memcpy(&q, RTA_DATA(attr), sizeof q);
        // For a listening socket: pending connections and the backlog.
        d.queue = q.udiag_rqueue;
        d.max_queue = q.udiag_wqueue;
        d.known = true;
      }
    }
  }
  close(nl);
  return d;
}

}  // namespace

QueueDepth listen_queue_depth(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return {};
  if (ss.ss_family == AF_UNIX) return unix_depth(fd);
  return tcp_depth(fd);
}

}  // namespace trellis::core
