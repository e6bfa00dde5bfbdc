// Drives the real python_plugin.so the way the SDK 2 core does: dlopen, the
// exported descriptor, its C tables (abi.h), and fake_host.hpp's FakeHost as
// the core. A request is a FakeStream made from a TestRequest; a recording
// sink on it keeps every response call the protocol would have received.
#pragma once

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <trellis/abi.h>
#include <trellis/host.hpp>
#include <trellis/status.hpp>

#include "fake_host.hpp"

namespace trellis::test {

using sdk::Status;

// ---------------------------------------------------------------- logs

inline std::mutex& log_mutex() {
  static std::mutex m;
  return m;
}
inline bool logged(const FakeHost& h, std::string_view needle, sdk::LogLevel level) {
  std::lock_guard lock(log_mutex());
  return std::any_of(h.logs.begin(), h.logs.end(),
                     [&](auto& l) { return l.level == level && l.text.find(needle) != std::string::npos; });
}
inline bool logged(const FakeHost& h, std::string_view needle) {
  std::lock_guard lock(log_mutex());
  return h.logged(needle);
}
inline std::size_t log_count(const FakeHost& h) {
  std::lock_guard lock(log_mutex());
  return h.logs.size();
}
// Every line from `from` on, each ended by "\n".
inline std::string logs_since(const FakeHost& h, std::size_t from) {
  std::lock_guard lock(log_mutex());
  std::string out;
  for (std::size_t i = from; i < h.logs.size(); ++i) out += h.logs[i].text + "\n";
  return out;
}
inline std::string all_logs(const FakeHost& h) { return logs_since(h, 0); }

// ---------------------------------------------------------------- the core

// The largest body read the core gives on this thread (a slow socket gives
// a few bytes at a time). on_request runs on the caller's thread, so a
// thread_local reaches the plugin's reads of the request being served.
inline thread_local std::size_t t_read_chunk = std::numeric_limits<std::size_t>::max();

// FakeHost's table (any FakeHost's: they share their functions).
inline const trellis_host_api*& fake_table() {
  static const trellis_host_api* t = nullptr;
  return t;
}

// What a protocol's check_head refuses in a response head: a field that
// could break the framing (CR, LF or NUL; a colon or nothing in a name).
inline trellis_status check_head_like_a_protocol(const trellis_response_head* h) {
  auto bad = [](trellis_str s, std::string_view chars) {
    return std::string_view(s.ptr ? s.ptr : "", s.len).find_first_of(chars) != std::string_view::npos;
  };
  using namespace std::string_view_literals;
  for (std::size_t i = 0; i < h->header_count; ++i) {
    const trellis_field& f = h->headers[i];
    if (f.name.len == 0 || bad(f.name, "\r\n:\0"sv) || bad(f.value, "\r\n\0"sv)) return TRELLIS_INVALID_ARGUMENT;
  }
  return TRELLIS_OK;
}

// The core the plugin is created with: a FakeHost, whose table is wrapped
// so that body reads are at most t_read_chunk bytes and logging may come
// from several application threads at once.
struct TestCore {
  FakeHost* fake = new FakeHost;  // never freed, like the plugin it serves
  trellis_host_api* api = nullptr;

  TestCore() {
    fake_table() = fake->api();
    api = new trellis_host_api(*fake->api());
    api->log = [](trellis_host* h, int32_t level, trellis_str m) {
      std::lock_guard lock(log_mutex());
      fake_table()->log(h, level, m);
    };
    api->stream_read = [](trellis_stream* s, char* buf, size_t size, size_t* got) {
      return fake_table()->stream_read(s, buf, std::min(size, t_read_chunk), got);
    };
    fake->check_head = check_head_like_a_protocol;
  }
  TestCore(const TestCore&) = delete;
  TestCore& operator=(const TestCore&) = delete;

  void set(const std::string& name, const std::string& value) { fake->options[name] = {value}; }
  trellis_host* host() const { return fake->host().raw(); }
};

// ---------------------------------------------------------------- the plugin

inline Status status_of(trellis_status s) { return sdk::from_c(s); }

// One instance of the plugin, through its C tables as the core calls them.
class Plugin {
 public:
  Plugin(const trellis_plugin_table* table, void* self) : table_(table), self_(self) {
    runtime_ = table_->runtime ? table_->runtime(self_, &runtime_self_) : nullptr;
  }

  Status on_config() { return status_of(table_->on_config(self_)); }
  Status before_fork() { return status_of(table_->before_fork(self_)); }
  Status after_fork_parent() { return status_of(table_->after_fork_parent(self_)); }
  Status after_fork_child(const sdk::WorkerIdentity& w) {
    trellis_worker_identity id{};
    id.size = sizeof id;
    id.id = w.id;
    id.pid = w.pid;
    id.threads = w.threads;
    id.processes = w.processes;
    id.generation = w.generation;
    return status_of(table_->after_fork_child(self_, &id));
  }
  void worker_shutdown() { table_->worker_shutdown(self_); }

  const trellis_plugin_table* table() const { return table_; }
  void* self() const { return self_; }
  const trellis_runtime_table* runtime() const { return runtime_; }

  // The runtime's side.
  Status load_application() { return status_of(rt().load_application(runtime_self_)); }
  Status thread_start(int thread = 0) { return status_of(rt().thread_start(runtime_self_, thread)); }
  void thread_stop(int thread = 0) { rt().thread_stop(runtime_self_, thread); }
  Status on_request(trellis_stream* stream, int thread = 0) {
    return status_of(rt().on_request(runtime_self_, stream, thread));
  }

 private:
  const trellis_runtime_table& rt() const {
    if (!runtime_) throw std::runtime_error("the plugin has no runtime");
    return *runtime_;
  }

  const trellis_plugin_table* table_;
  void* self_;
  const trellis_runtime_table* runtime_ = nullptr;
  void* runtime_self_ = nullptr;
};

// The real plugin, opened like the core opens it (RTLD_LOCAL) and never
// closed (plugins are never unloaded). Unlike tests/plugins/loaded_plugin.hpp,
// whose host has no streams, it creates instances on a TestCore.
class PluginLibrary {
 public:
  explicit PluginLibrary(const std::string& path) {
    void* lib = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib) throw std::runtime_error(std::string("dlopen: ") + ::dlerror());
    auto entry = reinterpret_cast<trellis_plugin_entry_fn>(::dlsym(lib, TRELLIS_ENTRY_SYMBOL));
    if (!entry) throw std::runtime_error("no " TRELLIS_ENTRY_SYMBOL " in " + path);
    descriptor = entry();
    if (!descriptor || descriptor->magic != TRELLIS_DESCRIPTOR_MAGIC) throw std::runtime_error("bad descriptor");
  }
  // nullptr when create() failed (it logged why through the core).
  Plugin* create(TestCore& core) const { return create(core.api, core.host()); }
  Plugin* create(const trellis_host_api* api, trellis_host* host) const {
    trellis_plugin_instance out{};
    out.size = sizeof out;
    if (descriptor->create(api, host, &out) != TRELLIS_OK || !out.table) return nullptr;
    return new Plugin(out.table, out.self);  // never freed, like the plugin
  }
  const trellis_plugin_descriptor* descriptor = nullptr;
};

// ---------------------------------------------------------------- requests

// A request with owning storage for every view.
struct TestRequest {
  std::string method = "GET", uri, path, query, protocol = "HTTP/1.1", scheme = "http";
  std::string server_name = "localhost", server_port = "8080";
  // The connection's peer, as the core reports it.
  std::string remote_addr = "127.0.0.1", remote_port = "50000";
  // The client as the protocol knows it better (uwsgi's REMOTE_ADDR, a
  // proxy protocol): head.remote_addr/port; empty: the connection's peer.
  std::string client_addr, client_port;
  std::vector<std::pair<std::string, std::string>> headers;
  // What a front end sent ready-made (uwsgi's vars block): head.variables.
  std::vector<std::pair<std::string, std::string>> variables;
  std::string body;
  bool chunked = false;
  bool body_terminated = true;  // TRELLIS_REQUEST_BODY_TERMINATED
  bool body_complete = true;    // false: the rest never comes (reads time out)
  std::optional<std::int64_t> content_length;  // else the body's size, -1 chunked
  std::size_t max_chunk = 3;                   // the most one read gives

  static TestRequest get(std::string path, std::string query = "") {
    TestRequest r;
    r.path = std::move(path);
    r.query = std::move(query);
    r.uri = r.path + (r.query.empty() ? "" : "?" + r.query);
    return r;
  }
  static TestRequest post(std::string path, std::string body, std::string query = "") {
    TestRequest r = get(std::move(path), std::move(query));
    r.method = "POST";
    r.body = std::move(body);
    return r;
  }
};

// The head the core would have copied from the protocol.
inline OwnedHead head_of(const TestRequest& t) {
  OwnedHead h;
  h.flags = t.body_terminated ? static_cast<std::uint32_t>(TRELLIS_REQUEST_BODY_TERMINATED) : 0u;
  h.method = t.method;
  h.uri = t.uri;
  h.path = t.path;
  h.query = t.query;
  h.protocol = t.protocol;
  h.scheme = t.scheme;
  h.server_name = t.server_name;
  h.server_port = t.server_port;
  h.remote_addr = t.client_addr;
  h.remote_port = t.client_port;
  bool has_length = false;
  for (auto& [n, v] : t.headers) {
    h.headers.push_back({n, v});
    has_length |= (n == "Content-Length");
  }
  if (!t.chunked && !t.body.empty() && !has_length)
    h.headers.push_back({"Content-Length", std::to_string(t.body.size())});
  if (t.chunked) h.headers.push_back({"Transfer-Encoding", "chunked"});
  for (auto& [n, v] : t.variables) h.variables.push_back({n, v});
  h.content_length = t.content_length ? *t.content_length : t.chunked ? -1 : static_cast<std::int64_t>(t.body.size());
  return h;
}

// ---------------------------------------------------------------- responses

struct Write {
  std::string data;
  bool last;
};
struct FileWrite {
  std::int64_t offset;
  std::size_t count;
  bool last;
};

// The protocol's side of a stream: a sink recording every call the core
// passes on. `fail_after_writes` >= 0: the client leaves after that many
// writes (later ones fail with CLOSED, and so does the stream).
class Recorder {
 public:
  Recorder(FakeStream& s, int fail_after_writes) : stream_(s), fail_after_(fail_after_writes) {}

  static const trellis_stream_sink* table() {
    static const trellis_stream_sink sink = [] {
      trellis_stream_sink t{};
      t.size = sizeof t;
      t.on_start = [](void* self, const trellis_response_head*) -> trellis_status {
        ++of(self)->starts;
        return TRELLIS_OK;
      };
      t.on_data = [](void* self, const trellis_chunk* chunks, size_t n, int last) {
        return of(self)->data(chunks, n, last != 0);
      };
      t.on_finish = [](void* self, const trellis_field*, size_t) -> trellis_status {
        ++of(self)->finishes;
        return TRELLIS_OK;
      };
      t.on_abort = [](void* self) { ++of(self)->aborts; };
      return t;
    }();
    return &sink;
  }

  std::vector<Write> writes;     // byte chunks, one per write
  std::vector<FileWrite> files;  // file chunks
  int starts = 0, finishes = 0, aborts = 0;

 private:
  static Recorder* of(void* self) { return static_cast<Recorder*>(self); }
  trellis_status data(const trellis_chunk* chunks, std::size_t n, bool last) {
    if (fail_after_ >= 0 && static_cast<int>(writes.size() + files.size()) >= fail_after_) {
      stream_.reset = true;  // the peer is gone: the core fails every later call
      stream_.reset_why = TRELLIS_CLOSED;
      return TRELLIS_CLOSED;
    }
    for (std::size_t i = 0; i < n; ++i) {
      if (chunks[i].kind == TRELLIS_CHUNK_FILE)
        files.push_back({chunks[i].offset, chunks[i].len, last});
      else
        writes.push_back({std::string(chunks[i].data, chunks[i].len), last});
    }
    return TRELLIS_OK;
  }

  FakeStream& stream_;
  int fail_after_;
};

// What one request got back: the FakeStream's record plus the sink's calls.
struct Response {
  std::string status;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // bytes and file ranges, in order
  std::vector<Write> writes;
  std::vector<FileWrite> files;
  int starts = 0, finishes = 0;
  bool finished = false, aborted = false, head_sent = false, body_wanted = false;

  std::string header(std::string_view name) const {
    for (auto& [n, v] : headers)
      if (n == name) return v;
    return {};
  }
};

struct Result {
  Status status = Status::internal_error;
  Response response;
};

// One request through the plugin, in three steps so a test can change the
// conditions around the plugin's part only (run()).
class Exchange {
 public:
  Exchange(TestCore& core, const TestRequest& t, int fail_after_writes = -1)
      : core_(core), t_(t), stream_(make(core, t)), recorder_(stream_, fail_after_writes) {
    stream_.sink = Recorder::table();
    stream_.sink_self = &recorder_;
    // The connection's peer, as the core reports it (REMOTE_ADDR/PORT).
    stream_.conn->info.remote_addr = {t_.remote_addr.data(), t_.remote_addr.size()};
    stream_.conn->info.remote_port = {t_.remote_port.data(), t_.remote_port.size()};
  }
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;
  ~Exchange() {
    stream_.sink = nullptr;  // the recorder and the request's strings go
    stream_.conn->info.remote_addr = {"", 0};
    stream_.conn->info.remote_port = {"", 0};
  }

  FakeStream& stream() { return stream_; }
  trellis_stream* raw() { return core_.fake->runtime_handle(stream_).raw(); }

  Status run(Plugin& p, int thread = 0) {
    std::size_t saved = t_read_chunk;
    t_read_chunk = t_.max_chunk;
    Status st = p.on_request(raw(), thread);
    t_read_chunk = saved;
    return st;
  }

  Response response() const {
    Response r;
    r.status = stream_.status;
    for (auto& f : stream_.response_headers) r.headers.emplace_back(f.name, f.value);
    r.body = stream_.response_body;
    r.writes = recorder_.writes;
    r.files = recorder_.files;
    r.starts = recorder_.starts;
    r.finishes = recorder_.finishes;
    r.finished = stream_.finished;
    r.aborted = stream_.aborted;
    r.head_sent = stream_.head_sent;
    r.body_wanted = stream_.body_wanted;
    return r;
  }

 private:
  // FakeHost's stream list is not thread-safe; requests may come from
  // several application threads at once.
  static FakeStream& make(TestCore& core, const TestRequest& t) {
    static std::mutex m;
    std::lock_guard lock(m);
    return core.fake->make_stream(head_of(t), t.body, t.body_complete);
  }

  TestCore& core_;
  const TestRequest t_;  // a copy: the conn info points into its strings
  FakeStream& stream_;
  Recorder recorder_;
};

inline Result call(TestCore& core, Plugin& p, const TestRequest& t, int fail_after_writes = -1, int thread = 0) {
  Exchange x(core, t, fail_after_writes);
  Result r;
  r.status = x.run(p, thread);
  r.response = x.response();
  return r;
}

}  // namespace trellis::test
