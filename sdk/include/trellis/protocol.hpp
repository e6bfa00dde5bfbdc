// A wire protocol (http, uwsgi): turns bytes from a connection into
// Requests, and Responses back into bytes.
//
// Division of labour: the core owns sockets and the event loop; a protocol
// owns per-connection parse state (a Session). The event loop only ever calls
// the non-blocking half (read_space / on_received / on_eof), so a slow client
// costs a buffer, never a thread. Once a request is complete the core hands
// request() and response() to the runtime on an application thread; the
// blocking half (Transport, BodyReader, ResponseWriter) runs there.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "trellis/request.hpp"
#include "trellis/response.hpp"
#include "trellis/status.hpp"

namespace trellis::sdk {

struct ConnectionInfo {
  std::string_view remote_addr;  // "127.0.0.1", "::1", "" for UNIX sockets
  std::string_view remote_port;  // "50312", "" for UNIX sockets
  std::string_view local_addr;   // address the listening socket is bound to
  std::string_view local_port;
  std::string_view socket_name;  // as configured: "127.0.0.1:8080", "/run/app.sock"
  bool unix_socket = false;
};

// The connected socket, as the core lets a session use it from application
// threads. Calls block up to the socket timeout and never throw.
class Transport {
 public:
  // Writes every byte of every part, or fails (closed, timed_out, io_error).
  virtual Status write(std::span<const struct iovec> parts) noexcept = 0;
  // Sends file bytes with sendfile(2). count < 0: to the end of the file.
  virtual Status send_file(int fd, std::int64_t offset, std::int64_t count) noexcept = 0;
  // Reads at least one byte (got > 0), or got == 0 at end of stream.
  virtual Status read(char* buf, std::size_t size, std::size_t& got) noexcept = 0;
  virtual const ConnectionInfo& info() const noexcept = 0;
  // Ends the connection abruptly: when the core closes it, the peer gets a
  // reset, so even a close-delimited response that was cut short never
  // looks complete. Further writes fail.
  virtual void abort() noexcept = 0;
  // ABI 1.1. Writes the last bytes the connection will ever carry and ends
  // the sending side with them: the peer sees the end of the response at
  // once, whatever the runtime still does before the core closes, and TCP
  // carries the final data and its FIN in one segment. `parts` may be
  // empty (just the end). Later writes fail with closed.
  virtual Status write_last(std::span<const struct iovec> parts) noexcept = 0;

 protected:
  ~Transport() = default;
};

enum class Progress {
  need_more,          // wait for more bytes
  request_ready,      // request()/response() may be handed to the runtime
  respond_and_close,  // write pending_output() (an error reply, or nothing), half-close,
                      // read and drop what the client still sends, then close
  close,              // close quietly (peer went away between requests)
};

// Which per-connection timeout applies right now.
enum class Phase { idle, head, body };

struct ResponseSummary {
  int status = 0;                // status code sent, 0 if none
  std::uint64_t body_bytes = 0;  // body bytes sent
  std::uint64_t wire_bytes = 0;  // everything sent, headers included
};

class Session {
 public:
  // Where the core should put the next bytes it reads. Empty means the
  // session cannot take more right now (then it must not return need_more).
  virtual std::span<char> read_space() noexcept = 0;
  // `n` bytes were stored at the start of the last read_space().
  virtual Progress on_received(std::size_t n) noexcept = 0;
  // The peer closed its side.
  virtual Progress on_eof() noexcept = 0;

  // Valid after request_ready, until finish_request().
  virtual Request& request() noexcept = 0;
  virtual ResponseWriter& response() noexcept = 0;

  // After respond_and_close: the bytes to send before closing.
  virtual std::string_view pending_output() const noexcept = 0;

  // The runtime returned. The session completes the response if needed and
  // parses whatever is already buffered (pipelining), returning what next.
  virtual Progress finish_request() noexcept = 0;

  // The server is draining (graceful stop or reload): answer the request in
  // progress, if any, with "Connection: close" semantics and end.
  virtual void close_after_response() noexcept = 0;

  virtual Phase phase() const noexcept = 0;
  virtual ResponseSummary summary() const noexcept = 0;

  // The core is done with the session; the plugin frees it.
  virtual void release() noexcept = 0;

 protected:
  ~Session() = default;
};

class Protocol {
 public:
  // The option whose values are this protocol's listening addresses, e.g.
  // "http-socket" or "socket". The core binds them and routes connections.
  virtual std::string_view socket_option() const noexcept = 0;
  // A new connection arrived. Returns nullptr on allocation failure.
  virtual Session* open_session(Transport& transport) noexcept = 0;

 protected:
  ~Protocol() = default;
};

}  // namespace trellis::sdk
