#include "body_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace trellis::uwsgi {
namespace {

// Memory grows with what actually arrives: a client announcing a large
// CONTENT_LENGTH and then stalling costs one chunk, not the whole length.
constexpr std::size_t kChunk = 64 * 1024;

// Bodies held in memory by every connection of this process (the worker)
// together: at most this many times --post-buffering, so many clients
// trickling bodies cannot exhaust memory; past it a body is spooled,
// however small.
constexpr std::int64_t kMemoryFactor = 64;
std::atomic<std::int64_t> g_in_memory{0};

std::string temp_dir() {
  const char* d = std::getenv("TMPDIR");
  return (d && *d) ? std::string(d) : std::string("/tmp");
}

// An anonymous file: O_TMPFILE where the filesystem supports it, else a
// mkstemp file unlinked at once. Either way nothing is left behind.
int open_spool(std::string& error) {
  std::string dir = temp_dir();
  int fd = -1;
#ifdef O_TMPFILE
  fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
#endif
  std::string path = dir + "/trellis-body-XXXXXX";
  fd = ::mkostemp(path.data(), O_CLOEXEC);
  if (fd < 0) {
    error = "cannot create a body spool file in " + dir + ": " + std::strerror(errno);
    return -1;
  }
  ::unlink(path.c_str());
  return fd;
}

}  // namespace

BodyStore::~BodyStore() {
  g_in_memory.fetch_sub(reserved_, std::memory_order_relaxed);
  if (fd_ >= 0) ::close(fd_);
}

bool BodyStore::reserve_memory(std::int64_t length, std::int64_t keep_in_memory) noexcept {
  std::int64_t used = g_in_memory.load(std::memory_order_relaxed);
  do {
    if (used + length > keep_in_memory * kMemoryFactor) return false;
  } while (!g_in_memory.compare_exchange_weak(used, used + length, std::memory_order_relaxed));
  reserved_ = length;
  return true;
}

std::string BodyStore::begin(std::int64_t length, std::int64_t keep_in_memory) {
  length_ = length > 0 ? length : 0;
  received_ = 0;
  read_pos_ = 0;
  mem_.clear();
  g_in_memory.fetch_sub(reserved_, std::memory_order_relaxed);
  reserved_ = 0;
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (length_ == 0) return {};
  if (length_ > keep_in_memory || !reserve_memory(length_, keep_in_memory)) {
    std::string error;
    fd_ = open_spool(error);
    if (fd_ < 0) return error;
  }
  mem_.resize(static_cast<std::size_t>(std::min<std::int64_t>(length_, kChunk)));
  return {};
}

std::span<char> BodyStore::space() {
  if (complete()) return {};
  std::size_t left = static_cast<std::size_t>(length_ - received_);
  if (spooled()) return {mem_.data(), std::min(left, mem_.size())};
  auto have = static_cast<std::size_t>(received_);
  if (have == mem_.size()) {
    // Double, capped at the announced length: amortised linear copying.
    mem_.resize(std::min<std::size_t>(static_cast<std::size_t>(length_), mem_.size() * 2));
  }
  return {mem_.data() + have, mem_.size() - have};
}

std::string BodyStore::commit(std::size_t n) {
  if (spooled()) return spool(mem_.data(), n);
  received_ += static_cast<std::int64_t>(n);
  return {};
}

std::string BodyStore::append(const char* data, std::size_t n, std::size_t& used) {
  used = 0;
  while (used < n && !complete()) {
    auto dst = space();
    std::size_t k = std::min(dst.size(), n - used);
    std::memcpy(dst.data(), data + used, k);
    if (auto err = commit(k); !err.empty()) return err;
    used += k;
  }
  return {};
}

std::string BodyStore::spool(const char* data, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd_, data, n, received_);
    if (w < 0) {
      if (errno == EINTR) continue;
      return std::string("cannot write the request body to its spool file: ") + std::strerror(errno);
    }
    data += w;
    n -= static_cast<std::size_t>(w);
    received_ += w;
  }
  return {};
}

sdk::Status BodyStore::read(char* buf, std::size_t size, std::size_t& got) noexcept {
  got = 0;
  std::int64_t left = received_ - read_pos_;
  if (left <= 0 || size == 0) return sdk::Status::ok;
  std::size_t want = static_cast<std::size_t>(std::min<std::int64_t>(left, static_cast<std::int64_t>(size)));
  if (!spooled()) {
    std::memcpy(buf, mem_.data() + read_pos_, want);
    got = want;
  } else {
    ssize_t r;
    do {
      r = ::pread(fd_, buf, want, read_pos_);
    } while (r < 0 && errno == EINTR);
    if (r < 0) return sdk::Status::io_error;
    got = static_cast<std::size_t>(r);
  }
  read_pos_ += static_cast<std::int64_t>(got);
  return sdk::Status::ok;
}

}  // namespace trellis::uwsgi
