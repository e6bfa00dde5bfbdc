// Application threads of a worker (--threads N > 1) for blocking runtimes.
// The event loop submits streams ready for their runtime; a thread serves
// one and posts it back, waking the loop through an eventfd. With
// --threads 1 the loop serves requests itself and this pool is not created.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>


namespace trellis::core {

class Stream;

class AppThreadPool {
 public:
  using Serve = std::function<void(Stream&, int thread)>;
  using ThreadHook = std::function<void(int thread, bool starting)>;

  AppThreadPool(int threads, Serve serve, ThreadHook hook);
  ~AppThreadPool();  // stops and joins

  void submit(Stream* stream);
  // Readable when completions are waiting.
  int completion_fd() const { return event_fd_; }
  std::vector<Stream*> take_completions();

 private:
  void run(int thread);

  Serve serve_;
  ThreadHook hook_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Stream*> queue_;
  std::vector<Stream*> done_;
  bool stopping_ = false;
  int event_fd_ = -1;
  std::vector<std::thread> threads_;
};

}  // namespace trellis::core
