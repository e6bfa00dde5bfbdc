// A request body as the core keeps it for a runtime: in memory up to
// --post-buffering (and while the worker's bodies together stay under their
// budget), else in an unnamed temp file, so clients trickling large bodies
// cannot exhaust memory. Appended by the loop thread, read by the thread
// serving the request; the owning Stream serialises the two.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <string>

namespace trellis::core {

// Body bytes held in memory by every stream of a worker together.
struct BodyBudget {
  std::size_t per_body = 1 << 20;  // --post-buffering
  std::size_t per_worker = 64u << 20;
  std::atomic<std::size_t> in_use{0};
};

class BodyStore {
 public:
  explicit BodyStore(BodyBudget& budget) : budget_(budget) {}
  ~BodyStore();
  BodyStore(const BodyStore&) = delete;
  BodyStore& operator=(const BodyStore&) = delete;

  // Appends; false with errno set when the spool file failed (logged by
  // the caller).
  bool append(const char* data, std::size_t len);
  // Copies up to `size` unread bytes into `buf`; returns the count (0: none
  // available now). False on a spool read error.
  bool read(char* buf, std::size_t size, std::size_t& got);
  std::uint64_t size() const { return total_; }
  std::uint64_t unread() const { return total_ - read_pos_; }
  bool spooled() const { return fd_ >= 0; }

 private:
  bool spill();

  BodyBudget& budget_;
  // In memory: the pieces as they arrived, each allocated to its size, so a
  // body costs what it holds (a growing string would double its capacity,
  // and a worker with many bodies in memory twice its budget).
  std::list<std::string> memory_;  // a list: nothing allocated while empty
  std::size_t memory_bytes_ = 0;
  std::size_t charged_ = 0;  // bytes of memory_ counted in the budget
  std::size_t front_read_ = 0;  // bytes of memory_.front() already read
  int fd_ = -1;
  std::uint64_t total_ = 0;
  std::uint64_t read_pos_ = 0;
};

}  // namespace trellis::core
