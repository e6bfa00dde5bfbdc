// A fake core for plugin unit tests: a trellis_host_api whose every call is
// recorded, run on the test's thread with no event loop.
//
// - Protocol tests open a session on a FakeConnection, feed it bytes, and
//   read what it wrote (`wire`) and which streams it opened (`streams`). A
//   FakeStream plays the runtime: respond()/write()/finish() reach the
//   protocol's StreamSink at once, as the core does on the loop thread.
// - Runtime tests make a FakeStream with a request head and a body
//   (make_stream) and hand Stream(api(), s) to the runtime; the response
//   lands in the stream's built-in recording sink.
// Shared by the proto_http, proto_uwsgi and python unit tests.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unistd.h>
#include <vector>

#include "trellis/abi.h"
#include "trellis/host.hpp"
#include "trellis/protocol.hpp"
#include "trellis/stream.hpp"

namespace trellis::test {

struct OwnedField {
  std::string name, value;
};

// A request head deep-copied out of a trellis_request_head.
struct OwnedHead {
  std::uint32_t flags = 0;
  std::string method, uri, path, query, protocol, scheme, server_name, server_port, remote_addr, remote_port, runtime,
      upgrade;
  std::vector<OwnedField> headers, variables;
  std::int64_t content_length = -1;

  std::string header(std::string_view name) const {
    for (auto& f : headers)
      if (f.name.size() == name.size() &&
          std::equal(f.name.begin(), f.name.end(), name.begin(), [](char a, char b) { return std::tolower(a) == std::tolower(b); }))
        return f.value;
    return "";
  }
  std::string variable(std::string_view name) const {
    for (auto& f : variables)
      if (f.name == name) return f.value;
    return "";
  }
};

class FakeHost;

// One connection a protocol session runs on.
struct FakeConnection {
  FakeHost* host = nullptr;
  trellis_conn_info info{};
  std::string wire;           // every byte written, in order (files read in)
  int writes = 0;             // conn_write and conn_write_last calls
  int files = 0;              // file chunks written
  bool ended = false;         // conn_write_last succeeded
  std::size_t ended_at = 0;   // wire.size() then
  bool paused = false;        // conn_pause_reading(1) in force
  int closes = 0;
  std::uint32_t close_mode = 0xffffffffu;  // last conn_close mode
  std::size_t queued = 0;     // what conn_queued reports
  bool fail_writes = false;
  std::vector<int> refusals;  // conn_refused statuses
};

// One stream, from both sides.
struct FakeStream {
  FakeHost* host = nullptr;
  FakeConnection* conn = nullptr;
  OwnedHead head;
  // The core's view of the head (pointing into `head` and the arrays below).
  trellis_request_head c_head{};
  std::vector<trellis_field> c_headers, c_variables;

  const trellis_stream_sink* sink = nullptr;
  void* sink_self = nullptr;

  // What the protocol delivered.
  std::string body;
  bool body_ended = false;
  std::vector<OwnedField> trailers;
  std::vector<std::pair<std::uint32_t, std::string>> messages;
  bool reset = false;
  trellis_status reset_why = TRELLIS_OK;
  bool closed = false;
  trellis_response_summary summary{};
  trellis_status body_result = TRELLIS_OK;  // what stream_body answers
  std::size_t read_pos = 0;                 // stream_read's position in `body`

  // What the runtime did (through the sink, or recorded when there is none).
  bool head_sent = false;
  bool finished = false;
  bool aborted = false;
  bool done = false;
  bool body_wanted = false;
  std::string status;
  std::vector<OwnedField> response_headers;
  std::string response_body;
  std::vector<OwnedField> response_trailers;
  bool last_seen = false;

  void rebuild_c_head();
};

class FakeHost {
 public:
  FakeHost() {
    api_ = make_api();
    handle_ = sdk::Host(&api_, reinterpret_cast<trellis_host*>(this));
  }
  FakeHost(const FakeHost&) = delete;
  FakeHost& operator=(const FakeHost&) = delete;

  sdk::Host& host() { return handle_; }
  const trellis_host_api* api() const { return &api_; }

  FakeConnection& connection() {
    conns_.push_back(std::make_unique<FakeConnection>());
    FakeConnection& c = *conns_.back();
    c.host = this;
    c.info.size = sizeof c.info;
    c.info.remote_addr = {"127.0.0.1", 9};
    c.info.remote_port = {"40000", 5};
    c.info.local_addr = {"127.0.0.1", 9};
    c.info.local_port = {"3031", 4};
    c.info.socket_name = {"127.0.0.1:3031", 14};
    return c;
  }
  sdk::Connection handle(FakeConnection& c) { return sdk::Connection(&api_, reinterpret_cast<trellis_conn*>(&c)); }

  // A stream as a runtime test wants it: the head as given, `body` already
  // received; the response goes to the stream's own record.
  FakeStream& make_stream(OwnedHead head, std::string body = "", bool body_complete = true) {
    FakeConnection& c = connection();
    streams.push_back(std::make_unique<FakeStream>());
    FakeStream& s = *streams.back();
    s.host = this;
    s.conn = &c;
    s.head = std::move(head);
    s.rebuild_c_head();
    s.body = std::move(body);
    s.body_ended = body_complete;
    return s;
  }
  sdk::Stream runtime_handle(FakeStream& s) { return sdk::Stream(&api_, reinterpret_cast<trellis_stream*>(&s)); }

  // Optional: what the core would ask the protocol before on_start.
  std::function<trellis_status(const trellis_response_head*)> check_head;

  struct Line {
    sdk::LogLevel level;
    std::string text;
  };
  std::vector<Line> logs;
  std::map<std::string, std::vector<std::string>> options;
  std::set<std::string> runtimes{""};  // names runtime_available() knows ("" = default)
  std::vector<std::unique_ptr<FakeStream>> streams;  // opened or made, in order
  std::deque<std::function<void()>> posted;
  std::uint64_t now = 0;
  trellis_worker_identity identity{sizeof(trellis_worker_identity), 1, 1234, 1, 1, 1};

  bool logged(std::string_view text) const {
    for (auto& l : logs)
      if (l.text.find(text) != std::string::npos) return true;
    return false;
  }
  void run_posted() {
    while (!posted.empty()) {
      auto f = std::move(posted.front());
      posted.pop_front();
      f();
    }
  }

 private:
  static FakeHost* of(trellis_host* h) { return reinterpret_cast<FakeHost*>(h); }
  static FakeConnection* of(trellis_conn* c) { return reinterpret_cast<FakeConnection*>(c); }
  static FakeStream* of(trellis_stream* s) { return reinterpret_cast<FakeStream*>(s); }
  static std::string str(trellis_str s) { return s.len ? std::string(s.ptr, s.len) : std::string(); }
  static std::vector<OwnedField> fields(const trellis_field* f, std::size_t n) {
    std::vector<OwnedField> out;
    for (std::size_t i = 0; i < n; ++i) out.push_back({str(f[i].name), str(f[i].value)});
    return out;
  }
  static trellis_status write_chunks(FakeConnection& c, const trellis_chunk* chunks, std::size_t n) {
    ++c.writes;
    if (c.fail_writes || c.ended) return TRELLIS_CLOSED;
    for (std::size_t i = 0; i < n; ++i) {
      if (chunks[i].kind == TRELLIS_CHUNK_FILE) {
        ++c.files;
        std::string buf(chunks[i].len, '\0');
        ssize_t r = ::pread(chunks[i].fd, buf.data(), buf.size(), chunks[i].offset);
        if (r != static_cast<ssize_t>(buf.size())) return TRELLIS_IO_ERROR;
        c.wire += buf;
      } else {
        c.wire.append(chunks[i].data, chunks[i].len);
      }
    }
    return TRELLIS_OK;
  }
  // Runtime-side data into the recording (no sink) or through the sink.
  static std::string flatten(const trellis_chunk* chunks, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
      if (chunks[i].kind == TRELLIS_CHUNK_FILE) {
        std::string buf(chunks[i].len, '\0');
        ssize_t r = ::pread(chunks[i].fd, buf.data(), buf.size(), chunks[i].offset);
        if (r > 0) out.append(buf.data(), static_cast<std::size_t>(r));
      } else {
        out.append(chunks[i].data, chunks[i].len);
      }
    }
    return out;
  }

  static trellis_host_api make_api() {
    trellis_host_api a{};
    a.size = sizeof a;
    a.abi_minor = TRELLIS_ABI_MINOR;
    a.log = [](trellis_host* h, int32_t level, trellis_str m) {
      of(h)->logs.push_back({static_cast<sdk::LogLevel>(level), str(m)});
    };
    a.option_values = [](trellis_host* h, trellis_str name, trellis_str* out, size_t max) -> size_t {
      auto it = of(h)->options.find(str(name));
      if (it == of(h)->options.end()) return 0;
      for (size_t i = 0; i < it->second.size() && i < max; ++i) out[i] = {it->second[i].data(), it->second[i].size()};
      return it->second.size();
    };
    a.shared_memory = [](trellis_host*, size_t) -> void* { return nullptr; };
    a.worker = [](trellis_host* h, trellis_worker_identity* out) {
      std::uint32_t keep = out->size;
      std::memcpy(out, &of(h)->identity, std::min<std::size_t>(keep, sizeof(trellis_worker_identity)));
      out->size = keep;
    };
    a.runtime_available = [](trellis_host* h, trellis_str name) -> int { return of(h)->runtimes.count(str(name)) ? 1 : 0; };
    a.post = [](trellis_host* h, void (*fn)(void*), void* arg) -> trellis_status {
      of(h)->posted.push_back([fn, arg] { fn(arg); });
      return TRELLIS_OK;
    };
    a.timer_start = [](trellis_host*, uint64_t, void (*)(void*), void*) -> trellis_timer* { return nullptr; };
    a.timer_cancel = [](trellis_host*, trellis_timer*) {};
    a.watch_fd = [](trellis_host*, int, uint32_t, void (*)(void*, uint32_t), void*) -> trellis_watch* { return nullptr; };
    a.watch_modify = [](trellis_host*, trellis_watch*, uint32_t) -> trellis_status { return TRELLIS_OK; };
    a.watch_close = [](trellis_host*, trellis_watch*) {};
    a.now_ms = [](trellis_host* h) -> uint64_t { return of(h)->now; };
    a.on_loop_thread = [](trellis_host*) -> int { return 1; };

    a.conn_write = [](trellis_conn* c, const trellis_chunk* chunks, size_t n) { return write_chunks(*of(c), chunks, n); };
    a.conn_write_last = [](trellis_conn* c, const trellis_chunk* chunks, size_t n) {
      trellis_status st = write_chunks(*of(c), chunks, n);
      if (st == TRELLIS_OK) {
        of(c)->ended = true;
        of(c)->ended_at = of(c)->wire.size();
      }
      return st;
    };
    a.conn_queued = [](trellis_conn* c) -> size_t { return of(c)->queued; };
    a.conn_pause_reading = [](trellis_conn* c, int paused) { of(c)->paused = paused != 0; };
    a.conn_close = [](trellis_conn* c, uint32_t how) {
      of(c)->closes++;
      of(c)->close_mode = how;
    };
    a.conn_info = [](trellis_conn* c) -> const trellis_conn_info* { return &of(c)->info; };
    a.conn_refused = [](trellis_conn* c, int32_t status) { of(c)->refusals.push_back(status); };

    a.stream_open = [](trellis_conn* c, const trellis_request_head* h, const trellis_stream_sink* sink,
                       void* self) -> trellis_stream* {
      FakeHost* host = of(c)->host;
      if (!host->runtimes.count(str(h->runtime))) return nullptr;
      host->streams.push_back(std::make_unique<FakeStream>());
      FakeStream& s = *host->streams.back();
      s.host = host;
      s.conn = of(c);
      s.head.flags = h->flags;
      s.head.method = str(h->method);
      s.head.uri = str(h->uri);
      s.head.path = str(h->path);
      s.head.query = str(h->query);
      s.head.protocol = str(h->protocol);
      s.head.scheme = str(h->scheme);
      s.head.server_name = str(h->server_name);
      s.head.server_port = str(h->server_port);
      s.head.remote_addr = str(h->remote_addr);
      s.head.remote_port = str(h->remote_port);
      s.head.runtime = str(h->runtime);
      s.head.upgrade = str(h->upgrade);
      s.head.headers = fields(h->headers, h->header_count);
      s.head.variables = fields(h->variables, h->variable_count);
      s.head.content_length = h->content_length;
      s.rebuild_c_head();
      s.sink = sink;
      s.sink_self = self;
      return reinterpret_cast<trellis_stream*>(&s);
    };
    a.stream_body = [](trellis_stream* st, const char* d, size_t n) -> trellis_status {
      if (of(st)->body_result != TRELLIS_OK && of(st)->body_result != TRELLIS_AGAIN) return of(st)->body_result;
      of(st)->body.append(d, n);
      return of(st)->body_result;
    };
    a.stream_body_end = [](trellis_stream* st, const trellis_field* t, size_t n) -> trellis_status {
      of(st)->body_ended = true;
      of(st)->trailers = fields(t, n);
      return TRELLIS_OK;
    };
    a.stream_message = [](trellis_stream* st, uint32_t flags, const char* d, size_t n) -> trellis_status {
      of(st)->messages.emplace_back(flags, std::string(d, n));
      return TRELLIS_OK;
    };
    a.stream_reset = [](trellis_stream* st, trellis_status why) {
      of(st)->reset = true;
      of(st)->reset_why = why;
      of(st)->sink = nullptr;
    };
    a.stream_close = [](trellis_stream* st, const trellis_response_summary* s) {
      of(st)->closed = true;
      if (s) of(st)->summary = *s;
      of(st)->sink = nullptr;
    };

    a.stream_head = [](trellis_stream* st) -> const trellis_request_head* { return &of(st)->c_head; };
    a.stream_conn_info = [](trellis_stream* st) -> const trellis_conn_info* { return &of(st)->conn->info; };
    a.stream_read = [](trellis_stream* st, char* buf, size_t size, size_t* got) -> trellis_status {
      FakeStream& s = *of(st);
      if (!s.body_wanted) {
        s.body_wanted = true;
        if (s.sink && s.sink->on_body_wanted) s.sink->on_body_wanted(s.sink_self);
      }
      if (s.reset) return TRELLIS_CLOSED;
      std::size_t n = std::min(size, s.body.size() - s.read_pos);
      std::memcpy(buf, s.body.data() + s.read_pos, n);
      s.read_pos += n;
      *got = n;
      if (n == 0 && !s.body_ended) return TRELLIS_TIMED_OUT;  // nothing will come: no loop here
      return TRELLIS_OK;
    };
    a.stream_consume = [](trellis_stream*, size_t) {};
    a.stream_want_body = [](trellis_stream* st) {
      FakeStream& s = *of(st);
      if (s.body_wanted) return;
      s.body_wanted = true;
      if (s.sink && s.sink->on_body_wanted) s.sink->on_body_wanted(s.sink_self);
    };
    a.stream_start = [](trellis_stream* st, const trellis_response_head* h) -> trellis_status {
      FakeStream& s = *of(st);
      if (s.reset || s.closed) return TRELLIS_CLOSED;
      if (s.head_sent) return TRELLIS_UNSUPPORTED;
      if (s.host->check_head) {
        trellis_status c = s.host->check_head(h);
        if (c != TRELLIS_OK) return c;
      }
      s.status = str(h->status);
      s.response_headers = fields(h->headers, h->header_count);
      if (s.sink) return s.sink->on_start(s.sink_self, h);
      return TRELLIS_OK;
    };
    a.stream_write = [](trellis_stream* st, const trellis_chunk* c, size_t n, int last) -> trellis_status {
      FakeStream& s = *of(st);
      if (s.reset || s.closed || s.aborted) return TRELLIS_CLOSED;
      s.head_sent = true;
      s.last_seen = s.last_seen || last;
      s.response_body += flatten(c, n);
      if (s.sink) return s.sink->on_data(s.sink_self, c, n, last);
      return TRELLIS_OK;
    };
    a.stream_wait_writable = [](trellis_stream* st) -> trellis_status {
      return of(st)->reset ? TRELLIS_CLOSED : TRELLIS_OK;
    };
    a.stream_finish = [](trellis_stream* st, const trellis_field* t, size_t n) -> trellis_status {
      FakeStream& s = *of(st);
      if (s.reset || s.closed || s.aborted) return TRELLIS_CLOSED;
      s.head_sent = true;
      s.finished = true;
      s.response_trailers = fields(t, n);
      if (s.sink) return s.sink->on_finish(s.sink_self, t, n);
      return TRELLIS_OK;
    };
    a.stream_abort = [](trellis_stream* st) {
      FakeStream& s = *of(st);
      s.aborted = true;
      if (s.sink) s.sink->on_abort(s.sink_self);
    };
    a.stream_head_sent = [](trellis_stream* st) -> int { return of(st)->head_sent ? 1 : 0; };
    a.stream_upgrade = [](trellis_stream* st) -> trellis_status {
      FakeStream& s = *of(st);
      if (!s.sink || !s.sink->on_upgrade) return TRELLIS_UNSUPPORTED;
      return s.sink->on_upgrade(s.sink_self);
    };
    a.stream_send_message = [](trellis_stream* st, uint32_t flags, const trellis_chunk* c, size_t n) -> trellis_status {
      FakeStream& s = *of(st);
      if (!s.sink || !s.sink->on_message) return TRELLIS_UNSUPPORTED;
      return s.sink->on_message(s.sink_self, flags, c, n);
    };
    a.stream_done = [](trellis_stream* st) { of(st)->done = true; };
    a.stream_gone = [](trellis_stream* st) -> int { return of(st)->reset ? 1 : 0; };
    return a;
  }

  trellis_host_api api_{};
  sdk::Host handle_;
  std::vector<std::unique_ptr<FakeConnection>> conns_;
};

inline void FakeStream::rebuild_c_head() {
  auto s = [](const std::string& v) { return trellis_str{v.data(), v.size()}; };
  c_headers.clear();
  for (auto& f : head.headers) c_headers.push_back({s(f.name), s(f.value)});
  c_variables.clear();
  for (auto& f : head.variables) c_variables.push_back({s(f.name), s(f.value)});
  c_head = {};
  c_head.size = sizeof c_head;
  c_head.flags = head.flags;
  c_head.method = s(head.method);
  c_head.uri = s(head.uri);
  c_head.path = s(head.path);
  c_head.query = s(head.query);
  c_head.protocol = s(head.protocol);
  c_head.scheme = s(head.scheme);
  c_head.server_name = s(head.server_name);
  c_head.server_port = s(head.server_port);
  c_head.remote_addr = s(head.remote_addr);
  c_head.remote_port = s(head.remote_port);
  c_head.headers = c_headers.data();
  c_head.header_count = c_headers.size();
  c_head.variables = c_variables.data();
  c_head.variable_count = c_variables.size();
  c_head.content_length = head.content_length;
  c_head.runtime = s(head.runtime);
  c_head.upgrade = s(head.upgrade);
}

}  // namespace trellis::test
