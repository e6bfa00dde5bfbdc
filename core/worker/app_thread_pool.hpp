// Application threads of a worker (--threads N > 1). The event loop submits
// connections whose request is complete; a thread serves it and posts the
// connection back, waking the loop through an eventfd. With --threads 1 the
// loop serves requests itself and this pool is not created.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <trellis/protocol.hpp>

namespace trellis::core {

class Connection;

class AppThreadPool {
 public:
  using Serve = std::function<sdk::Progress(Connection&, int thread)>;
  using ThreadHook = std::function<void(int thread, bool starting)>;

  AppThreadPool(int threads, Serve serve, ThreadHook hook);
  ~AppThreadPool();  // stops and joins

  void submit(Connection* connection);
  // Readable when completions are waiting.
  int completion_fd() const { return event_fd_; }
  std::vector<std::pair<Connection*, sdk::Progress>> take_completions();

 private:
  void run(int thread);

  Serve serve_;
  ThreadHook hook_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Connection*> queue_;
  std::vector<std::pair<Connection*, sdk::Progress>> done_;
  bool stopping_ = false;
  int event_fd_ = -1;
  std::vector<std::thread> threads_;
};

}  // namespace trellis::core
