// uWSGI's master FIFO: a control channel on the filesystem. Each character
// written to it is a command, mapped to the signal that does the same thing,
// so both paths share one implementation in the master's signal handling:
//   r reload (HUP)   c chain reload (USR2)   q graceful stop (TERM)
//   Q immediate stop (INT)   + add a worker (TTIN)   - remove one (TTOU)
//   l reopen logs (USR1)
//   echo r > /run/app.fifo
#pragma once

#include <string>

#include "process/master.hpp"

namespace trellis::core {

class MasterFifo final : public LoopService {
 public:
  // Creates the FIFO if needed. Throws std::runtime_error naming the path.
  explicit MasterFifo(std::string path);
  ~MasterFifo() override;

  void add_poll_fds(std::vector<pollfd>& fds) override;
  void on_poll(const pollfd* fds, std::size_t count, const MasterStatus& status) override;
  void worker_exited(int) override {}
  // The process that owns it from now on (the master, after daemonize).
  int fd() const { return fd_; }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace trellis::core
