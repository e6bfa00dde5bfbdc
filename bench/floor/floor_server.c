/*
 * The floor: the least work a prefork server can do per request, as a
 * reference row in the benchmarks. It parses nothing and runs no
 * application; per connection it makes the same system calls trellis makes
 * for a one-request connection (accept4, recv, sendmsg with MSG_MORE,
 * shutdown, close) and answers a fixed "Hello World!".
 *
 * On a machine where the load generator shares the CPUs with the server,
 * the kernel's work per TCP connection bounds every server; how far the
 * floor itself gets ahead of uWSGI is the most any server could show there.
 *
 * usage: floor_server http|uwsgi PORT PROCESSES
 *   http:  answers when the request head (up to a blank line) has arrived
 *   uwsgi: answers when the 4-byte header and its vars block have arrived
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static const char kResponse[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: close\r\n\r\nHello World!";

/* 1 when buf holds a complete request for the mode. */
static int complete(int uwsgi, const char* buf, size_t len) {
  if (uwsgi) return len >= 4 && len >= 4u + ((unsigned char)buf[1] | (unsigned char)buf[2] << 8);
  return memmem(buf, len, "\r\n\r\n", 4) != NULL;
}

static void serve(int fd, int uwsgi) {
  char buf[16384];
  size_t len = 0;
  while (len < sizeof buf) {
    ssize_t n = recv(fd, buf + len, sizeof buf - len, 0);
    if (n <= 0) {
      /* Not all here yet (TCP_DEFER_ACCEPT gave up waiting): wait for it. */
      struct pollfd p = {fd, POLLIN, 0};
      if (n < 0 && poll(&p, 1, 5000) > 0) continue;
      close(fd);
      return;
    }
    len += (size_t)n;
    if (complete(uwsgi, buf, len)) break;
  }
  send(fd, kResponse, sizeof kResponse - 1, MSG_NOSIGNAL | MSG_MORE);
  shutdown(fd, SHUT_WR);
  close(fd);
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s http|uwsgi PORT PROCESSES\n", argv[0]);
    return 2;
  }
  int uwsgi = strcmp(argv[1], "uwsgi") == 0;
  int port = atoi(argv[2]), processes = atoi(argv[3]);
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1, defer = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(ls, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof defer);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(ls, (struct sockaddr*)&addr, sizeof addr) != 0 || listen(ls, 1024) != 0) {
    perror("floor_server: bind/listen");
    return 1;
  }
  pid_t children[64];
  if (processes < 1 || processes > 64) processes = 1;
  for (int i = 0; i < processes; ++i) {
    if ((children[i] = fork()) != 0) continue;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    for (;;) {
      struct epoll_event out;
      if (epoll_wait(ep, &out, 1, -1) <= 0) continue;
      struct sockaddr_storage peer;
      socklen_t plen = sizeof peer;
      int fd = accept4(ls, (struct sockaddr*)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) serve(fd, uwsgi);
    }
  }
  /* The parent only waits; SIGINT or SIGTERM to it ends its children. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigprocmask(SIG_BLOCK, &set, NULL);
  int sig;
  sigwait(&set, &sig);
  for (int i = 0; i < processes; ++i) kill(children[i], SIGKILL);
  while (wait(NULL) > 0) {
  }
  return 0;
}
