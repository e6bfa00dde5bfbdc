// Test-only allocation failure. A binary that links failing_new.cpp has the
// global operator new replaced for the whole process (shared objects it
// loads, the python plugin included, bind to it too) and can make it throw
// std::bad_alloc on demand. CPython allocates with malloc and is not
// affected: only C++ containers and strings see the failure.
#pragma once

#include <cstddef>
#include <cstdint>

namespace trellis::test {

// While one lives, allocations of `from` bytes or more made by this thread
// fail (0: every allocation). Other threads are not affected.
class FailAllocations {
 public:
  static constexpr std::size_t kNever = SIZE_MAX;
  explicit FailAllocations(std::size_t from) noexcept;
  FailAllocations(const FailAllocations&) = delete;
  FailAllocations& operator=(const FailAllocations&) = delete;
  ~FailAllocations();

 private:
  std::size_t saved_;
};

}  // namespace trellis::test
