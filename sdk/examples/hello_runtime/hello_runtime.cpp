// hello_runtime: the smallest useful trellis runtime. It answers every
// request from C++ with a greeting and the request path:
//
//   $ curl http://127.0.0.1:8080/some/where
//   Hello from C++ (/some/where)
//
// The greeting is an option the plugin declares as data; the core parses it
// with everything else (--hello-greeting TEXT, hello-greeting = TEXT in an
// ini file, TRELLIS_HELLO_GREETING=TEXT).
#include <trellis/plugin.hpp>

#include <string>
#include <string_view>

namespace {

using trellis::sdk::Field;
using trellis::sdk::Host;
using trellis::sdk::LogLevel;
using trellis::sdk::Request;
using trellis::sdk::Status;
using trellis::sdk::Stream;

class HelloRuntime final : public trellis::sdk::Plugin, public trellis::sdk::Runtime {
 public:
  explicit HelloRuntime(Host host) : host_(host) {}

  // -- Plugin ---------------------------------------------------------------
  // In the master, before any socket is bound: check options, nothing else.
  Status on_config() noexcept override {
    if (host_.option("hello-greeting").value_or("").empty()) {
      host_.log(LogLevel::error, "--hello-greeting must not be empty");
      return Status::invalid_argument;
    }
    return Status::ok;
  }

  Runtime* runtime() noexcept override { return this; }

  // -- Runtime --------------------------------------------------------------
  // In each worker (or the preload loader process), never in the master.
  Status load_application() noexcept override {
    try {
      greeting_ = std::string(host_.option("hello-greeting").value_or("Hello from C++"));
    } catch (...) {  // std::bad_alloc: nothing may cross the boundary
      return Status::internal_error;
    }
    // The host prefixes every line with "[hello_runtime]".
    if (host_.worker().id == 0)
      host_.log(LogLevel::info, "loaded in the loader process; the workers it forks inherit it");
    else
      host_.logf(LogLevel::info, "loaded in worker %d", host_.worker().id);
    return Status::ok;
  }

  // A blocking runtime (the default): called concurrently from every
  // application thread (the loop thread with --threads 1), and the request
  // is done when this returns. greeting_ is only read here, so no lock is
  // needed. The request's views are valid until this returns.
  Status on_request(Stream stream, int /*thread*/) noexcept override {
    try {
      Request request = stream.request();
      std::string body = greeting_ + " (" + std::string(request.path) + ")\n";
      std::string length = std::to_string(body.size());
      const Field headers[] = {{"Content-Type", "text/plain; charset=utf-8"}, {"Content-Length", length}};
      if (stream.start("200 OK", headers) != Status::ok) return fail(stream);
      // A failed write means the client went away: not the application's fault.
      if (stream.write_blocking(body, /*last=*/true) != Status::ok) return Status::ok;
      stream.finish();
      return Status::ok;
    } catch (...) {  // std::bad_alloc
      return fail(stream);
    }
  }

 private:
  // A runtime always deals with the response: a 500 while nothing was sent,
  // else a cut connection, so a broken answer never looks complete.
  static Status fail(Stream stream) noexcept {
    if (stream.head_sent()) {
      stream.abort();
    } else if (stream.start("500 Internal Server Error", {}) == Status::ok) {
      stream.finish();
    }
    return Status::app_error;
  }

  Host host_;  // a handle: two pointers into the core, valid for the process's life
  std::string greeting_;
};

const trellis_option_spec kOptions[] = {
    {"hello-greeting", nullptr, 0, TRELLIS_OPT_STRING, "Hello from C++", "TEXT",
     "what hello_runtime answers, followed by the request path"},
};

}  // namespace

TRELLIS_PLUGIN("hello_runtime", TRELLIS_KIND_RUNTIME, "1.0.0", "example C++ runtime: greets every request", kOptions,
               [](Host& host) -> trellis::sdk::Plugin* { return new HelloRuntime(host); })
