// libFuzzer target for the uwsgi packet reader and request mapping.
//
// Input: [config byte][split seed byte][bytes as they arrive on the socket].
// Each input is read whole, in random pieces and (when small) byte by byte;
// the verdicts must agree, or the fuzzer stops with the differing outcomes.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "feed.hpp"
#include "http_head.hpp"

using namespace trellis::uwsgi;
using namespace trellis::uwsgi::test;

namespace {

// The config byte picks limits small enough for the fuzzer to cross them.
Limits limits_for(unsigned char cfg) {
  Limits l;
  l.buffer_size = (cfg & 1) ? 64 : 32768;
  l.post_buffering = (cfg & 2) ? 8 : 1048576;
  l.limit_post = (cfg & 4) ? 100 : 0;
  return l;
}

void check(bool ok, const char* what, const Outcome& a, const Outcome& b) {
  if (ok) return;
  std::fprintf(stderr, "%s: verdict %d/%d status %d/%d reason '%s' / '%s'\n", what, static_cast<int>(a.verdict),
               static_cast<int>(b.verdict), a.status, b.status, a.reason.c_str(), b.reason.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  unsigned char cfg = data[0];
  unsigned seed = data[1];
  std::string input(reinterpret_cast<const char*>(data) + 2, size - 2);
  Limits l = limits_for(cfg);
  auto runtimes = [cfg](std::uint8_t m) { return m == 0 || ((cfg & 8) && m == 5); };

  PacketReader whole_reader(l, runtimes);
  Outcome whole = feed(whole_reader, input, [] { return std::size_t(-1); });
  if (whole.verdict == Verdict::ready) {
    // Walk everything a runtime would touch.
    const auto& req = whole_reader.request();
    for (const auto& h : req.headers) {
      (void)valid_header_name(h.name);
      (void)valid_header_value(h.value);
    }
    if (req.body == nullptr) std::abort();
    if (static_cast<std::int64_t>(whole.body.size()) != std::max<std::int64_t>(req.content_length, 0)) std::abort();
  }

  PacketReader split_reader(l, runtimes);
  std::minstd_rand rng(seed + 1);
  Outcome split = feed(split_reader, input, [&] { return std::size_t(rng() % 97 + 1); });
  check(split == whole, "random split", split, whole);

  if (input.size() <= 2048) {
    PacketReader byte_reader(l, runtimes);
    Outcome bytes = feed(byte_reader, input, [] { return std::size_t(1); });
    check(bytes == whole, "byte by byte", bytes, whole);
  }
  (void)parse_status(input.substr(0, 32));
  return 0;
}
