// The protocol-neutral request, as a runtime sees it. HTTP and uwsgi both
// produce it; a runtime never knows which one did. The views point into the
// core's copy of the request head, valid until the runtime calls
// Stream::done() (or, for a blocking runtime, returns from on_request).
#pragma once

#include <cstdint>
#include <string_view>

#include "trellis/abi.h"
#include "trellis/strings.hpp"

namespace trellis::sdk {

struct ConnectionInfo {
  std::string_view remote_addr;  // "127.0.0.1", "::1", "" for UNIX sockets
  std::string_view remote_port;  // "50312", "" for UNIX sockets
  std::string_view local_addr;   // address the listening socket is bound to
  std::string_view local_port;
  std::string_view socket_name;  // as configured: "127.0.0.1:8080", "/run/app.sock"
  bool unix_socket = false;
  bool tls = false;

  static ConnectionInfo from(const trellis_conn_info* c) noexcept {
    ConnectionInfo i;
    if (!c) return i;
    i.remote_addr = from_c(c->remote_addr);
    i.remote_port = from_c(c->remote_port);
    i.local_addr = from_c(c->local_addr);
    i.local_port = from_c(c->local_port);
    i.socket_name = from_c(c->socket_name);
    i.unix_socket = (c->flags & TRELLIS_CONN_UNIX) != 0;
    i.tls = (c->flags & TRELLIS_CONN_TLS) != 0;
    return i;
  }
};

struct Request {
  std::string_view method;       // "GET"
  std::string_view uri;          // the raw target as received: REQUEST_URI
  std::string_view path;         // percent-decoded path without query: PATH_INFO
  std::string_view query;        // raw text after '?', may be empty: QUERY_STRING
  std::string_view protocol;     // "HTTP/1.1": SERVER_PROTOCOL
  std::string_view scheme;       // "http" or "https"
  std::string_view remote_addr;  // REMOTE_ADDR
  std::string_view remote_port;  // REMOTE_PORT
  std::string_view server_name;  // SERVER_NAME (Host without port, else the socket address)
  std::string_view server_port;  // SERVER_PORT
  // Header fields, names as sent (compare case-insensitively), repeats
  // joined. Content-Type and Content-Length are here too.
  FieldList headers;
  // Variables a front end computed (a uwsgi vars block): passed to the
  // application verbatim, winning over what a runtime would derive.
  FieldList variables;
  std::int64_t content_length = -1;  // -1 when not known in advance
  // Body reads report the true end even without a known length (chunked):
  // WSGI's wsgi.input_terminated.
  bool body_terminated = true;
  bool expects_go_ahead = false;  // the client waits for "100 Continue"
  std::string_view runtime;       // the runtime asked for ("" = default)
  std::string_view upgrade;       // a protocol the client offers to switch to

  static Request from(const trellis_request_head* h, const trellis_conn_info* c) noexcept {
    Request r;
    if (!h) return r;
    r.method = from_c(h->method);
    r.uri = from_c(h->uri);
    r.path = from_c(h->path);
    r.query = from_c(h->query);
    r.protocol = from_c(h->protocol);
    r.scheme = from_c(h->scheme);
    r.server_name = from_c(h->server_name);
    r.server_port = from_c(h->server_port);
    r.headers = FieldList(h->headers, h->header_count);
    r.variables = FieldList(h->variables, h->variable_count);
    r.content_length = h->content_length;
    r.body_terminated = (h->flags & TRELLIS_REQUEST_BODY_TERMINATED) != 0;
    r.expects_go_ahead = (h->flags & TRELLIS_REQUEST_EXPECTS_GO_AHEAD) != 0;
    r.runtime = from_c(h->runtime);
    r.upgrade = from_c(h->upgrade);
    r.remote_addr = from_c(h->remote_addr);
    r.remote_port = from_c(h->remote_port);
    if (c && r.remote_addr.empty()) {
      r.remote_addr = from_c(c->remote_addr);
      r.remote_port = from_c(c->remote_port);
    }
    return r;
  }
};

// A response head, as a protocol receives it.
struct ResponseHead {
  std::string_view status;  // "200 OK"
  FieldList headers;

  static ResponseHead from(const trellis_response_head* h) noexcept {
    if (!h) return {};
    return {from_c(h->status), FieldList(h->headers, h->header_count)};
  }
  // The status code, 0 when the status line does not start with 3 digits.
  int code() const noexcept {
    if (status.size() < 3) return 0;
    int c = 0;
    for (int i = 0; i < 3; ++i) {
      char d = status[static_cast<std::size_t>(i)];
      if (d < '0' || d > '9') return 0;
      c = c * 10 + (d - '0');
    }
    return c;
  }
};

}  // namespace trellis::sdk
