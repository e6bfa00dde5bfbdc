// libFuzzer target for the uwsgi packet reader and request mapping.
//
// Input: [config byte][split seed byte][bytes as they arrive on the socket].
// Each input is read whole, in random pieces and (when small) byte by byte;
// the outcomes (verdict, head, body as delivered) must agree, and the events
// must come in order (one head, then body, then the end), or the fuzzer
// stops with the differing outcomes.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "feed.hpp"
#include "http_head.hpp"
#include "modifier1.hpp"

using namespace trellis::uwsgi;
using namespace trellis::uwsgi::test;

namespace {

// The config byte picks limits small enough for the fuzzer to cross them,
// and which runtimes are loaded.
Limits limits_for(unsigned char cfg) {
  Limits l;
  l.buffer_size = (cfg & 1) ? 64 : 32768;
  l.limit_post = (cfg & 4) ? 100 : 0;
  return l;
}

bool loaded(unsigned char cfg, std::string_view runtime) {
  if (runtime.empty()) return !(cfg & 2);  // bit 1: no default runtime
  return (cfg & 8) && runtime == "psgi";   // bit 3: a PSGI runtime too
}

[[noreturn]] void fail(const char* what, const Outcome& o) {
  std::fprintf(stderr, "%s: verdict %d status %d reason '%s' order '%s'\n", what, static_cast<int>(o.verdict),
               o.status, o.reason.c_str(), o.order_error.c_str());
  std::abort();
}

void check(bool ok, const char* what, const Outcome& a, const Outcome& b) {
  if (ok) return;
  std::fprintf(stderr, "%s: verdict %d/%d status %d/%d reason '%s' / '%s' body %zu/%zu\n", what,
               static_cast<int>(a.verdict), static_cast<int>(b.verdict), a.status, b.status, a.reason.c_str(),
               b.reason.c_str(), a.body.size(), b.body.size());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  unsigned char cfg = data[0];
  unsigned seed = data[1];
  std::string input(reinterpret_cast<const char*>(data) + 2, size - 2);
  Limits l = limits_for(cfg);
  auto runtimes = [cfg](std::string_view name) { return loaded(cfg, name); };

  PacketReader whole_reader(l, runtimes);
  Outcome whole = feed(whole_reader, input, [] { return std::size_t(-1); });
  if (!whole.order_error.empty()) fail("events out of order", whole);
  if (whole.verdict == Verdict::end) {
    // Walk everything a runtime would touch, as it would see it.
    const trellis::sdk::Request req = request_of(whole_reader);
    for (const trellis::sdk::Field h : req.headers) {
      (void)valid_header_name(h.name);
      (void)valid_header_value(h.value);
    }
    std::size_t bytes = 0;
    for (const trellis::sdk::Field v : req.variables) bytes += v.name.size() + v.value.size();
    if (bytes > input.size()) fail("variables larger than the packet", whole);
    // The runtime the header named, and one that is loaded.
    auto runtime = runtime_for_modifier(whole_reader.header().modifier1);
    if (!runtime || req.runtime != *runtime || !loaded(cfg, req.runtime)) fail("wrong runtime", whole);
    if (!req.body_terminated) fail("body not terminated", whole);
    if (static_cast<std::int64_t>(whole.body.size()) != std::max<std::int64_t>(req.content_length, 0))
      fail("body length differs from CONTENT_LENGTH", whole);
    if (l.limit_post > 0 && req.content_length > l.limit_post) fail("limit-post not enforced", whole);
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
