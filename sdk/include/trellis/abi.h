/*
 * The plugin boundary, in C.
 *
 * Everything that crosses between the trellis core and a plugin is declared
 * here: plain C structs and tables of C function pointers, no C++ class, no
 * standard-library type. A plugin built by another compiler, against another
 * C++ standard library (clang with libc++, say), loads into a trellis built
 * with gcc and libstdc++. The C++ API plugin authors use (plugin.hpp and
 * friends) is a header-only layer over this file, compiled into the plugin.
 *
 * Rules every declaration here follows (docs/plugin-abi.md says why):
 * - Every struct and table that crosses starts with `uint32_t size`, set by
 *   whoever fills it to sizeof at its own build. A reader uses a field only
 *   when it lies inside `size` (TRELLIS_HAS_FIELD), so either side may be
 *   built against an older minor version.
 * - Strings are (pointer, length) pairs, never NUL-terminated unless said.
 * - Nothing is freed across the boundary: who allocates, frees.
 * - No exception crosses: every function reports failure as a
 *   trellis_status value.
 * - Each function says which thread may call it. "loop thread" is the
 *   worker's event-loop thread; "any thread" includes application threads
 *   and threads a runtime starts itself.
 */
#ifndef TRELLIS_ABI_H
#define TRELLIS_ABI_H

#include <stddef.h>
#include <stdint.h>

#define TRELLIS_ABI_MAJOR 2u
#define TRELLIS_ABI_MINOR 0u

/* "TRLS": tells a random symbol from ours. */
#define TRELLIS_DESCRIPTOR_MAGIC 0x534c5254u

/* The one symbol every plugin exports: a C function returning its
 * descriptor (TRELLIS_PLUGIN in plugin.hpp defines it). */
#define TRELLIS_ENTRY_SYMBOL "trellis_plugin_entry"

#define TRELLIS_STR2(x) #x
#define TRELLIS_STR(x) TRELLIS_STR2(x)

/* The compiler and C++ standard library a side was built with. Informative
 * only since ABI 2 (the boundary is C): the loader logs it, never refuses
 * a plugin for it. */
#if defined(__clang__)
#define TRELLIS_COMPILER_ID "clang-" TRELLIS_STR(__clang_major__)
#elif defined(__GNUC__)
#define TRELLIS_COMPILER_ID "gcc-" TRELLIS_STR(__GNUC__)
#else
#define TRELLIS_COMPILER_ID "unknown"
#endif
#if defined(_GLIBCXX_RELEASE)
#define TRELLIS_STDLIB_ID "libstdc++-" TRELLIS_STR(_GLIBCXX_RELEASE)
#elif defined(_LIBCPP_VERSION)
#define TRELLIS_STDLIB_ID "libc++-" TRELLIS_STR(_LIBCPP_VERSION)
#else
#define TRELLIS_STDLIB_ID "c"
#endif
#define TRELLIS_TOOLCHAIN_FINGERPRINT TRELLIS_COMPILER_ID " " TRELLIS_STDLIB_ID

/* Whether `ptr`, a struct that starts with `uint32_t size`, has `field`. */
#define TRELLIS_HAS_FIELD(type, ptr, field) \
  ((ptr) != NULL && (ptr)->size >= offsetof(type, field) + sizeof(((type*)0)->field))

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Values
 * ---------------------------------------------------------------------- */

typedef int32_t trellis_status;
enum {
  TRELLIS_OK = 0,
  TRELLIS_INVALID_ARGUMENT = 1, /* the caller passed something malformed */
  TRELLIS_PROTOCOL_ERROR = 2,   /* the peer sent something malformed */
  TRELLIS_TOO_LARGE = 3,        /* a configured limit was hit */
  TRELLIS_TIMED_OUT = 4,        /* the peer was too slow */
  TRELLIS_CLOSED = 5,           /* the peer went away, or the stream ended */
  TRELLIS_IO_ERROR = 6,         /* the operating system refused */
  TRELLIS_UNSUPPORTED = 7,      /* the operation makes no sense here */
  TRELLIS_APP_ERROR = 8,        /* the application failed */
  TRELLIS_INTERNAL_ERROR = 9,   /* a bug or an exhausted resource */
  TRELLIS_AGAIN = 10            /* accepted, but over the high-water mark:
                                   wait for TRELLIS_EVENT_WRITABLE */
};

typedef struct trellis_str {
  const char* ptr;
  size_t len;
} trellis_str;

typedef struct trellis_field {
  trellis_str name;
  trellis_str value;
} trellis_field;

/* Response bytes, or a range of an open file. */
enum { TRELLIS_CHUNK_BYTES = 0, TRELLIS_CHUNK_FILE = 1 };
typedef struct trellis_chunk {
  uint32_t kind;     /* TRELLIS_CHUNK_BYTES or TRELLIS_CHUNK_FILE */
  const char* data;  /* BYTES: the bytes; only read during the call */
  size_t len;        /* BYTES: their length; FILE: bytes to send */
  int fd;            /* FILE: an open file; duplicated if kept, so the
                        caller may close it once the call returns */
  int64_t offset;    /* FILE: where to start */
} trellis_chunk;

enum {
  TRELLIS_LOG_TRACE = 0,
  TRELLIS_LOG_DEBUG = 1,
  TRELLIS_LOG_INFO = 2,
  TRELLIS_LOG_WARN = 3,
  TRELLIS_LOG_ERROR = 4,
  TRELLIS_LOG_CRITICAL = 5
};

/* Who is running this code. In the master and a loader process id is 0. */
typedef struct trellis_worker_identity {
  uint32_t size;
  int32_t id;          /* 1..N, stable across respawns of a slot */
  int32_t pid;         /* the calling process's own */
  int32_t threads;     /* application threads per worker (--threads) */
  int32_t processes;   /* configured worker count */
  uint64_t generation; /* reload generation that forked it */
} trellis_worker_identity;

enum { TRELLIS_CONN_UNIX = 1u, TRELLIS_CONN_TLS = 2u };
typedef struct trellis_conn_info {
  uint32_t size;
  uint32_t flags;          /* TRELLIS_CONN_* */
  trellis_str remote_addr; /* "127.0.0.1", "::1"; empty on UNIX sockets */
  trellis_str remote_port;
  trellis_str local_addr;  /* where the listening socket is bound */
  trellis_str local_port;
  trellis_str socket_name; /* as configured: "127.0.0.1:8080", "/run/app.sock" */
} trellis_conn_info;

/* ------------------------------------------------------------------------
 * Requests and responses, as protocols and runtimes exchange them through
 * the core. Neither knows the other: a runtime never learns which protocol
 * parsed its request.
 * ---------------------------------------------------------------------- */

enum {
  /* body reads report the true end even without a known length
     (chunked): WSGI's wsgi.input_terminated */
  TRELLIS_REQUEST_BODY_TERMINATED = 1u,
  /* the client waits for a go-ahead before it sends the body (HTTP's
     "Expect: 100-continue"): the protocol gives it when the runtime first
     wants the body (trellis_stream_sink.on_body_wanted) */
  TRELLIS_REQUEST_EXPECTS_GO_AHEAD = 2u,
  /* the client offers to switch protocols (HTTP Upgrade); `upgrade` names it */
  TRELLIS_REQUEST_UPGRADE_OFFERED = 4u
};

typedef struct trellis_request_head {
  uint32_t size;
  uint32_t flags;             /* TRELLIS_REQUEST_* */
  trellis_str method;         /* "GET" */
  trellis_str uri;            /* the raw target as received (REQUEST_URI) */
  trellis_str path;           /* percent-decoded path, no query (PATH_INFO) */
  trellis_str query;          /* raw text after '?', may be empty */
  trellis_str protocol;       /* "HTTP/1.1" */
  trellis_str scheme;         /* "http" or "https" */
  trellis_str server_name;    /* Host without port, else the socket address */
  trellis_str server_port;
  /* The client, when the protocol knows better than the connection (a
     proxy protocol, uwsgi's REMOTE_ADDR); empty: the connection's peer. */
  trellis_str remote_addr;
  trellis_str remote_port;
  /* Header fields as received: names as sent (compare case-insensitively),
     one entry per field line, in order of arrival, repeats kept (a runtime
     that wants one value per name joins them: ", ", Cookie "; "). A
     protocol may settle the fields it interprets itself (HTTP hands
     Content-Length once, as the framed length, and drops names with '_'). */
  const trellis_field* headers;
  size_t header_count;
  /* Variables a front end computed and passed along (a uwsgi vars block:
     SCRIPT_NAME, HTTPS, uwsgi_param ...): a runtime hands them to the
     application as given, and they win over what it would derive itself. */
  const trellis_field* variables;
  size_t variable_count;
  int64_t content_length;     /* -1: not known in advance */
  /* Which runtime plugin serves it, by name; empty: the default (the
     first runtime loaded). Protocols that carry a selector (uwsgi's
     modifier1) map it to a name. */
  trellis_str runtime;
  trellis_str upgrade;        /* TRELLIS_REQUEST_UPGRADE_OFFERED: e.g. "websocket" */
  /* Optional (NULL, 0): memory holding most of the strings above, such as
     the protocol's buffer with the received head. The core copies it in
     one piece and keeps the strings inside it as offsets, instead of
     copying each; strings elsewhere are copied one by one. */
  const char* storage;
  size_t storage_len;
} trellis_request_head;

typedef struct trellis_response_head {
  uint32_t size;
  uint32_t flags;       /* none yet */
  trellis_str status;   /* "200 OK": code, space, reason */
  const trellis_field* headers;
  size_t header_count;
} trellis_response_head;

/* Summary of what a protocol sent for one stream (request log, stats). */
typedef struct trellis_response_summary {
  uint32_t size;
  int32_t status;       /* status code sent, 0 if none */
  uint64_t body_bytes;  /* body bytes sent */
  uint64_t wire_bytes;  /* everything sent, framing included */
} trellis_response_summary;

/* What an asynchronous runtime is told about its stream (loop thread). */
enum {
  TRELLIS_EVENT_BODY = 1,       /* `data`: body bytes; give them back with
                                   stream_consume() once used */
  TRELLIS_EVENT_BODY_END = 2,   /* no more body; `trailers` may be set */
  TRELLIS_EVENT_WRITABLE = 3,   /* output fell below the low-water mark */
  TRELLIS_EVENT_DISCONNECT = 4, /* the peer is gone; `error` says how; last */
  TRELLIS_EVENT_MESSAGE = 5,    /* after an upgrade: one message (or part) */
  TRELLIS_EVENT_DRAIN = 6       /* the worker stops: finish soon */
};
enum {
  TRELLIS_MESSAGE_TEXT = 1u,
  TRELLIS_MESSAGE_BINARY = 2u,
  TRELLIS_MESSAGE_CLOSE = 4u,
  TRELLIS_MESSAGE_FINAL = 8u /* the last part of a message */
};
typedef struct trellis_event {
  uint32_t size;
  uint32_t type;        /* TRELLIS_EVENT_* */
  const char* data;     /* BODY, MESSAGE: valid until consumed (BODY) or
                           until the handler returns (MESSAGE) */
  size_t len;
  const trellis_field* trailers; /* BODY_END; valid during the call */
  size_t trailer_count;
  uint32_t message_flags;        /* MESSAGE: TRELLIS_MESSAGE_* */
  trellis_status error;          /* DISCONNECT: closed, timed_out ... */
} trellis_event;

/* ------------------------------------------------------------------------
 * Handles the core owns. Opaque to plugins.
 * ---------------------------------------------------------------------- */

typedef struct trellis_host trellis_host;     /* one per plugin */
typedef struct trellis_conn trellis_conn;     /* one accepted connection */
typedef struct trellis_stream trellis_stream; /* one request and its response */
typedef struct trellis_timer trellis_timer;
typedef struct trellis_watch trellis_watch;

typedef struct trellis_stream_sink trellis_stream_sink;

/* How a protocol ends a connection (conn_close). */
enum {
  /* send what is queued, end the sending side, then read and drop what
     the peer still sends until it closes (RFC 9112 §9.6), then close */
  TRELLIS_CLOSE_GRACEFUL = 0,
  /* close as soon as what is queued is sent */
  TRELLIS_CLOSE_AFTER_WRITE = 1,
  /* now, with a reset: a response cut short must never look complete */
  TRELLIS_CLOSE_ABORT = 2
};

/* loop_turn's answer when the worker is done: run_loop returns. */
#define TRELLIS_LOOP_DONE (-2)

/* epoll-style interest and readiness for watch_fd. */
enum { TRELLIS_WATCH_READ = 1u, TRELLIS_WATCH_WRITE = 4u, TRELLIS_WATCH_ERROR = 8u, TRELLIS_WATCH_HANGUP = 16u };

/* ------------------------------------------------------------------------
 * What the core offers every plugin. Append-only within a major version.
 * The loader refuses a plugin built for a newer minor than the host's, so
 * every function a plugin's headers declare is there; TRELLIS_HAS_FIELD
 * is for the core, reading tables from plugins of older minors.
 * ---------------------------------------------------------------------- */

typedef struct trellis_host_api {
  uint32_t size;
  uint32_t abi_minor;

  /* --- any process, any thread ------------------------------------- */
  void (*log)(trellis_host* host, int32_t level, trellis_str message);
  /* The values of option `name` (its primary long name), in order; single
     valued options: the winning value last. Writes at most `max` into
     `out` and returns how many there are. The strings live as long as the
     process. */
  size_t (*option_values)(trellis_host* host, trellis_str name, trellis_str* out, size_t max);
  /* Memory shared by every process forked afterwards. In the master only,
     before it forks (on_config, init_master, and before_fork with
     --lazy-apps); elsewhere it logs why and returns NULL. */
  void* (*shared_memory)(trellis_host* host, size_t bytes);
  /* Fills `out` up to out->size. */
  void (*worker)(trellis_host* host, trellis_worker_identity* out);
  /* Whether a loaded runtime answers to `name` (empty: the default), so a
     protocol can refuse a request nobody could serve. */
  int (*runtime_available)(trellis_host* host, trellis_str name);

  /* --- the worker's event loop: in a worker, after fork ------------- */
  /* Runs fn(arg) on the loop thread soon. Any thread; calls from other
     threads are batched behind one wake-up. OK, or CLOSED when the worker
     is gone (fn never runs). */
  trellis_status (*post)(trellis_host* host, void (*fn)(void* arg), void* arg);
  /* Loop thread. Calls fn(arg) once, after_ms from now (at most ~10 ms
     late). The handle is valid until fn runs or timer_cancel. */
  trellis_timer* (*timer_start)(trellis_host* host, uint64_t after_ms, void (*fn)(void* arg), void* arg);
  void (*timer_cancel)(trellis_host* host, trellis_timer* timer);
  /* Loop thread. Calls fn(arg, ready) on the loop thread whenever `fd` is
     ready for `events` (TRELLIS_WATCH_*; level-triggered). The fd stays
     the caller's; watch_close before closing it. */
  trellis_watch* (*watch_fd)(trellis_host* host, int fd, uint32_t events,
                             void (*fn)(void* arg, uint32_t ready), void* arg);
  trellis_status (*watch_modify)(trellis_host* host, trellis_watch* watch, uint32_t events);
  void (*watch_close)(trellis_host* host, trellis_watch* watch);
  /* Monotonic milliseconds, as the loop's timers count them. */
  uint64_t (*now_ms)(trellis_host* host);
  /* Non-zero on the worker's loop thread. */
  int (*on_loop_thread)(trellis_host* host);
  /* For a runtime that drives the loop (trellis_runtime_table.run_loop).
     Loop thread. A descriptor that polls readable (level-triggered) while
     the worker's loop has descriptor events or posted calls to dispatch;
     -1 outside a worker. Watch it, never read or close it. */
  int (*loop_fd)(trellis_host* host);
  /* Loop thread, inside run_loop only. One turn of the worker's loop that
     does not wait: ready descriptors, due timers, posted calls. Returns the
     milliseconds after which it wants another turn even if loop_fd stays
     quiet (0: at once; -1: nothing is due), or TRELLIS_LOOP_DONE: the
     worker has drained (or failed) and run_loop must return. */
  int64_t (*loop_turn)(trellis_host* host);

  /* --- connections: protocol sessions, loop thread ------------------ */
  /* Queues bytes (copied) or file ranges (the fd duplicated) to send, in
     order; the core sends what the socket takes now and the rest as it
     drains. Never blocks. CLOSED once the connection is closing. */
  trellis_status (*conn_write)(trellis_conn* conn, const trellis_chunk* chunks, size_t count);
  /* Like conn_write, but the last bytes the connection carries: the
     sending side ends with them (one segment with the FIN where possible). */
  trellis_status (*conn_write_last)(trellis_conn* conn, const trellis_chunk* chunks, size_t count);
  /* Bytes queued and not yet taken by the socket. */
  size_t (*conn_queued)(trellis_conn* conn);
  /* Stops (non-zero) or resumes reading from the peer. */
  void (*conn_pause_reading)(trellis_conn* conn, int paused);
  /* Ends the connection (TRELLIS_CLOSE_*). Close or reset its streams
     first. The session's release() follows once the core is done with it;
     no session callback after this but release(). If the peer resets the
     connection or it fails, the core resets its streams itself, then
     releases the session. */
  void (*conn_close)(trellis_conn* conn, uint32_t how);
  const trellis_conn_info* (*conn_info)(trellis_conn* conn);
  /* The protocol answered a request itself with `status` (malformed, too
     large ...): counted apart in the stats (refused requests). */
  void (*conn_refused)(trellis_conn* conn, int32_t status);

  /* --- streams, the protocol's side: loop thread --------------------- */
  /* A request head is complete: the core copies `head` (the session may
     reuse its memory at once), picks the runtime and hands it the request.
     `sink` and `sink_self` receive the response (trellis_stream_sink).
     NULL when no runtime serves it or memory ran out (logged). */
  trellis_stream* (*stream_open)(trellis_conn* conn, const trellis_request_head* head,
                                 const trellis_stream_sink* sink, void* sink_self);
  /* Request body bytes (decoded), in order; copied. OK; AGAIN: kept, but
     the runtime holds as much unread body as it may: stop reading until
     sink->on_body_wanted. CLOSED: nobody reads it any more (keep draining
     or close: the protocol's choice). IO_ERROR: the body could not be
     spooled (logged); end the stream with stream_reset. The core sets no
     size limit: a protocol enforces its own (--limit-post) before this. */
  trellis_status (*stream_body)(trellis_stream* stream, const char* data, size_t len);
  /* The body is complete; trailers, if any, are copied. Called for every
     stream, also one whose request has no body (at once, then). */
  trellis_status (*stream_body_end)(trellis_stream* stream, const trellis_field* trailers, size_t count);
  /* After an upgrade: one message (or part) from the peer. Same results as
     stream_body. */
  trellis_status (*stream_message)(trellis_stream* stream, uint32_t flags, const char* data, size_t len);
  /* The peer is gone or broke the stream's protocol: the runtime learns it
     (reads and writes fail with CLOSED, an asynchronous runtime gets
     TRELLIS_EVENT_DISCONNECT with `why`). Like stream_close, it ends the
     protocol's side: the sink is called no more. */
  void (*stream_reset)(trellis_stream* stream, trellis_status why);
  /* The protocol is done with the stream; `summary` (may be NULL) says what
     it sent. The sink is called no more; the head stays valid for the
     runtime until it calls stream_done. */
  void (*stream_close)(trellis_stream* stream, const trellis_response_summary* summary);

  /* --- streams, the runtime's side ------------------------------------ */
  /* Any thread, until stream_done. The request as the core copied it. */
  const trellis_request_head* (*stream_head)(trellis_stream* stream);
  const trellis_conn_info* (*stream_conn_info)(trellis_stream* stream);
  /* Blocking runtimes, on the thread serving the request. Copies up to
     `size` body bytes into `buf`; *got == 0 with OK at the end of the body.
     Waits (bounded by --socket-timeout) while none have arrived. */
  trellis_status (*stream_read)(trellis_stream* stream, char* buf, size_t size, size_t* got);
  /* Asynchronous runtimes, loop thread: `bytes` of delivered body were
     used; more may be delivered. */
  void (*stream_consume)(trellis_stream* stream, size_t bytes);
  /* The runtime wants the body now (sends HTTP's 100 Continue when the
     client waits for it). stream_read and the first stream_consume imply it. */
  void (*stream_want_body)(trellis_stream* stream);
  /* Any thread. Records the status line and headers; they go out with the
     first write or finish. May be called again until then (WSGI's
     exc_info). INVALID_ARGUMENT: the protocol refuses them (a header that
     could break the framing); answer 500 instead. UNSUPPORTED once sent.
     stream_write and stream_finish before any stream_start fail with
     INVALID_ARGUMENT (and send nothing). */
  trellis_status (*stream_start)(trellis_stream* stream, const trellis_response_head* head);
  /* Any thread. Response body, in order. `last` promises no more body
     follows (a protocol may then frame it with a length). Bytes are copied
     unless the socket takes them at once. OK; AGAIN: accepted, but over
     the high-water mark (blocking runtimes: stream_wait_writable;
     asynchronous ones: wait for TRELLIS_EVENT_WRITABLE); CLOSED: the peer
     is gone. */
  trellis_status (*stream_write)(trellis_stream* stream, const trellis_chunk* chunks, size_t count, int last);
  /* Blocking runtimes: waits until the stream's unsent output is below the
     low-water mark, at most --socket-timeout (TIMED_OUT). */
  trellis_status (*stream_wait_writable)(trellis_stream* stream);
  /* Any thread. Completes the response (head if still pending, trailers
     if given and the protocol can carry them). */
  trellis_status (*stream_finish)(trellis_stream* stream, const trellis_field* trailers, size_t count);
  /* Any thread. The application failed after the head went out: the peer
     must see a broken response, never a complete-looking one. */
  void (*stream_abort)(trellis_stream* stream);
  int (*stream_head_sent)(trellis_stream* stream);
  /* Any thread, after a start() with a protocol-switching status (101):
     from now on the stream carries messages both ways. UNSUPPORTED for a
     blocking runtime, or when the protocol cannot (known at once on the
     loop thread; from another thread OK means queued, and a refusal then
     aborts the stream and later messages fail with UNSUPPORTED). */
  trellis_status (*stream_upgrade)(trellis_stream* stream);
  trellis_status (*stream_send_message)(trellis_stream* stream, uint32_t flags, const trellis_chunk* chunks,
                                        size_t count);
  /* Any thread. The runtime is done with the stream: no call on it after
     this. A response never started is answered 500 Internal Server Error;
     one started but not finished is aborted. */
  void (*stream_done)(trellis_stream* stream);
  /* Any thread. Non-zero once the peer is known to be gone. */
  int (*stream_gone)(trellis_stream* stream);
} trellis_host_api;

/* ------------------------------------------------------------------------
 * What plugins implement: tables of functions plus their `self` pointer.
 * The core checks `size` before calling a slot newer than the plugin's
 * minor; a NULL slot means "not implemented" (the default behaviour).
 * ---------------------------------------------------------------------- */

/* A protocol's per-stream side: how the core hands it the response. Loop
 * thread only; never after the protocol called stream_close/stream_reset.
 *
 * No re-entry: the core never calls a sink, nor a runtime's on_request or
 * on_event, while any session callback is running. Streams opened and body
 * delivered during on_received reach their runtime after it returns, so a
 * sink may do anything a session may (parse the next pipelined request,
 * open another stream, close the connection). */
struct trellis_stream_sink {
  uint32_t size;
  /* The head to send with the first body bytes; may come again (replacing
     it) until then. Checked already by trellis_protocol_table.check_head. */
  trellis_status (*on_start)(void* self, const trellis_response_head* head);
  /* Body, in order; `last` as in stream_write. Bytes are valid during the
     call only (the protocol frames them into conn_write, which copies). */
  trellis_status (*on_data)(void* self, const trellis_chunk* chunks, size_t count, int last);
  trellis_status (*on_finish)(void* self, const trellis_field* trailers, size_t count);
  void (*on_abort)(void* self);
  /* The runtime wants (more) body: resume reading; send a go-ahead (100
     Continue) if the client waits for one. */
  void (*on_body_wanted)(void* self);
  /* The runtime switches the stream to messages (after a 101). */
  trellis_status (*on_upgrade)(void* self);
  trellis_status (*on_message)(void* self, uint32_t flags, const trellis_chunk* chunks, size_t count);
};

/* A connection's protocol state. Loop thread only. */
typedef struct trellis_session_table {
  uint32_t size;
  /* Where the core should put the next bytes it reads. len 0: none now;
     the core stops reading as after conn_pause_reading(1), until the
     session calls conn_pause_reading(0). */
  trellis_str (*read_space)(void* self);  /* ptr is writable */
  /* `n` bytes were stored at the start of the last read_space. */
  void (*on_received)(void* self, size_t n);
  /* The peer will send nothing more. */
  void (*on_eof)(void* self);
  /* The queue conn_write fills fell below the low-water mark. */
  void (*on_writable)(void* self);
  /* The worker drains (reload, shutdown): end after the current exchange
     (HTTP: "Connection: close"; HTTP/2: GOAWAY). */
  void (*on_drain)(void* self);
  /* Which timeout applies now (TRELLIS_PHASE_*). */
  uint32_t (*phase)(void* self);
  /* The core is done with the session (after conn_close or a peer that
     vanished): free it. Streams it opened were closed or reset before. */
  void (*release)(void* self);
} trellis_session_table;

enum {
  TRELLIS_PHASE_IDLE = 0,  /* between requests: --keepalive-timeout */
  TRELLIS_PHASE_HEAD = 1,  /* receiving a request head: --header-timeout */
  TRELLIS_PHASE_BODY = 2,  /* receiving a body: --socket-timeout since the last progress */
  TRELLIS_PHASE_BUSY = 3   /* a stream is with the runtime: no read timeout */
};

typedef struct trellis_protocol_table {
  uint32_t size;
  /* Its name, for logs and stats ("http", "uwsgi"). NUL-terminated. */
  const char* name;
  /* The option whose values are its listening addresses ("http-socket",
     "socket"). NUL-terminated. */
  const char* socket_option;
  /* A new connection: the session's table and self, or NULL on failure. */
  const trellis_session_table* (*open_session)(void* self, trellis_conn* conn, void** session_self);
  /* Any thread, no side effects: whether `head` can be sent by this
     protocol (a header that would break the framing is refused). On a
     refusal, *reason may be set to a static NUL-terminated text saying why
     (the core logs it). */
  trellis_status (*check_head)(void* self, const trellis_response_head* head, const char** reason);
} trellis_protocol_table;

enum {
  /* Requests run on application threads (or the loop thread with
     --threads 1) and may block: the body is read with stream_read, writes
     wait with stream_wait_writable. on_request returns when the request is
     done. The core receives the whole body first (in memory, spooled past
     --post-buffering) unless the client waits for a go-ahead. */
  TRELLIS_RUNTIME_BLOCKING = 1u
};

typedef struct trellis_runtime_table {
  uint32_t size;
  uint32_t flags; /* TRELLIS_RUNTIME_* */
  /* Imports the application: in each worker (lazy apps) or in the loader
     that forks them. Never in the master. */
  trellis_status (*load_application)(void* self);
  /* Loop thread, once per worker before it serves: set up what runs on the
     loop (an asynchronous runtime's event loop bridge). */
  trellis_status (*loop_start)(void* self);
  /* Around each application thread's life (blocking runtimes). */
  trellis_status (*thread_start)(void* self, int32_t thread);
  void (*thread_stop)(void* self, int32_t thread);
  /* A request. Blocking runtimes: on an application thread, and it returns
     when done (the core then calls stream_done for it if it did not);
     APP_ERROR says the application raised (counted in the stats), the
     response having been dealt with either way (a 500 or an abort).
     Asynchronous ones: on the loop thread, must not block; they complete
     later, from any thread, and call stream_done; a result other than OK
     means they did not take the stream (the core answers 500). */
  trellis_status (*on_request)(void* self, trellis_stream* stream, int32_t thread);
  /* Asynchronous runtimes, loop thread: something happened on `stream`. */
  void (*on_event)(void* self, trellis_stream* stream, const trellis_event* event);
  /* Loop thread: the worker drains; it exits once every stream is done. */
  void (*on_drain)(void* self);
  /* Optional (NULL: the core runs its loop itself). Loop thread, after
     loop_start: the runtime runs the worker's loop inside its own event
     loop (an asyncio loop): it watches host loop_fd, calls loop_turn when
     that polls readable and once the delay loop_turn returned has passed,
     and returns when loop_turn returns TRELLIS_LOOP_DONE. OK, or an error
     (logged by the runtime): the worker stops and the master starts
     another. At most one loaded runtime may drive the loop. */
  trellis_status (*run_loop)(void* self);
} trellis_runtime_table;

typedef struct trellis_lock_engine_table {
  uint32_t size;
  const char* name; /* NUL-terminated */
  /* Master, before the first fork: shared state (shared_memory). */
  trellis_status (*init_master)(void* self);
  /* Each worker after fork. */
  trellis_status (*init_child)(void* self);
  /* The worker's accept thread, around poll() and accept(). lock() blocks
     as long as it takes; a stopping worker may exit while its thread still
     waits (a thread that gets the lock after that unlocks at once). */
  trellis_status (*lock)(void* self);
  void (*unlock)(void* self);
  /* Master: worker `pid` died, perhaps holding the lock. */
  void (*holder_died)(void* self, int32_t pid);
} trellis_lock_engine_table;

/* Lifecycle hooks, in the order the core calls them (docs/plugin-abi.md). */
typedef struct trellis_plugin_table {
  uint32_t size;
  trellis_status (*on_config)(void* self);         /* master: validate options */
  trellis_status (*before_fork)(void* self);       /* the process about to fork */
  trellis_status (*after_fork_parent)(void* self); /* the process that forked */
  trellis_status (*after_fork_child)(void* self, const trellis_worker_identity* worker);
  void (*worker_shutdown)(void* self);             /* a worker about to exit */
  /* The interface matching the descriptor's kind (others NULL). */
  const trellis_runtime_table* (*runtime)(void* self, void** runtime_self);
  const trellis_protocol_table* (*protocol)(void* self, void** protocol_self);
  const trellis_lock_engine_table* (*lock_engine)(void* self, const char* name, void** engine_self);
} trellis_plugin_table;

/* ------------------------------------------------------------------------
 * The descriptor: what the loader reads before anything of the plugin runs.
 * ---------------------------------------------------------------------- */

typedef enum trellis_plugin_kind {
  TRELLIS_KIND_GENERAL = 0,
  TRELLIS_KIND_RUNTIME = 1,    /* runs applications (python) */
  TRELLIS_KIND_PROTOCOL = 2,   /* speaks a wire protocol (http, uwsgi) */
  TRELLIS_KIND_LOCK_ENGINE = 3 /* accept locks */
} trellis_plugin_kind;

typedef enum trellis_option_type {
  TRELLIS_OPT_FLAG = 0,   /* boolean: "--master", "master = true" */
  TRELLIS_OPT_STRING = 1, /* last value wins */
  TRELLIS_OPT_INT = 2,    /* integer, checked by the core */
  TRELLIS_OPT_LIST = 3    /* repeatable: every value is kept, in order */
} trellis_option_type;

/* One option a plugin declares. Plugins never parse the command line: the
 * core builds one parser out of every loaded plugin's table. */
typedef struct trellis_option_spec {
  const char* name;          /* long name, e.g. "wsgi-file" */
  const char* aliases;       /* comma separated other long names, or NULL */
  char short_name;           /* e.g. 'w', or 0 */
  uint32_t type;             /* trellis_option_type */
  const char* default_value; /* as text, or NULL */
  const char* value_name;    /* shown in --help, e.g. "FILE" */
  const char* help;
} trellis_option_spec;

/* What create() gives back. */
typedef struct trellis_plugin_instance {
  uint32_t size;
  const trellis_plugin_table* table;
  void* self;
} trellis_plugin_instance;

typedef struct trellis_plugin_descriptor {
  uint32_t magic;     /* TRELLIS_DESCRIPTOR_MAGIC */
  uint32_t size;      /* sizeof at the plugin's build */
  uint32_t abi_major; /* must equal the host's */
  uint32_t abi_minor; /* must be <= the host's */
  const char* toolchain; /* TRELLIS_TOOLCHAIN_FINGERPRINT: informative */
  const char* name;      /* "http", "python" ... */
  const char* version;   /* the plugin's own version */
  uint32_t kind;         /* trellis_plugin_kind */
  const char* summary;   /* one line for --plugins-list */
  const trellis_option_spec* options;
  size_t option_count;
  size_t option_size;    /* sizeof(trellis_option_spec) at the plugin's build */
  /* Called once every check passed, in the master. Fills `out` (its size
     set by the core) and returns OK, or logs why through `api` and fails.
     `host` identifies the plugin in every api call. */
  trellis_status (*create)(const trellis_host_api* api, trellis_host* host, trellis_plugin_instance* out);
} trellis_plugin_descriptor;

typedef const trellis_plugin_descriptor* (*trellis_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* TRELLIS_ABI_H */
