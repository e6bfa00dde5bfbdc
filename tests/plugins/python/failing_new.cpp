// In a file of its own so that the compiler never inlines these into code
// that also sees the matching delete (GCC would then warn about malloc/free
// pairs it cannot tell are ours).
#include "failing_new.hpp"

#include <cstdlib>
#include <new>

namespace {
thread_local std::size_t t_fail_from = trellis::test::FailAllocations::kNever;
}

void* operator new(std::size_t n) {
  if (n >= t_fail_from) throw std::bad_alloc();
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace trellis::test {

FailAllocations::FailAllocations(std::size_t from) noexcept : saved_(t_fail_from) { t_fail_from = from; }
FailAllocations::~FailAllocations() { t_fail_from = saved_; }

}  // namespace trellis::test
