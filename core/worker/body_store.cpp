#include "worker/body_store.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "worker/temp_file.hpp"

namespace trellis::core {

BodyStore::~BodyStore() {
  budget_.in_use.fetch_sub(charged_, std::memory_order_relaxed);
  if (fd_ >= 0) ::close(fd_);
}

bool BodyStore::spill() {
  std::string where;
  fd_ = open_temp_file(where);
  if (fd_ < 0) return false;
  // The file holds the whole body from its start; reads go on at read_pos_.
  std::uint64_t at = total_ - memory_bytes_;  // where memory_.front() starts in the body
  for (auto& piece : memory_) {
    const char* p = piece.data();
    std::size_t left = piece.size();
    while (left > 0) {
      ssize_t n = ::pwrite(fd_, p, left, static_cast<off_t>(at));
      if (n < 0) {
        if (errno == EINTR) continue;
        return false;
      }
      p += n;
      left -= static_cast<std::size_t>(n);
      at += static_cast<std::uint64_t>(n);
    }
  }
  budget_.in_use.fetch_sub(charged_, std::memory_order_relaxed);
  charged_ = 0;
  memory_.clear();
  memory_bytes_ = 0;
  front_read_ = 0;
  return true;
}

bool BodyStore::append(const char* data, std::size_t len) {
  if (len == 0) return true;
  if (fd_ < 0) {
    bool fits = total_ + len <= budget_.per_body &&
                budget_.in_use.load(std::memory_order_relaxed) + len <= budget_.per_worker;
    if (fits) {
      try {
        memory_.emplace_back(data, len);
      } catch (const std::bad_alloc&) {
        fits = false;
      }
    }
    if (fits) {
      budget_.in_use.fetch_add(len, std::memory_order_relaxed);
      charged_ += len;
      memory_bytes_ += len;
      total_ += len;
      return true;
    }
    if (!spill()) return false;
  }
  // Spooled: appended at the end (reads use pread at their own offset).
  while (len > 0) {
    ssize_t n = ::pwrite(fd_, data, len, static_cast<off_t>(total_));
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    len -= static_cast<std::size_t>(n);
    total_ += static_cast<std::uint64_t>(n);
  }
  return true;
}

bool BodyStore::read(char* buf, std::size_t size, std::size_t& got) {
  got = 0;
  if (fd_ < 0) {
    // Whole pieces are freed as they are read.
    while (got < size && !memory_.empty()) {
      std::string& front = memory_.front();
      std::size_t n = std::min(size - got, front.size() - front_read_);
      std::memcpy(buf + got, front.data() + front_read_, n);
      got += n;
      front_read_ += n;
      if (front_read_ == front.size()) {
        budget_.in_use.fetch_sub(front.size(), std::memory_order_relaxed);
        charged_ -= front.size();
        memory_bytes_ -= front.size();
        memory_.pop_front();
        front_read_ = 0;
      }
    }
    read_pos_ += got;
    return true;
  }
  std::uint64_t avail = total_ - read_pos_;
  std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(avail, size));
  if (n == 0) return true;
  ssize_t r;
  do {
    r = ::pread(fd_, buf, n, static_cast<off_t>(read_pos_));
  } while (r < 0 && errno == EINTR);
  if (r < 0) return false;
  got = static_cast<std::size_t>(r);
  read_pos_ += got;
  return true;
}

}  // namespace trellis::core
