// The streams of one connection, in the order they opened. Most connections
// carry one at a time (HTTP/1.1, uwsgi; HTTP/2 many): the first is kept
// inline, so a connection that lives for one request allocates nothing here.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace trellis::core {

class Stream;

class StreamList {
 public:
  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }
  Stream* operator[](std::size_t i) const noexcept { return i == 0 ? first_ : more_[i - 1]; }
  Stream* back() const noexcept { return (*this)[size_ - 1]; }

  // May throw std::bad_alloc (from the second stream on).
  void push_back(Stream* s) {
    if (size_ == 0) first_ = s;
    else more_.push_back(s);
    ++size_;
  }
  void pop_back() noexcept {
    if (size_ > 1) more_.pop_back();
    else first_ = nullptr;
    --size_;
  }
  // Removes `s` if present, keeping the order of the others.
  void remove(Stream* s) noexcept {
    if (size_ == 0) return;
    if (first_ == s) {
      if (more_.empty()) {
        first_ = nullptr;
      } else {
        first_ = more_.front();
        more_.erase(more_.begin());
      }
      --size_;
      return;
    }
    auto it = std::find(more_.begin(), more_.end(), s);
    if (it == more_.end()) return;
    more_.erase(it);
    --size_;
  }

 private:
  Stream* first_ = nullptr;
  std::vector<Stream*> more_;
  std::size_t size_ = 0;
};

}  // namespace trellis::core
