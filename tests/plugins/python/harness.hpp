// Drives the real python_plugin.so the way the core does: dlopen through
// Boost.DLL, a fake Host, and fake Request/BodyReader/ResponseWriter that
// record everything the plugin does.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <boost/dll/shared_library.hpp>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <trellis/plugin.hpp>

namespace trellis::test {

using sdk::Status;

class FakeHost final : public sdk::Host {
 public:
  std::map<std::string, std::vector<std::string>, std::less<>> options;

  void set(const std::string& name, const std::string& value) { options[name] = {value}; }

  void log(sdk::LogLevel level, std::string_view message) noexcept override {
    std::lock_guard lock(mu_);
    logs_.push_back({level, std::string(message)});
  }
  std::span<const std::string> option_values(std::string_view name) const noexcept override {
    auto it = options.find(name);
    if (it == options.end()) return {};
    return it->second;
  }
  void* shared_memory(std::size_t) noexcept override { return nullptr; }
  sdk::WorkerIdentity worker() const noexcept override { return {}; }
  bool runtime_available(std::uint8_t m) const noexcept override { return m == 0; }

  std::string all_logs() const {
    std::lock_guard lock(mu_);
    std::string out;
    for (auto& [level, text] : logs_) out += text + "\n";
    return out;
  }
  bool logged(std::string_view needle, sdk::LogLevel level) const {
    std::lock_guard lock(mu_);
    return std::any_of(logs_.begin(), logs_.end(), [&](auto& e) {
      return e.first == level && e.second.find(needle) != std::string::npos;
    });
  }
  bool logged(std::string_view needle) const {
    std::lock_guard lock(mu_);
    return std::any_of(logs_.begin(), logs_.end(),
                       [&](auto& e) { return e.second.find(needle) != std::string::npos; });
  }
  std::size_t log_count() const {
    std::lock_guard lock(mu_);
    return logs_.size();
  }
  std::vector<std::string> logs_since(std::size_t from) const {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (std::size_t i = from; i < logs_.size(); ++i) out.push_back(logs_[i].second);
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::pair<sdk::LogLevel, std::string>> logs_;
};

// Serves `data`, at most `max_chunk` bytes per read like a slow socket.
class FakeBody final : public sdk::BodyReader {
 public:
  explicit FakeBody(std::string data, std::size_t max_chunk = 3) : data_(std::move(data)), max_(max_chunk) {}
  Status read(char* buf, std::size_t size, std::size_t& got) noexcept override {
    ++calls;
    got = std::min({size, max_, data_.size() - pos_});
    std::copy_n(data_.data() + pos_, got, buf);
    pos_ += got;
    return Status::ok;
  }
  int calls = 0;

 private:
  std::string data_;
  std::size_t max_;
  std::size_t pos_ = 0;
};

struct Write {
  std::string data;
  bool last;
};

// Records the response. Validates like a protocol would: CR/LF in a header
// is invalid_argument; once headers are out start() is unsupported.
class FakeWriter final : public sdk::ResponseWriter {
 public:
  int fail_after_writes = -1;  // >= 0: writes after that many return closed

  Status start(std::string_view status, std::span<const sdk::Field> headers) noexcept override {
    ++starts;
    if (sent_) return Status::unsupported;
    for (auto& f : headers)
      if (f.name.find_first_of("\r\n:") != std::string_view::npos ||
          f.value.find_first_of("\r\n") != std::string_view::npos)
        return Status::invalid_argument;
    this->status = std::string(status);
    this->headers.clear();
    for (auto& f : headers) this->headers.emplace_back(std::string(f.name), std::string(f.value));
    return Status::ok;
  }
  Status write(std::string_view data, bool last) noexcept override {
    if (fail_after_writes >= 0 && static_cast<int>(writes.size()) >= fail_after_writes) return Status::closed;
    if (!data.empty()) sent_ = true;
    writes.push_back({std::string(data), last});
    body += data;
    return Status::ok;
  }
  Status send_file(int fd, std::int64_t offset, std::int64_t count) noexcept override {
    sent_ = true;
    sendfile_calls.push_back({offset, count});
    std::string buf(static_cast<std::size_t>(count < 0 ? 1 << 20 : count), '\0');
    ssize_t n = ::pread(fd, buf.data(), buf.size(), offset);
    if (n < 0) return Status::io_error;
    buf.resize(static_cast<std::size_t>(n));
    body += buf;
    return Status::ok;
  }
  Status finish() noexcept override {
    ++finishes;
    sent_ = true;
    return Status::ok;
  }
  void abort() noexcept override { aborted = true; }
  bool headers_sent() const noexcept override { return sent_; }

  std::string header(std::string_view name) const {
    for (auto& [n, v] : headers)
      if (n == name) return v;
    return {};
  }
  int status_code() const { return status.size() >= 3 ? std::stoi(status.substr(0, 3)) : 0; }

  std::string status;
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<Write> writes;
  std::vector<std::pair<std::int64_t, std::int64_t>> sendfile_calls;
  std::string body;
  int starts = 0;
  int finishes = 0;
  bool aborted = false;

 private:
  bool sent_ = false;
};

// A request with owning storage for every view.
struct TestRequest {
  std::string method = "GET", uri, path, query, protocol = "HTTP/1.1", scheme = "http";
  std::string remote_addr = "127.0.0.1", remote_port = "50000", server_name = "localhost", server_port = "8080";
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::pair<std::string, std::string>> cgi_vars;
  std::string body;
  bool chunked = false;
  std::size_t max_chunk = 3;

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

// Owns what a Request points into for the length of a call.
struct BuiltRequest {
  explicit BuiltRequest(const TestRequest& t) : body(t.body, t.max_chunk) {
    for (auto& [n, v] : t.headers) headers.push_back({n, v});
    bool has_length = false;
    for (auto& [n, v] : t.headers) has_length |= (n == "Content-Length");
    if (!t.chunked && !t.body.empty() && !has_length) {
      length_text = std::to_string(t.body.size());
      headers.push_back({"Content-Length", length_text});
    }
    if (t.chunked) headers.push_back({"Transfer-Encoding", "chunked"});
    for (auto& [n, v] : t.cgi_vars) cgi.push_back({n, v});
    req.method = t.method;
    req.uri = t.uri;
    req.path = t.path;
    req.query = t.query;
    req.protocol = t.protocol;
    req.scheme = t.scheme;
    req.remote_addr = t.remote_addr;
    req.remote_port = t.remote_port;
    req.server_name = t.server_name;
    req.server_port = t.server_port;
    req.headers = headers;
    req.cgi_vars = cgi;
    req.content_length = t.chunked ? -1 : static_cast<std::int64_t>(t.body.size());
    req.body_terminated = true;
    req.body = &body;
  }
  BuiltRequest(const BuiltRequest&) = delete;
  std::string length_text;
  std::vector<sdk::Field> headers, cgi;
  FakeBody body;
  sdk::Request req;
};

// The real plugin, loaded like the core loads it (RTLD_LOCAL by default).
class LoadedPlugin {
 public:
  explicit LoadedPlugin(const std::string& path) : lib_(path) {
    auto entry = lib_.get_alias<const trellis_plugin_descriptor*()>(TRELLIS_ENTRY_SYMBOL);
    descriptor = entry();
    if (!descriptor || descriptor->magic != TRELLIS_DESCRIPTOR_MAGIC) throw std::runtime_error("bad descriptor");
  }
  // The plugin is never freed (as in the core), so neither is the host.
  sdk::Plugin* create(FakeHost& host) const { return static_cast<sdk::Plugin*>(descriptor->create(&host)); }
  const trellis_plugin_descriptor* descriptor = nullptr;

 private:
  boost::dll::shared_library lib_;
};

struct Result {
  Status status;
  FakeWriter writer;
};

inline Result call(sdk::Runtime& rt, const TestRequest& t, int fail_after_writes = -1) {
  BuiltRequest built(t);
  Result r;
  r.writer.fail_after_writes = fail_after_writes;
  r.status = rt.handle(built.req, r.writer);
  return r;
}

}  // namespace trellis::test
