// The request body, received whole before the request is handed on.
//
// A body of up to `post-buffering` bytes stays in memory; a longer one goes
// to an unlinked temporary file (in $TMPDIR, else /tmp) so that a big upload
// costs disk, not worker memory. The store is also the Request's BodyReader.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "trellis/request.hpp"

namespace trellis::uwsgi {

class BodyStore final : public sdk::BodyReader {
 public:
  BodyStore() = default;
  BodyStore(const BodyStore&) = delete;
  BodyStore& operator=(const BodyStore&) = delete;
  ~BodyStore();

  // Expects `length` bytes (<= 0: no body). Returns an empty string, or why
  // the spool file could not be created.
  std::string begin(std::int64_t length, std::int64_t keep_in_memory);

  // Where the next received bytes go; empty once complete.
  std::span<char> space();
  // `n` bytes were stored at the start of the last space(). Returns an
  // empty string or an I/O error.
  std::string commit(std::size_t n);
  // Copies bytes that arrived together with the packet head. Takes at most
  // what the body still lacks and sets `used` to how many it took.
  std::string append(const char* data, std::size_t n, std::size_t& used);

  bool complete() const noexcept { return received_ >= length_; }
  std::int64_t received() const noexcept { return received_; }
  std::int64_t length() const noexcept { return length_; }
  bool spooled() const noexcept { return fd_ >= 0; }

  sdk::Status read(char* buf, std::size_t size, std::size_t& got) noexcept override;

 private:
  std::string spool(const char* data, std::size_t n);
  // Counts `length` against the worker's total for bodies in memory; false
  // when that total has no room (the body is spooled instead).
  bool reserve_memory(std::int64_t length, std::int64_t keep_in_memory) noexcept;
  std::int64_t reserved_ = 0;

  std::int64_t length_ = 0;
  std::int64_t received_ = 0;
  std::int64_t read_pos_ = 0;
  std::vector<char> mem_;  // the body in memory, or a staging chunk when spooling
  int fd_ = -1;
};

}  // namespace trellis::uwsgi
