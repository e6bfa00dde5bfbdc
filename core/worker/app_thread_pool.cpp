#include "worker/app_thread_pool.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <system_error>

#include "process/exit_codes.hpp"

namespace trellis::core {

AppThreadPool::AppThreadPool(int threads, Serve serve, ThreadHook hook)
    : serve_(std::move(serve)), hook_(std::move(hook)) {
  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this, i] { run(i); });
}

AppThreadPool::~AppThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_all();
  for (auto& t : threads_) t.join();
  close(event_fd_);
}

void AppThreadPool::submit(Stream* stream) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(stream);
  }
  ready_.notify_one();
}

std::vector<Stream*> AppThreadPool::take_completions() {
  std::uint64_t drained = 0;
  (void)!::read(event_fd_, &drained, sizeof drained);
  std::lock_guard<std::mutex> lock(mutex_);
  return std::exchange(done_, {});
}

void AppThreadPool::run(int thread) {
  // Nothing may unwind out of a thread (std::terminate): serve() catches
  // what a request throws, so only the pool's own bookkeeping is left, and
  // a worker whose pool broke is ended for the master to replace.
  try {
    hook_(thread, true);
    for (;;) {
      Stream* c = nullptr;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) break;  // stopping and nothing left
        c = queue_.front();
        queue_.pop_front();
      }
      serve_(*c, thread);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        done_.push_back(c);
      }
      std::uint64_t one = 1;
      while (::write(event_fd_, &one, sizeof one) < 0 && errno == EINTR) {
      }
    }
    hook_(thread, false);
  } catch (const std::exception& e) {
    spdlog::critical("application thread {} stopped by an unexpected error: {}; this worker stops", thread,
                     e.what());
    _exit(kExitInternalError);
  }
}

}  // namespace trellis::core
