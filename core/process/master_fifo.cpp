#include "process/master_fifo.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace trellis::core {

namespace {
struct Command {
  char key;
  int signo;
  const char* what;
};
constexpr Command kCommands[] = {
    {'r', SIGHUP, "graceful reload"}, {'c', SIGUSR2, "chain reload"}, {'q', SIGTERM, "graceful stop"},
    {'Q', SIGINT, "immediate stop"},  {'+', SIGTTIN, "add a worker"}, {'-', SIGTTOU, "remove a worker"},
    {'l', SIGUSR1, "reopen logs"},
};
}  // namespace

MasterFifo::MasterFifo(std::string path) : path_(std::move(path)) {
  struct stat st{};
  if (stat(path_.c_str(), &st) == 0) {
    if (!S_ISFIFO(st.st_mode)) throw std::runtime_error("--master-fifo " + path_ + " exists and is not a FIFO");
  } else if (mkfifo(path_.c_str(), 0600) != 0) {
    throw std::runtime_error("cannot create --master-fifo " + path_ + ": " + std::strerror(errno));
  }
  // Read-write, so the FIFO never reports end-of-file when a writer leaves.
  fd_ = open(path_.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd_ < 0) throw std::runtime_error("cannot open --master-fifo " + path_ + ": " + std::strerror(errno));
}

MasterFifo::~MasterFifo() {
  if (fd_ >= 0) close(fd_);
}

void MasterFifo::add_poll_fds(std::vector<pollfd>& fds) { fds.push_back({fd_, POLLIN, 0}); }

void MasterFifo::on_poll(const pollfd* fds, std::size_t count, const MasterStatus&) {
  if (count == 0 || !(fds[0].revents & POLLIN)) return;
  char buf[64];
  ssize_t n = read(fd_, buf, sizeof buf);
  for (ssize_t i = 0; i < n; ++i) {
    if (buf[i] == '\n' || buf[i] == '\r' || buf[i] == ' ') continue;
    bool known = false;
    for (const Command& c : kCommands) {
      if (c.key != buf[i]) continue;
      known = true;
      spdlog::info("master fifo: '{}': {}", c.key, c.what);
      // The master's signal handling does the work, as for the signal.
      if (kill(getpid(), c.signo) != 0)
        spdlog::error("master fifo: cannot raise signal {}: {}", c.signo, std::strerror(errno));
    }
    if (!known) spdlog::warn("master fifo: unknown command '{}' (use r, c, q, Q, +, -, l)", buf[i]);
  }
}

}  // namespace trellis::core
