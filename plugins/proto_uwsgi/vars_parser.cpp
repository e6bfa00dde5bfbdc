#include "vars_parser.hpp"

#include <algorithm>

namespace trellis::uwsgi {
namespace {

std::uint16_t read_u16le(const char* p) noexcept {
  return static_cast<std::uint16_t>(static_cast<unsigned char>(p[0]) |
                                    (static_cast<unsigned char>(p[1]) << 8));
}

// Reads one length-prefixed string at `pos`, advancing it. `what` names the
// item in the error ("key", "value").
std::string take(std::string_view block, std::size_t& pos, std::string_view& item, const char* what) {
  if (block.size() - pos < 2) {
    return std::string("vars block ends inside a ") + what + " length at offset " + std::to_string(pos);
  }
  std::size_t len = read_u16le(block.data() + pos);
  pos += 2;
  if (block.size() - pos < len) {
    return std::string(what) + " of " + std::to_string(len) + " bytes at offset " + std::to_string(pos) +
           " runs past the end of the " + std::to_string(block.size()) + "-byte vars block";
  }
  item = block.substr(pos, len);
  pos += len;
  return {};
}

}  // namespace

PacketHeader parse_header(const char* bytes) noexcept {
  PacketHeader h;
  h.modifier1 = static_cast<std::uint8_t>(bytes[0]);
  h.datasize = read_u16le(bytes + 1);
  h.modifier2 = static_cast<std::uint8_t>(bytes[3]);
  return h;
}

std::string parse_vars(std::string_view block, std::vector<sdk::Field>& out) {
  out.clear();
  // nginx sends some 15 to 40 vars; more grow the vector as they come (a
  // bound from the block's size, 4 bytes a var, would allocate far more).
  out.reserve(std::min<std::size_t>(block.size() / 4, 64));
  std::size_t pos = 0;
  while (pos < block.size()) {
    std::size_t at = pos;
    sdk::Field f;
    if (auto err = take(block, pos, f.name, "key"); !err.empty()) return err;
    // An empty key means the sender's framing is off (or it is not uwsgi):
    // reject rather than hand the application a nameless variable.
    if (f.name.empty()) return "empty key at offset " + std::to_string(at);
    if (auto err = take(block, pos, f.value, "value"); !err.empty()) return err;
    out.push_back(f);
  }
  return {};
}

}  // namespace trellis::uwsgi
