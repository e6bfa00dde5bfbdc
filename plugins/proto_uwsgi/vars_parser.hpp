// The uwsgi packet framing: a 4-byte header, then a block of key/value vars.
//
//   header:  modifier1 u8 | datasize u16 little-endian | modifier2 u8
//   vars:    repeated { key_len u16 LE, key, value_len u16 LE, value }
//
// Pure functions over bytes already in memory; the incremental reading lives
// in PacketReader.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "trellis/strings.hpp"

namespace trellis::uwsgi {

inline constexpr std::size_t kHeaderSize = 4;

struct PacketHeader {
  std::uint8_t modifier1 = 0;
  std::uint16_t datasize = 0;
  std::uint8_t modifier2 = 0;
};

// `bytes` must hold at least kHeaderSize bytes.
PacketHeader parse_header(const char* bytes) noexcept;

// Splits a complete vars block into fields that view into `block`. Returns
// an empty string on success, else a one-line reason (the block is refused
// whole: a length running past the block, a dangling length byte, an empty
// key).
std::string parse_vars(std::string_view block, std::vector<sdk::Field>& out);

}  // namespace trellis::uwsgi
