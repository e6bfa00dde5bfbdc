/* Fault injection for the integration tests: an LD_PRELOAD library that makes
 * chosen system calls fail on demand, so tests can check that trellis logs a
 * failure, keeps serving and repairs itself (a failed fork is retried, a
 * worker whose epoll_ctl fails is replaced, ...).
 *
 *   TRELLIS_FAULTS="RULE;RULE;..."   RULE = CALL:ACTION:WHEN:PATH
 *
 *   CALL    fork epoll_create1 epoll_ctl epoll_wait signalfd eventfd accept4
 *           socketpair sendmsg send sendfile recv
 *   ACTION  an errno name (EAGAIN, ENOMEM, ...): the call returns -1 with it
 *           die: the process kills itself with SIGKILL inside the call
 *   WHEN    while: every call fails while PATH exists
 *           once:  the first call after PATH appears fails; the process that
 *                  unlinks PATH claims it, so exactly one call in the whole
 *                  process tree fails
 *
 * Each injected fault writes one line to stderr ("trellis-fault: ...").
 * Whatever the rules, kill() with a pid <= 0 (which signals a process group,
 * or every process the caller may signal) is refused and reported, so a test
 * can assert that trellis never tried it. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_RULES 16

enum when { WHEN_WHILE, WHEN_ONCE };

struct rule {
  char call[32];
  int err; /* 0: die */
  enum when when;
  char path[256];
};

static struct rule rules[MAX_RULES];
static int rule_count;

static const struct {
  const char* name;
  int value;
} errnos[] = {
    {"EAGAIN", EAGAIN}, {"ENOMEM", ENOMEM}, {"ENOBUFS", ENOBUFS}, {"EMFILE", EMFILE},
    {"ENFILE", ENFILE}, {"EPIPE", EPIPE},   {"ECONNRESET", ECONNRESET}, {"EINTR", EINTR},
    {"EBADF", EBADF},   {"EINVAL", EINVAL}, {"EIO", EIO},       {"ENOSPC", ENOSPC},
};

static void say(const char* fmt, ...) {
  char line[512];
  int n = snprintf(line, sizeof line, "trellis-fault: pid %d: ", (int)getpid());
  va_list ap;
  va_start(ap, fmt);
  n += vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
  va_end(ap);
  if (n > (int)sizeof line - 2) n = (int)sizeof line - 2;
  line[n++] = '\n';
  /* One write: lines from several processes never interleave. */
  ssize_t w = write(STDERR_FILENO, line, (size_t)n);
  (void)w;
}

static void parse_rule(char* text) {
  /* CALL, ACTION and WHEN end at a ':'; PATH is the rest (it may hold ':'). */
  char* fields[4];
  for (int i = 0; i < 3; ++i) fields[i] = strsep(&text, ":");
  fields[3] = text;
  if (!fields[2] || !fields[3] || !*fields[3]) {
    say("ignoring malformed rule (want CALL:ACTION:WHEN:PATH)");
    return;
  }
  if (rule_count == MAX_RULES) return;
  struct rule* r = &rules[rule_count];
  snprintf(r->call, sizeof r->call, "%s", fields[0]);
  r->err = -1;
  if (strcmp(fields[1], "die") == 0) r->err = 0;
  for (size_t i = 0; i < sizeof errnos / sizeof errnos[0]; ++i)
    if (strcmp(fields[1], errnos[i].name) == 0) r->err = errnos[i].value;
  if (r->err < 0) {
    say("ignoring rule with unknown action '%s'", fields[1]);
    return;
  }
  if (strcmp(fields[2], "while") == 0) {
    r->when = WHEN_WHILE;
  } else if (strcmp(fields[2], "once") == 0) {
    r->when = WHEN_ONCE;
  } else {
    say("ignoring rule with unknown WHEN '%s'", fields[2]);
    return;
  }
  snprintf(r->path, sizeof r->path, "%s", fields[3]);
  rule_count++;
}

__attribute__((constructor)) static void load_rules(void) {
  const char* spec = getenv("TRELLIS_FAULTS");
  if (!spec) return;
  char copy[4096];
  snprintf(copy, sizeof copy, "%s", spec);
  char* rest = copy;
  char* item;
  while ((item = strsep(&rest, ";")) != NULL)
    if (*item) parse_rule(item);
}

/* Non-zero when this call must fail: errno is set (or the process dies). */
static int injected(const char* call) {
  int saved = errno;
  for (int i = 0; i < rule_count; ++i) {
    struct rule* r = &rules[i];
    if (strcmp(r->call, call) != 0) continue;
    int hit = r->when == WHEN_WHILE ? access(r->path, F_OK) == 0 : unlink(r->path) == 0;
    if (!hit) continue;
    if (r->err == 0) {
      say("%s() kills the process (TRELLIS_FAULTS)", call);
      raise(SIGKILL);
    }
    say("%s() fails with %s (TRELLIS_FAULTS)", call, strerror(r->err));
    errno = r->err;
    return 1;
  }
  errno = saved;
  return 0;
}

#define REAL(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

pid_t fork(void) {
  if (injected("fork")) return -1;
  return REAL(fork)();
}

int epoll_create1(int flags) {
  if (injected("epoll_create1")) return -1;
  return REAL(epoll_create1)(flags);
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event* event) {
  if (injected("epoll_ctl")) return -1;
  return REAL(epoll_ctl)(epfd, op, fd, event);
}

int epoll_wait(int epfd, struct epoll_event* events, int maxevents, int timeout) {
  if (injected("epoll_wait")) return -1;
  return REAL(epoll_wait)(epfd, events, maxevents, timeout);
}

int signalfd(int fd, const sigset_t* mask, int flags) {
  if (injected("signalfd")) return -1;
  return REAL(signalfd)(fd, mask, flags);
}

int eventfd(unsigned int initval, int flags) {
  if (injected("eventfd")) return -1;
  return REAL(eventfd)(initval, flags);
}

int accept4(int fd, struct sockaddr* addr, socklen_t* len, int flags) {
  if (injected("accept4")) return -1;
  return REAL(accept4)(fd, addr, len, flags);
}

int socketpair(int domain, int type, int protocol, int sv[2]) {
  if (injected("socketpair")) return -1;
  return REAL(socketpair)(domain, type, protocol, sv);
}

ssize_t sendmsg(int fd, const struct msghdr* msg, int flags) {
  if (injected("sendmsg")) return -1;
  return REAL(sendmsg)(fd, msg, flags);
}

ssize_t send(int fd, const void* buf, size_t len, int flags) {
  if (injected("send")) return -1;
  return REAL(send)(fd, buf, len, flags);
}

ssize_t sendfile(int out_fd, int in_fd, off_t* offset, size_t count) {
  if (injected("sendfile")) return -1;
  return REAL(sendfile)(out_fd, in_fd, offset, count);
}

ssize_t recv(int fd, void* buf, size_t len, int flags) {
  if (injected("recv")) return -1;
  return REAL(recv)(fd, buf, len, flags);
}

int kill(pid_t pid, int sig) {
  if (pid <= 0) {
    say("refused kill(%d, %d): a pid <= 0 signals a whole process group or every process", (int)pid, sig);
    errno = EPERM;
    return -1;
  }
  return REAL(kill)(pid, sig);
}
