#include "options/core_options.hpp"

#include <trellis/abi.h>

namespace trellis::core {

namespace {
// Names follow uWSGI where the meaning matches, so its ini files load.
const trellis_option_spec kCoreOptions[] = {
    {"show-config", nullptr, 0, TRELLIS_OPT_FLAG, "false", nullptr,
     "print the resolved configuration as an ini file and exit"},
    {"master", nullptr, 'M', TRELLIS_OPT_FLAG, nullptr, nullptr,
     "accepted for uWSGI compatibility: trellis always runs a master process"},
    {"processes", "workers", 'p', TRELLIS_OPT_INT, "1", "N", "number of worker processes"},
    {"threads", nullptr, 0, TRELLIS_OPT_INT, "1", "N", "application threads per worker"},
    {"lazy-apps", "lazy", 0, TRELLIS_OPT_FLAG, "false", nullptr, "load the application in each worker after fork"},
    {"listen", nullptr, 'l', TRELLIS_OPT_INT, nullptr, "N",
     "listen queue (backlog) of every socket; default min(1024, net.core.somaxconn)"},
    {"chmod-socket", nullptr, 0, TRELLIS_OPT_STRING, nullptr, "MODE", "permissions of UNIX sockets (octal, e.g. 660)"},
    {"vacuum", nullptr, 0, TRELLIS_OPT_FLAG, "false", nullptr, "remove UNIX sockets and the pidfile at exit"},
    {"static-map", nullptr, 0, TRELLIS_OPT_LIST, nullptr, "URL=DIR",
     "serve files under DIR for requests to URL/... before the application (GET, HEAD)"},
    {"protocol", nullptr, 0, TRELLIS_OPT_STRING, nullptr, "NAME",
     "protocol spoken on --socket addresses: uwsgi (default) or http (as uWSGI's protocol = http)"},
    {"no-defer-accept", nullptr, 0, TRELLIS_OPT_FLAG, "false", nullptr,
     "hand over TCP connections before their first bytes arrive (for protocols where the server speaks first)"},
    {"reuse-port", nullptr, 0, TRELLIS_OPT_FLAG, "false", nullptr, "set SO_REUSEPORT on TCP sockets"},
    {"buffer-size", nullptr, 'b', TRELLIS_OPT_INT, "32768", "BYTES",
     "largest request head accepted (HTTP header section, uwsgi vars block)"},
    {"limit-post", nullptr, 0, TRELLIS_OPT_INT, "0", "BYTES", "largest request body accepted, 0 = no limit"},
    {"post-buffering", nullptr, 0, TRELLIS_OPT_INT, "1048576", "BYTES",
     "request body bytes kept in memory; larger bodies go to a temporary file (and any body once a worker's "
     "connections together hold 64 times this)"},
    {"socket-timeout", nullptr, 0, TRELLIS_OPT_INT, "30", "SECONDS",
     "how long a socket read or write may wait, and the request body timeout"},
    {"header-timeout", nullptr, 0, TRELLIS_OPT_INT, "10", "SECONDS", "time allowed to receive a complete request head"},
    {"write-buffer", nullptr, 0, TRELLIS_OPT_INT, "1048576", "BYTES",
     "response bytes a worker keeps for a client that reads slowly, so the application thread moves on "
     "(at most 32 times this per worker in all; the rest of a file is kept without a copy; "
     "0 = the thread waits for the client)"},
    {"keepalive-timeout", "http-keepalive-timeout", 0, TRELLIS_OPT_INT, "5", "SECONDS",
     "how long an idle keep-alive connection is kept open"},
    {"harakiri", nullptr, 't', TRELLIS_OPT_INT, "0", "SECONDS",
     "kill and replace a worker busy in one request for longer, 0 = off"},
    {"max-requests", nullptr, 'R', TRELLIS_OPT_INT, "0", "N", "recycle a worker after N requests, 0 = never"},
    {"max-requests-jitter", nullptr, 0, TRELLIS_OPT_INT, "0", "N", "add a random 0..N to --max-requests per worker"},
    {"reload-on-rss", nullptr, 0, TRELLIS_OPT_INT, "0", "MB", "recycle a worker whose resident memory exceeds MB"},
    {"worker-reload-mercy", nullptr, 0, TRELLIS_OPT_INT, "60", "SECONDS",
     "time a stopping worker may take to finish its requests before it is killed"},
    {"touch-reload", nullptr, 0, TRELLIS_OPT_STRING, nullptr, "FILE", "reload gracefully when FILE's mtime changes"},
    {"touch-chain-reload", nullptr, 0, TRELLIS_OPT_STRING, nullptr, "FILE",
     "chain-reload (one worker at a time) when FILE's mtime changes"},
    {"master-fifo", nullptr, 0, TRELLIS_OPT_STRING, nullptr, "FILE",
     "control FIFO: write r (reload), c (chain reload), q (stop), Q (stop now), + / - (workers), l (reopen logs)"},
    {"lock-engine", nullptr, 0, TRELLIS_OPT_STRING, nullptr, "NAME",
     "serialise accept() with a lock: pthread, flock, sem or none (default: kernel distribution)"},
    {"thunder-lock", nullptr, 0, TRELLIS_OPT_FLAG, "false", nullptr, "same as --lock-engine pthread"},
    {"env", nullptr, 0, TRELLIS_OPT_LIST, nullptr, "KEY=VALUE",
     "set an environment variable for the application (repeatable)"},
    {"pidfile", nullptr, 0, TRELLIS_OPT_STRING, nullptr, "FILE", "write the master's pid to FILE"},
    {"daemonize", nullptr, 'd', TRELLIS_OPT_STRING, nullptr, "LOGFILE", "run in the background, logging to LOGFILE"},
    {"logto", nullptr, 0, TRELLIS_OPT_STRING, nullptr, "FILE", "write the log to FILE instead of stderr"},
    {"log-level", nullptr, 0, TRELLIS_OPT_STRING, "info", "LEVEL",
     "trace, debug, info, warn, error, critical or off"},
    {"disable-logging", nullptr, 'L', TRELLIS_OPT_FLAG, "false", nullptr, "no request log lines"},
    {"log-format", "logformat", 0, TRELLIS_OPT_STRING, nullptr, "FORMAT",
     "request line with %(var) variables (uri, method, status, addr, host, proto, uagent, referer, size, rsize, "
     "msecs, micros, ms, pid, wid, reqs, time, ltime, var.NAME), or 'json' for one JSON object per line"},
    {"stats", "stats-server", 0, TRELLIS_OPT_STRING, nullptr, "ADDR",
     "serve the stats document (uWSGI's JSON layout) on ADDR (host:port or a UNIX socket path)"},
    {"stats-http", nullptr, 0, TRELLIS_OPT_FLAG, "false", nullptr,
     "the stats server speaks HTTP: / the JSON, /metrics Prometheus text, /ready readiness"},
    {"uid", nullptr, 0, TRELLIS_OPT_STRING, nullptr, "USER", "switch to this user after binding sockets"},
    {"gid", nullptr, 0, TRELLIS_OPT_STRING, nullptr, "GROUP", "switch to this group after binding sockets"},
};
}  // namespace

const std::vector<config::OptionDef>& core_options() {
  static const std::vector<config::OptionDef> defs =
      config::from_specs(kCoreOptions, sizeof kCoreOptions / sizeof kCoreOptions[0], "core");
  return defs;
}

}  // namespace trellis::core
